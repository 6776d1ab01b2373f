// Reading a multipart/related answer in tests: its parts, with their header text.
export function parts(body: Buffer, contentType: string): { headers: string; body: Buffer }[] {
  const boundary = /boundary=([^;\s]+)/.exec(contentType)![1]!;
  const out: { headers: string; body: Buffer }[] = [];
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const start = pos + delim.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const headEnd = body.indexOf('\r\n\r\n', start);
    const next = body.indexOf(delim, headEnd);
    out.push({ headers: body.subarray(start + 2, headEnd).toString(), body: body.subarray(headEnd + 4, next - 2) });
    pos = next;
  }
  return out;
}
