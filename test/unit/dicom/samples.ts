// Access to the shared sample corpus and to DCMTK's dcmdump, the reference the tests compare
// against. Tests run from the project root; DICOM_SAMPLES overrides the corpus location.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parsePart10Prefix } from '../../../src/dicom/part10.js';
import { DatasetStreamReader, type DatasetSummary } from '../../../src/dicom/reader.js';

export const SAMPLES_DIR = process.env.DICOM_SAMPLES ?? path.resolve('../shared/dicom-samples');
export const haveSamples = existsSync(path.join(SAMPLES_DIR, 'MANIFEST.tsv'));
export const haveDcmdump = spawnSync('dcmdump', ['--version']).status === 0;

export interface Sample {
  file: string;
  expected: 'accept' | 'reject';
  transferSyntax: string;
  size: number;
}

export const samplePath = (file: string): string => path.join(SAMPLES_DIR, file);
export const readSample = (file: string): Buffer => readFileSync(samplePath(file));

/** The rows of MANIFEST.tsv (empty when the corpus is absent). */
export const manifest = (): Sample[] => {
  if (!haveSamples) return [];
  const [header, ...rows] = readFileSync(path.join(SAMPLES_DIR, 'MANIFEST.tsv'), 'utf8').trim().split('\n');
  const cols = (header ?? '').split('\t');
  const col = (name: string): number => cols.indexOf(name);
  return rows.map((row) => {
    const f = row.split('\t');
    return {
      file: f[col('file')] ?? '',
      expected: f[col('expected')] === 'reject' ? 'reject' : 'accept',
      transferSyntax: f[col('transfer_syntax')] ?? '',
      size: Number(f[col('size_bytes')]),
    };
  });
};

/**
 * Top-level values of the given tags ("0008,0018") as dcmdump prints them, UIDs as numbers.
 * dcmdump's +P also finds tags inside sequences; the first hit of a tag is the top-level one
 * for the tags asked here, which precede every sequence that could hold them.
 */
export const dcmdumpValues = (file: string, tags: readonly string[]): Map<string, string> => {
  const args = ['-q', '-Un', ...tags.flatMap((t) => ['+P', t]), file];
  const r = spawnSync('dcmdump', args, { encoding: 'utf8' });
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^\(([0-9a-f]{4},[0-9a-f]{4})\) \w\w \[(.*?)\]/.exec(line);
    if (m && !out.has(m[1] ?? '')) out.set(m[1] ?? '', m[2] ?? '');
  }
  return out;
};

/** A sample through parsePart10Prefix and the reader, fed `chunk` bytes at a time (0: whole). */
export const readDataset = async (buf: Buffer, chunk: number, collect: ReadonlySet<number>): Promise<DatasetSummary> => {
  const prefix = parsePart10Prefix(buf, true);
  if (!prefix) throw new Error('parsePart10Prefix wants more bytes of a whole file');
  const reader = new DatasetStreamReader({ transferSyntaxUID: prefix.transferSyntaxUID, collect });
  const body = buf.subarray(prefix.datasetOffset);
  if (chunk <= 0) reader.push(body);
  else {
    // One reused buffer, as a socket reader would: the reader must copy what it keeps.
    const scratch = Buffer.alloc(chunk);
    for (let o = 0; o < body.length; o += chunk) {
      const n = body.copy(scratch, 0, o, o + chunk);
      reader.push(scratch.subarray(0, n));
      scratch.fill(0xee);
    }
  }
  return reader.end();
};
