// File names inside the archive (storage.naming) and the template language shared with the
// export rules: {Keyword} or {Keyword:03} (zero-padded number), each path component made safe.
import { createHash } from 'node:crypto';

export type AttributeLookup = (keyword: string) => string | null | undefined;

/** Longest path component we write: well under the 255-byte limit of common filesystems. */
const MAX_COMPONENT = 120;

/**
 * Makes one path component safe on every common filesystem: no separators, no characters
 * Windows or SMB shares refuse, no control characters, no leading dots ('.', '..', hidden),
 * no trailing dots/spaces, bounded length (cut on a character boundary).
 */
export function safeComponent(raw: string, fallback = 'UNKNOWN'): string {
  let s = raw
    .normalize('NFC')
    // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .replace(/[/\\:*?"<>|]/g, '_')
    .replace(/\^+/g, '_') // person-name component separators read better as underscores
    .replace(/\s+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^[._]+/, '')
    .replace(/[._ ]+$/, '');
  if (Buffer.byteLength(s) > MAX_COMPONENT) {
    // Whole code points only (a UTF-16 cut could split a surrogate pair), then no trailing dot again.
    let cut = '';
    let bytes = 0;
    for (const ch of s) {
      bytes += Buffer.byteLength(ch);
      if (bytes > MAX_COMPONENT) break;
      cut += ch;
    }
    s = cut.replace(/[._ ]+$/, '');
  }
  return s || fallback;
}

const PLACEHOLDER = /\{([A-Za-z][A-Za-z0-9]*)(?::(0?)(\d+))?\}/g;

/** Fills a template; each '/'-separated component is made safe after substitution. */
export function fillTemplate(template: string, lookup: AttributeLookup): string {
  return template
    .split('/')
    .filter((c) => c.length > 0)
    .map((component) => {
      let leadingEmpty = false;
      const filled = component.replace(PLACEHOLDER, (_m, keyword: string, zero: string, width: string, offset: number) => {
        const v = (lookup(keyword) ?? '').trim();
        if (offset === 0 && v === '') leadingEmpty = true;
        if (!width) return v;
        const n = Number.parseInt(v, 10);
        return Number.isFinite(n) ? String(n).padStart(Number(width), zero === '0' ? '0' : ' ') : v;
      });
      // "{InstanceNumber}.dcm" with no value would become "dcm" once the leading dot goes.
      return safeComponent(leadingEmpty && filled.startsWith('.') ? `UNKNOWN${filled}` : filled);
    })
    .join('/');
}

export const HIERARCHICAL_TEMPLATE = '{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm';

/**
 * The relative path of an instance for a storage.naming value: 'hierarchical' (patient /
 * study / series / instance), 'flat' (two levels of hashed directories, then the SOP Instance
 * UID: even spread, no huge directories) or a template.
 */
export function instancePath(naming: string, lookup: AttributeLookup): string {
  if (naming === 'flat') {
    const uid = lookup('SOPInstanceUID') ?? '';
    const h = createHash('sha1').update(uid).digest('hex');
    return `${h.slice(0, 2)}/${h.slice(2, 4)}/${safeComponent(uid)}.dcm`;
  }
  return fillTemplate(naming === 'hierarchical' ? HIERARCHICAL_TEMPLATE : naming, lookup);
}

/** The n-th alternative name for a path taken by another instance: 'a/b.dcm' → 'a/b~2.dcm'. */
export function alternativePath(p: string, n: number): string {
  const dot = p.lastIndexOf('.');
  const slash = p.lastIndexOf('/');
  return dot > slash ? `${p.slice(0, dot)}~${n}${p.slice(dot)}` : `${p}~${n}`;
}
