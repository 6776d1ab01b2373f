// Any attribute of a stored instance by keyword, for the research rules, export templates and
// run-command details: read from the instance's DICOM JSON (the WADO-RS metadata cache, so a
// file is parsed once), plus where it came from (CallingAE, CalledAE, RemoteAddress).
import { lookupTag, tagOfKeyword } from '../dicom/dictionary.js';
import type { JsonDataset } from '../dicom/json.js';
import { jsonElementText } from '../dicom/json-encode.js';
import type { InstanceLocation } from '../index/types.js';
import type { AttributeLookup } from '../storage/naming.js';
import type { MetadataService } from './metadata.js';

export interface SourceOf {
  callingAE: string | null;
  calledAE: string | null;
  remoteAddress: string | null;
}

export interface Attributes {
  /** Text of the attribute (values joined by backslashes), or null when absent or empty. */
  get: AttributeLookup;
  /** The attribute's VR ('AE' for the provenance keys), for range matching. */
  vr(keyword: string): string;
  dataset: JsonDataset;
}

const hex8 = (tag: number): string => tag.toString(16).toUpperCase().padStart(8, '0');

export function attributesOf(dataset: JsonDataset, source: SourceOf | null): Attributes {
  return {
    dataset,
    get(keyword) {
      if (keyword === 'CallingAE') return source?.callingAE ?? null;
      if (keyword === 'CalledAE') return source?.calledAE ?? null;
      if (keyword === 'RemoteAddress') return source?.remoteAddress ?? null;
      const tag = tagOfKeyword(keyword);
      if (tag === undefined) return null;
      const text = jsonElementText(dataset[hex8(tag)]).trim();
      return text === '' ? null : text;
    },
    vr(keyword) {
      const tag = tagOfKeyword(keyword);
      return tag === undefined ? 'AE' : (lookupTag(tag)?.vr ?? 'UN');
    },
  };
}

/** Reads an instance's attributes (its metadata made and cached on first use). */
export async function readAttributes(metadata: MetadataService, loc: InstanceLocation, source: SourceOf | null = null): Promise<Attributes> {
  const meta = await metadata.get(loc);
  return attributesOf(JSON.parse(meta.text) as JsonDataset, source);
}
