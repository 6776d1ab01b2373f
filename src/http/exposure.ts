// Warnings logged when the web server starts, about settings that leave it open to others.
import type { HttpConfig } from '../config/schema.js';
import type { DicomwebServer } from '../config/dicomweb-schema.js';
import { anonymousRole } from './auth.js';
import { isLoopback } from '../core/addresses.js';
import { plainTextMessage, plainTextUsers } from '../core/passwords.js';

export interface StartWarning {
  fields: Record<string, unknown>;
  message: string;
}


export function httpStartWarnings(c: HttpConfig): StartWarning[] {
  const warnings: StartWarning[] = [];
  const anonymous = anonymousRole(c);
  // Nothing configured: administrator on this machine, refused from any other (auth.ts). Said, so
  // that a first request from a workstation being refused is not a mystery.
  if (c.anonymous_role === undefined && !c.users.length && !c.tokens.length && !isLoopback(c.host))
    warnings.push({
      fields: { host: c.host },
      message: `the web port listens on ${c.host}, but with no http.users, http.tokens or http.anonymous_role only requests from this machine are answered (as administrator): set users or tokens to let other machines log in, or http.anonymous_role (read, say) for requests without credentials`,
    });
  // Anyone who can reach the port may then store, send or delete without logging in.
  else if ((anonymous === 'write' || anonymous === 'admin') && !isLoopback(c.host))
    warnings.push({
      fields: { anonymousRole: anonymous, host: c.host },
      message: `the web port answers requests without credentials with the ${anonymous} role and listens on ${c.host}, not only on this machine: set http.users or http.tokens (anonymous_role then defaults to read), or http.anonymous_role, or bind http.host to 127.0.0.1`,
    });
  // Users and tokens set, anonymous read left as it is: anyone who reaches the port reads every
  // patient's images and reports without logging in.
  if (anonymous === 'read' && !isLoopback(c.host) && (c.users.length || c.tokens.length))
    warnings.push({
      fields: { anonymousRole: anonymous, host: c.host },
      message: `the web port lets requests without credentials read every study and listens on ${c.host}, not only on this machine: set http.anonymous_role: none unless that is meant (a reading room's open viewer)`,
    });
  // Accepted (compared in equal time), but anyone who reads the file or a backup can log in.
  const plain = plainTextUsers(c.users);
  if (plain.length) warnings.push({ fields: { users: plain }, message: plainTextMessage('http.users') });
  return warnings;
}

/**
 * dicomweb_servers reached over plain HTTP with credentials: a password (in base64) or a token
 * goes in the clear to anyone on the path — said at start, for each, unless the server is on
 * this machine.
 */
export function dicomwebCredentialWarnings(servers: readonly DicomwebServer[]): StartWarning[] {
  return servers
    .filter((s) => (s.username !== undefined || s.token !== undefined) && new URL(s.url).protocol === 'http:' && !isLoopback(new URL(s.url).hostname.replace(/^\[|\]$/g, '')))
    .map((s) => ({
      fields: { dicomwebServer: s.name, host: new URL(s.url).host },
      message: `dicomweb_servers ${s.name}: its credentials go over plain HTTP, readable on the way: use an https:// URL`,
    }));
}
