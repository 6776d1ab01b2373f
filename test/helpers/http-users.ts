// HTTP users of the role tests: one per role, and their Basic credentials.
export const ROLE_USERS = [
  { username: 'reader', password: 'r-secret', role: 'read' },
  { username: 'writer', password: 'w-secret', role: 'write' },
  { username: 'boss', password: 'b-secret', role: 'admin' },
] as const;

/** The Authorization header of HTTP Basic for a user name and password. */
export const basic = (u: string, p: string): { authorization: string } => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
