// Clickjacking: another site could show our pages (the study list with its Delete button, the
// viewer) in an invisible frame and trick a logged-in user into clicking. Only our own pages may
// frame them: CSP frame-ancestors for current browsers, X-Frame-Options for older ones.
export const FRAMING_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "frame-ancestors 'self'",
  'x-frame-options': 'SAMEORIGIN',
};

/** For @fastify/static's setHeaders, and for replies (reply.headers(FRAMING_HEADERS)). */
export function setFramingHeaders(res: { setHeader(name: string, value: string): unknown }): void {
  for (const [name, value] of Object.entries(FRAMING_HEADERS)) res.setHeader(name, value);
}
