// Reads Native DICOM Model documents (PS3.19 A.1) back into a plain form for comparisons: each
// attribute's VR and values as text (person names as their "^"-joined groups, items nested).
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XmlAttribute {
  vr: string;
  keyword?: string;
  privateCreator?: string;
  values: (string | Record<string, XmlAttribute>)[];
  bulkDataURI?: string;
  inlineBinary?: string;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  htmlEntities: true, // character references (&#13;) too
  isArray: (name) => ['DicomAttribute', 'Value', 'Item', 'PersonName'].includes(name),
});

type Node = Record<string, unknown>;
const text = (n: unknown): string => (typeof n === 'string' ? n : typeof n === 'object' && n !== null ? String((n as Node)['#text'] ?? '') : '');
const COMPONENTS = ['FamilyName', 'GivenName', 'MiddleName', 'NamePrefix', 'NameSuffix'];

function personName(pn: Node): string {
  const group = (g: unknown): string => {
    if (typeof g !== 'object' || g === null) return '';
    return COMPONENTS.map((c) => text((g as Node)[c])).join('^').replace(/\^+$/, '');
  };
  const groups = ['Alphabetic', 'Ideographic', 'Phonetic'].map((g) => group(pn[g]));
  return groups.join('=').replace(/=+$/, '');
}

function dataset(node: Node): Record<string, XmlAttribute> {
  const out: Record<string, XmlAttribute> = {};
  for (const a of (node.DicomAttribute as Node[] | undefined) ?? []) {
    const attr: XmlAttribute = { vr: String(a['@vr']), values: [] };
    if (a['@keyword'] !== undefined) attr.keyword = String(a['@keyword']);
    if (a['@privateCreator'] !== undefined) attr.privateCreator = String(a['@privateCreator']);
    if (a.BulkData !== undefined) attr.bulkDataURI = String((a.BulkData as Node)['@uri']);
    if (a.InlineBinary !== undefined) attr.inlineBinary = text(a.InlineBinary);
    for (const v of (a.Value as unknown[] | undefined) ?? []) attr.values.push(text(v));
    for (const p of (a.PersonName as Node[] | undefined) ?? []) attr.values.push(personName(p));
    for (const i of (a.Item as Node[] | undefined) ?? []) attr.values.push(dataset(typeof i === 'object' && i !== null ? i : {}));
    // A private element is named by its creator and gggg00ee: keyed "creator:gggg00ee" here.
    out[attr.privateCreator !== undefined ? `${attr.privateCreator}:${String(a['@tag'])}` : String(a['@tag'])] = attr;
  }
  return out;
}

/** The attributes of one document, by tag (private ones by creator and tag); throws when it is not well-formed XML or not a NativeDicomModel. */
export function readNativeXml(xml: string): Record<string, XmlAttribute> {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new Error(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  const doc = parser.parse(xml) as Node;
  const root = doc.NativeDicomModel;
  if (root === undefined) throw new Error('no NativeDicomModel element');
  return dataset(typeof root === 'object' && root !== null ? (root as Node) : {});
}
