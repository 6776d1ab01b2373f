// storage.naming templates: "{PatientID}/{StudyInstanceUID}/{InstanceNumber:05}.dcm".
// Parsed here once so that the config check and the storage layer agree on one grammar.
import { keywordLike, tagOfKeyword } from '../dicom/dictionary.js';
import { RECORD_KEYWORDS } from '../dicom/record-attributes.js';

/** One piece of a parsed template: literal text, or an attribute placeholder. */
export type NamingPart =
  | { kind: 'literal'; text: string }
  // pad: zero-pad to this width (from "{Keyword:0N}"), for numbers like InstanceNumber.
  | { kind: 'attribute'; keyword: string; pad?: number };

export type NamingResult = { ok: true; parts: NamingPart[] } | { ok: false; problem: string };

// DICOM keywords are UpperCamelCase letters and digits (PS3.6), e.g. SOPInstanceUID.
const KEYWORD = /^[A-Z][A-Za-z0-9]*$/;
const PAD = /^0([1-9][0-9]?)$/;

/**
 * Parses and checks a naming template; never throws. `recordOnly`: the names come from the index
 * record (storage.naming), so only the attributes it keeps may be placeholders.
 */
export function parseNamingTemplate(template: string, options: { recordOnly?: boolean } = {}): NamingResult {
  const parts: NamingPart[] = [];
  let rest = template;
  while (rest.length > 0) {
    const open = rest.indexOf('{');
    const close = rest.indexOf('}');
    if (close !== -1 && (open === -1 || close < open)) return fail(`unmatched "}" in template`);
    if (open === -1) {
      parts.push({ kind: 'literal', text: rest });
      break;
    }
    if (open > 0) parts.push({ kind: 'literal', text: rest.slice(0, open) });
    if (close === -1) return fail(`unmatched "{" in template`);
    const inner = rest.slice(open + 1, close);
    const [keyword = '', format, ...extra] = inner.split(':');
    if (!KEYWORD.test(keyword)) {
      return fail(`"{${inner}}" is not a DICOM keyword placeholder (letters and digits, e.g. {StudyInstanceUID})`);
    }
    // A keyword PS3.6 does not have ({PatientId}, {InstanceNum}) named nothing: every file went
    // under UNKNOWN, one subject's with all others'.
    if (tagOfKeyword(keyword) === undefined) {
      const like = keywordLike(keyword);
      const sender = ['CallingAE', 'CalledAE', 'RemoteAddress'].includes(keyword) ? ` (${keyword} is a rule's match key, not an attribute a file name is made of)` : '';
      return fail(`"{${keyword}}" is not a DICOM keyword of PS3.6${like ? ` (did you mean {${like}}?)` : sender}`);
    }
    // storage.naming: a keyword the index record does not keep named nothing either, every
    // file going under UNKNOWN. (Export templates read the whole stored dataset: any keyword.)
    if (options.recordOnly && !RECORD_KEYWORDS.has(keyword)) {
      return fail(`"{${keyword}}" is not an attribute the index keeps; a stored file's name can be made of: ${[...RECORD_KEYWORDS].join(', ')}`);
    }
    if (extra.length > 0 || (format !== undefined && !PAD.test(format))) {
      return fail(`"{${inner}}": the only format is a zero-padded width like {${keyword}:05}`);
    }
    const pad = format === undefined ? undefined : Number(format.slice(1));
    parts.push(pad === undefined ? { kind: 'attribute', keyword } : { kind: 'attribute', keyword, pad });
    rest = rest.slice(close + 1);
  }
  if (!parts.some((p) => p.kind === 'attribute')) {
    return fail('expected "hierarchical", "flat", or a template with at least one {Keyword} placeholder');
  }
  // The template names a path inside storage.directory; it must not climb out of it.
  if (template.startsWith('/') || template.startsWith('\\')) return fail('template must be a relative path');
  if (template.split(/[/\\]/).some((seg) => seg === '..')) return fail('template must not contain ".." segments');
  return { ok: true, parts };
}

const fail = (problem: string): NamingResult => ({ ok: false, problem });
