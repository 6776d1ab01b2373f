// Index rows (keyword → text or number) as DICOM JSON objects, for QIDO-RS answers.
import { jsonValuesOfText, type JsonDataset } from '../../dicom/json.js';
import { lookupTag, tagOfKeyword } from '../../dicom/dictionary.js';
import type { QueryRow } from '../../index/query/types.js';

const COMPUTED_VR: Readonly<Record<string, string>> = { ModalitiesInStudy: 'CS', SOPClassesInStudy: 'UI' };
const hex8 = (tag: number): string => tag.toString(16).toUpperCase().padStart(8, '0');

/** `returnKeys` in tag order; extra elements (RetrieveURL …) are merged by tag. */
export function rowToJson(row: QueryRow, returnKeys: readonly string[], extra: JsonDataset = {}): JsonDataset {
  const entries: [string, JsonDataset[string]][] = Object.entries(extra);
  for (const keyword of returnKeys) {
    const tag = tagOfKeyword(keyword);
    if (tag === undefined) continue;
    const vr = COMPUTED_VR[keyword] ?? lookupTag(tag)?.vr ?? 'UN';
    const v = row[keyword];
    if (v === null || v === undefined || v === '') entries.push([hex8(tag), { vr }]);
    else if (typeof v === 'number') entries.push([hex8(tag), { vr, Value: [v] }]);
    else {
      const values = jsonValuesOfText(vr, v);
      entries.push([hex8(tag), values.length ? { vr, Value: values } : { vr }]);
    }
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return Object.fromEntries(entries);
}
