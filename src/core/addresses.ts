// Addresses of peers: which only this machine can connect from or to (the loopback interface),
// and one address however the socket wrote it.
import { isIP } from 'node:net';

/** Only this machine can connect to (or from) an address of the loopback interface. */
export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.')) || /^::ffff:127\./i.test(host);

/**
 * A peer's address as the configuration names it: an IPv4 peer of a dual-stack socket
 * (::ffff:192.0.2.7) as 192.0.2.7, so it is one address whichever way it came.
 */
export function peerAddress(address: string | undefined): string {
  if (!address) return '?';
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address;
}
