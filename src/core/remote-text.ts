// Text that another server wrote (an HTTP problem detail, a Failure Reason comment) ends up in
// job errors, progress messages and log lines. There it is cut short and kept to one line of
// visible characters: an answer may be megabytes long, and a line break or an escape sequence
// would forge log lines or act on the terminal of whoever reads them.

/** How many characters of another server's text a message keeps. */
export const REMOTE_TEXT_MAX = 200;

// C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidirectional
// controls (which can make a line read otherwise than it is).
// eslint-disable-next-line no-control-regex -- finding the control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const BREAKS = /[\t\n\v\f\r]+/g;

/** `text` on one line, its other control characters written as \uXXXX, at most `max` characters (cut ones end in "..."). */
export function remoteText(text: string, max = REMOTE_TEXT_MAX): string {
  // Enough to fill `max` once spaces are collapsed; the rest (megabytes, perhaps) is not looked at.
  const head = text.slice(0, max * 4);
  let out = head
    .replace(BREAKS, ' ')
    .replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/ {2,}/g, ' ')
    .trim();
  if (out.length <= max && head.length === text.length) return out;
  out = out.slice(0, max - 3);
  // Not half of a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(out)) out = out.slice(0, -1);
  return `${out.trimEnd()}...`;
}
