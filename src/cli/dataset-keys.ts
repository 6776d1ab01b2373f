// -k keys of the workflow commands as DCMTK spells them, sequences included:
// "PatientID=P1", "0010,0020=P1", "ScheduledProcedureStepSequence[0].Modality=CT", or a key
// without "=" (a return key of zero length). Built into the DICOM JSON model.
import { lookupTag, parseTagSpec } from '../dicom/dictionary.js';
import type { JsonDataset, JsonElement } from '../dicom/json.js';
import { UsageError } from './args.js';

const hex8 = (tag: number): string => tag.toString(16).toUpperCase().padStart(8, '0');

function tagOf(name: string, spec: string): { key: string; vr: string } {
  const tag = parseTagSpec(name.trim());
  if (tag === undefined) throw new UsageError(`-k ${spec}: unknown attribute "${name}"`);
  return { key: hex8(tag), vr: lookupTag(tag)?.vr || 'LO' };
}

function leaf(vr: string, value: string | null): JsonElement {
  if (value === null || value === '') return { vr };
  const values = value.split('\\');
  return { vr, Value: vr === 'PN' ? values.map((v) => ({ Alphabetic: v })) : vr === 'US' || vr === 'UL' ? values.map(Number) : values };
}

/** Sets one -k key in `ds`: each "Name[i]." step walks into (or makes) item i of a sequence. */
export function setKey(ds: JsonDataset, spec: string): void {
  const eq = spec.indexOf('=');
  const path = eq < 0 ? spec : spec.slice(0, eq);
  const value = eq < 0 ? null : spec.slice(eq + 1);
  const steps = path.split('.');
  let at = ds;
  for (const step of steps.slice(0, -1)) {
    const m = /^(.+)\[(\d+)\]$/.exec(step);
    if (!m) throw new UsageError(`-k ${spec}: "${step}" must name a sequence item, as in ScheduledProcedureStepSequence[0]`);
    const { key, vr } = tagOf(m[1]!, spec);
    if (vr !== 'SQ') throw new UsageError(`-k ${spec}: ${m[1]} is not a sequence`);
    const seq = (at[key] ??= { vr: 'SQ', Value: [] });
    const items = (seq.Value ??= []) as JsonDataset[];
    const i = Number(m[2]);
    while (items.length <= i) items.push({});
    at = items[i]!;
  }
  const last = steps.at(-1)!;
  const item = /^(.+)\[(\d+)\]$/.exec(last);
  const { key, vr } = tagOf(item ? item[1]! : last, spec);
  if (vr === 'SQ') {
    // "Seq" alone: a return key for the whole sequence; "Seq[0]": one empty item.
    const seq = (at[key] ??= { vr: 'SQ' });
    if (item) {
      const items = (seq.Value ??= []) as JsonDataset[];
      while (items.length <= Number(item[2])) items.push({});
    }
    return;
  }
  at[key] = leaf(vr, value);
}

/** The first value of an element as text (a PN as its alphabetic group). */
export function text(ds: JsonDataset | undefined, key: string): string {
  const v = ds?.[key]?.Value?.[0];
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? ((v as { Alphabetic?: string }).Alphabetic ?? '') : String(v);
}

export function printTable(columns: readonly string[], rows: readonly Record<string, string>[], out: (s: string) => void): void {
  const width = columns.map((c) => Math.min(40, Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length))));
  const line = (cells: string[]): string => cells.map((c, i) => c.slice(0, 40).padEnd(width[i]!)).join('  ').trimEnd();
  out(`${line([...columns])}\n`);
  for (const r of rows) out(`${line(columns.map((c) => r[c] ?? ''))}\n`);
}
