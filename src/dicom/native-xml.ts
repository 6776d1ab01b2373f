// The Native DICOM Model (PS3.19 A.1) of a DICOM JSON dataset (PS3.18 F.2): the XML form of
// QIDO-RS answers, WADO-RS metadata and STOW-RS responses, for clients that ask for
// application/dicom+xml. Made from the JSON model we already build, so both say the same.
import type { JsonDataset, JsonElement, JsonValue, PersonNameJson } from './json.js';
import { lookupTag } from './dictionary.js';

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NAMESPACE = 'http://dicom.nema.org/PS3.19/models/NativeDICOM';

/** PS3.19 A.1.1: the five components of a person name group, in order. */
const PN_COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'] as const;
const PN_GROUPS = ['Alphabetic', 'Ideographic', 'Phonetic'] as const;

/**
 * Text content escaped; characters XML 1.0 cannot carry at all (C0 controls other than tab, LF,
 * CR; lone surrogates; U+FFFE/FFFF) become U+FFFD, as no escape exists for them. CR goes as a
 * character reference: a parser turns a raw CR or CRLF into LF, and report text would change.
 */
export function xmlEscape(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- finding the control characters is the point
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')
      .replace(/[&<>"\r]/g, (c) => ESCAPES[c]!)
  );
}

/** An attribute value: also tab and LF as references, which a parser would turn into spaces. */
const xmlAttribute = (text: string): string => xmlEscape(text).replace(/[\t\n]/g, (c) => (c === '\t' ? '&#9;' : '&#10;'));

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\r': '&#13;' };

function personName(pn: PersonNameJson, number: number, out: string[]): void {
  out.push(`<PersonName number="${number}">`);
  for (const group of PN_GROUPS) {
    const text = pn[group];
    if (text === undefined) continue;
    out.push(`<${group}>`);
    // More than five components is not a valid PN: what is beyond the fourth goes as the suffix.
    const parts = text.split('^');
    const components = parts.length > 5 ? [...parts.slice(0, 4), parts.slice(4).join('^')] : parts;
    components.forEach((value, i) => {
      if (value) out.push(`<${PN_COMPONENTS[i]!}>${xmlEscape(value)}</${PN_COMPONENTS[i]!}>`);
    });
    out.push(`</${group}>`);
  }
  out.push('</PersonName>');
}

/**
 * The Private Creator of a private data element (PS3.5 7.8.1): gggg,00bb for an element
 * gggg,bbxx, found at the same level of the dataset. Undefined for standard and creator elements.
 */
function privateCreator(tag: string, ds: JsonDataset): string | undefined {
  const group = parseInt(tag.slice(0, 4), 16);
  const element = parseInt(tag.slice(4), 16);
  if (!(group & 1) || element < 0x1000) return undefined;
  const creator = ds[`${tag.slice(0, 4)}00${tag.slice(4, 6)}`.toUpperCase()]?.Value?.[0];
  return typeof creator === 'string' ? creator : undefined;
}

function attribute(tag: string, el: JsonElement, ds: JsonDataset, out: string[]): void {
  const info = /^[0-9A-F]{8}$/i.test(tag) ? lookupTag(parseInt(tag, 16)) : undefined;
  const creator = privateCreator(tag, ds);
  const named = creator !== undefined ? ` privateCreator="${xmlAttribute(creator)}"` : info?.keyword && !(parseInt(tag.slice(0, 4), 16) & 1) ? ` keyword="${info.keyword}"` : '';
  // With its Private Creator named, a private element's tag leaves out the block (gggg,bbee →
  // gggg00ee), as DCMTK's dcm2xml writes it: the creator, not the block, says whose it is.
  const shown = creator !== undefined ? `${tag.slice(0, 4)}00${tag.slice(6)}` : tag;
  out.push(`<DicomAttribute tag="${shown.toUpperCase()}" vr="${xmlAttribute(el.vr)}"${named}>`);
  if (el.BulkDataURI !== undefined) out.push(`<BulkData uri="${xmlAttribute(el.BulkDataURI)}"/>`);
  else if (el.InlineBinary !== undefined) out.push(`<InlineBinary>${el.InlineBinary}</InlineBinary>`);
  else
    (el.Value ?? []).forEach((v: JsonValue, i) => {
      const n = i + 1;
      if (el.vr === 'SQ') {
        out.push(`<Item number="${n}">`);
        if (v !== null && typeof v === 'object') dataset(v as JsonDataset, out);
        out.push('</Item>');
      } else if (el.vr === 'PN') {
        if (v !== null && typeof v === 'object') personName(v as PersonNameJson, n, out);
        else out.push(`<PersonName number="${n}"/>`);
      } else if (v === null) out.push(`<Value number="${n}"/>`);
      else out.push(`<Value number="${n}">${xmlEscape(String(v))}</Value>`);
    });
  out.push('</DicomAttribute>');
}

function dataset(ds: JsonDataset, out: string[]): void {
  // PS3.19 A.1.2: attributes in ascending tag order, as in a dataset.
  for (const tag of Object.keys(ds).sort()) attribute(tag, ds[tag]!, ds, out);
}

/** One NativeDicomModel document. */
export function nativeDicomModel(ds: JsonDataset): string {
  const out: string[] = [XML_HEAD, `<NativeDicomModel xmlns="${NAMESPACE}" xml:space="preserve">`];
  dataset(ds, out);
  out.push('</NativeDicomModel>\n');
  return out.join('');
}
