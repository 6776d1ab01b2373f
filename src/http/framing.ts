// Clickjacking: another site could show our pages (the viewer, the API's page) in an invisible
// frame and trick a logged-in user into clicking. Only our own pages may frame them: CSP
// frame-ancestors for current browsers, X-Frame-Options for older ones. The web page itself is
// framed by none (ui.ts).
export const FRAMING_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "frame-ancestors 'self'",
  'x-frame-options': 'SAMEORIGIN',
};
