// Which addresses only this machine can connect from or to: the loopback interface.
import { isIP } from 'node:net';

/** Only this machine can connect to (or from) an address of the loopback interface. */
export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.')) || /^::ffff:127\./i.test(host);
