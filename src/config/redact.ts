// What must never be printed from a configuration: passwords and tokens, and the credentials
// a URL may carry (user-info, a `password` parameter as node-pg and libpq take). Shared by the
// problem lines of a refused configuration and by the copies shown on /status and by
// `pacs config check`.

/** Keys whose values are secrets wherever they appear (http.users[].password, dicomweb_servers[].token…). */
export const isSecretKey = (key: PropertyKey): boolean => typeof key === 'string' && /password|token|secret/i.test(key);

/** A URL with its user-info password and `password` parameter masked; any other text unchanged. */
export function redactUrl(url: string): string {
  // One that does not parse (a mistyped port) is the one a config message prints: masked by
  // hand, the text between "user:" and the last "@" of the authority, and a password= value.
  if (!URL.canParse(url)) return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#:@]*:)[^/?#]*@/i, '$1****@').replace(/([?&]password=)[^&#]*/gi, '$1****');
  const parsed = new URL(url);
  const inQuery = parsed.searchParams.has('password');
  if (parsed.password === '' && !inQuery) return url;
  if (parsed.password !== '') parsed.password = '****';
  if (inQuery) parsed.searchParams.set('password', '****');
  return parsed.toString();
}
