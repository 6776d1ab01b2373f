// DCMTK's findscu -W as a test client: each answer extracted to a file (-X) and read back into
// the DICOM JSON model, so a test can look into sequences.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parsePart10Prefix } from '../../src/dicom/part10.js';
import type { JsonDataset } from '../../src/dicom/json.js';
import { decodeJsonDataset } from '../../src/dicom/json-encode.js';
import { run } from './dcmtk.js';

export interface WorklistAnswers {
  answers: JsonDataset[];
  /** findscu's own words for the final status ("Success", ...). */
  final: string;
  out: string;
  /** The Specific Character Set of each answer, as received. */
  charsets: (string | null)[];
}

export async function findscuWorklist(port: number, keys: string[], extra: string[] = [], calledAE = 'PACS_SERVER'): Promise<WorklistAnswers> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'findscu-'));
  try {
    const args = ['-v', '-W', '-X', '-od', dir, '-aec', calledAE, ...extra, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(port)];
    const r = await run('findscu', args);
    const out = r.stdout + r.stderr;
    const files = fs.readdirSync(dir).filter((f) => /^rsp\d+\.dcm$/.test(f)).sort();
    const answers: JsonDataset[] = [];
    const charsets: (string | null)[] = [];
    for (const f of files) {
      const bytes = fs.readFileSync(path.join(dir, f));
      const prefix = parsePart10Prefix(bytes, true)!;
      const data = bytes.subarray(prefix.datasetOffset);
      const decoded = await decodeJsonDataset(data, prefix.transferSyntaxUID);
      charsets.push(decoded.specificCharacterSet);
      answers.push(decoded.dataset);
    }
    const final = /Received Final Find Response \(([^)]*)\)/.exec(out)?.[1] ?? '';
    return { answers, final, out, charsets };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The first value of an element as text (PN: its alphabetic group). */
export function value(ds: JsonDataset | undefined, key: string): string | null {
  const v = ds?.[key]?.Value?.[0];
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') return (v as { Alphabetic?: string }).Alphabetic ?? null;
  return String(v);
}

/** The first item of a sequence. */
export const item = (ds: JsonDataset | undefined, key: string): JsonDataset | undefined => ds?.[key]?.Value?.[0] as JsonDataset | undefined;
