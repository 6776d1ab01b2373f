// Warnings logged when the web server starts, about settings that leave it open to others.
import { isIP } from 'node:net';
import type { HttpConfig } from '../config/schema.js';
import { anonymousRole } from './auth.js';
import { plainTextMessage, plainTextUsers } from '../core/passwords.js';

export interface StartWarning {
  fields: Record<string, unknown>;
  message: string;
}

/** Only this machine can connect to an address of the loopback interface. */
export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.')) || /^::ffff:127\./i.test(host);

export function httpStartWarnings(c: HttpConfig): StartWarning[] {
  const warnings: StartWarning[] = [];
  const anonymous = anonymousRole(c);
  // Anyone who can reach the port may then store, send or delete without logging in.
  if ((anonymous === 'write' || anonymous === 'admin') && !isLoopback(c.host))
    warnings.push({
      fields: { anonymousRole: anonymous, host: c.host },
      message: `the web port answers requests without credentials with the ${anonymous} role and listens on ${c.host}, not only on this machine: set http.users or http.tokens (anonymous_role then defaults to read), or http.anonymous_role, or bind http.host to 127.0.0.1`,
    });
  // Accepted (compared in equal time), but anyone who reads the file or a backup can log in.
  const plain = plainTextUsers(c.users);
  if (plain.length) warnings.push({ fields: { users: plain }, message: plainTextMessage('http.users') });
  return warnings;
}
