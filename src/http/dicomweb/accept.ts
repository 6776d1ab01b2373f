// Accept header negotiation for WADO-RS (PS3.18 8.7): media ranges with their parameters,
// in the client's order of preference (q), matched against what a resource can be sent as.

export interface MediaRange {
  type: string; // e.g. multipart/related, application/dicom, */*
  params: Record<string, string>;
  q: number;
}

/** Splits on a separator outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header || !header.trim()) return [{ type: '*/*', params: {}, q: 1 }];
  const ranges = splitOutsideQuotes(header, ',').map((part, i) => {
    const [type = '', ...rest] = splitOutsideQuotes(part, ';').map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    }
    // RFC 9110 12.4.2: a weight from 0 to 1. One that is no number is taken as absent (1), not as
    // 0 (which refused the type: a 406 for a typo), and one above 1 as 1 (not ahead of the rest).
    const q = params.q === undefined || params.q.trim() === '' ? 1 : Number(params.q);
    delete params.q;
    return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 1, order: i };
  });
  return ranges
    .filter((r) => r.q > 0 && r.type)
    .sort((a, b) => b.q - a.q || a.order - b.order)
    .map(({ type, params, q }) => ({ type, params, q }));
}

export const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';

/** How instances are to be sent: a multipart/related of application/dicom parts, or one bare part. */
export interface DicomRendition {
  multipart: boolean;
  /** A transfer syntax UID, or '*' for as stored. */
  transferSyntax: string;
}

/**
 * The acceptable renditions of DICOM instances, in the client's order of preference. Without a
 * transfer-syntax parameter the default is Explicit VR Little Endian (PS3.18 8.7.3.5.2); `*`
 * means as stored. Each instance goes in the first of them it can be sent in. `allowSinglePart`:
 * the resource is one instance, which application/dicom may name.
 */
export function dicomRenditions(ranges: MediaRange[], allowSinglePart: boolean): DicomRendition[] {
  const out: DicomRendition[] = [];
  for (const r of ranges) {
    const ts = r.params['transfer-syntax'] ?? EXPLICIT_VR_LE;
    if (r.type === 'multipart/related' && (r.params.type ?? 'application/dicom').toLowerCase() === 'application/dicom') out.push({ multipart: true, transferSyntax: ts });
    // A single-part type names one instance: for a study or series it is ignored (PS3.18 10.4.4),
    // and 406 when nothing else is left.
    else if (r.type === 'application/dicom') {
      if (allowSinglePart) out.push({ multipart: false, transferSyntax: ts });
    }
    else if (r.type === '*/*' || r.type === 'multipart/*') out.push({ multipart: true, transferSyntax: ts });
  }
  return out;
}

/** The first acceptable rendition of DICOM instances (see dicomRenditions). */
export function dicomRendition(ranges: MediaRange[], allowSinglePart: boolean): DicomRendition | null {
  return dicomRenditions(ranges, allowSinglePart)[0] ?? null;
}

/** How bulk data / frames may go (application/octet-stream, bare or in a multipart), in the client's order of preference. */
export function octetRenditions(ranges: MediaRange[]): { multipart: boolean; transferSyntax: string }[] {
  const out: { multipart: boolean; transferSyntax: string }[] = [];
  for (const r of ranges) {
    const ts = r.params['transfer-syntax'] ?? EXPLICIT_VR_LE;
    if (r.type === 'multipart/related' && (r.params.type ?? 'application/octet-stream').toLowerCase() === 'application/octet-stream') out.push({ multipart: true, transferSyntax: ts });
    else if (r.type === 'application/octet-stream') out.push({ multipart: false, transferSyntax: ts });
    else if (r.type === '*/*') out.push({ multipart: true, transferSyntax: ts });
  }
  return out;
}

/** The first of octetRenditions. */
export function octetRendition(ranges: MediaRange[]): { multipart: boolean; transferSyntax: string } | null {
  return octetRenditions(ranges)[0] ?? null;
}

/** How datasets are answered: DICOM JSON model, or Native DICOM Model XML (PS3.19). */
export type ModelFormat = 'json' | 'xml';

/**
 * The format of QIDO-RS answers, WADO-RS metadata (`xml` as multipart/related of
 * application/dicom+xml documents, one per dataset) (`multipart`) or a STOW-RS response (`single`: one bare
 * application/dicom+xml document), in the client's order of preference; JSON for
 * application/json and wildcards. Null: nothing the client accepts.
 */
export function modelFormat(ranges: MediaRange[], shape: 'multipart' | 'single'): ModelFormat | null {
  for (const r of ranges) {
    if (r.type === 'application/dicom+json' || r.type === 'application/json' || r.type === 'application/*' || r.type === '*/*') return 'json';
    if (shape === 'multipart' && r.type === 'multipart/related' && (r.params.type ?? '').toLowerCase() === 'application/dicom+xml') return 'xml';
    if (shape === 'single' && (r.type === 'application/dicom+xml' || r.type === 'application/xml')) return 'xml';
  }
  return null;
}

/** The media types a request may be answered in: the `accept` query parameter (PS3.18 8.3.3.1) before the Accept header. */
export function requestedTypes(req: { headers: { accept?: string | undefined }; query: unknown }): MediaRange[] {
  const q = (req.query as Record<string, unknown> | undefined)?.accept;
  return parseAccept(typeof q === 'string' && q.trim() ? q : req.headers.accept);
}
