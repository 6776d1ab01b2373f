// pacs export: the research export by hand. Picks stored instances by patient, study or any
// C-FIND style keys (matched by the index exactly as C-FIND matches them), names them with a
// template and places them as copies or links; --dry-run prints the names without writing.
import fs from 'node:fs/promises';
import path from 'node:path';
import { openExistingArchive, toolConfig } from './open-archive.js';
import { DEFAULT_EXPORT_TEMPLATE, DEFAULT_DEIDENTIFIED_EXPORT_TEMPLATE, EXPORT_MODES, type ExportMode, defaultExportTemplate } from '../config/rules-schema.js';
import { parseNamingTemplate } from '../config/naming.js';
import { parseTagSpec, lookupTag } from '../dicom/dictionary.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import type { IndexQuery, QueryKey } from '../index/query/types.js';
import { planQuery } from '../index/query/plan.js';
import { exportInstances } from '../services/export-job.js';
import { syncDirectory } from '../services/export.js';
import { ARCHIVE_OPTIONS, type OptionSpec, UsageError, atMost, flag, helpFor, opt, parseArgs } from './args.js';
import { progress } from './progress.js';
import { deidentifyOptions, DEIDENTIFY_OPTIONS } from './deidentify-options.js';
import { Deidentifier } from '../services/deidentify.js';
import { DryRunDeidStore } from '../services/deid-dry-run.js';

const SPECS: readonly OptionSpec[] = [
  ...ARCHIVE_OPTIONS,
  { names: ['--patient'], arg: 'ID', description: 'every instance of this Patient ID' },
  { names: ['--study'], arg: 'UID', description: 'every instance of this Study Instance UID' },
  { names: ['-k', '--key'], arg: 'KEY=VALUE', repeatable: true, description: 'match as C-FIND does: StudyDate=20260101-, PatientName=DOE*, Modality=MR' },
  { names: ['--to'], arg: 'DIR', description: 'the folder to export into (required)' },
  { names: ['--template'], arg: 'TEMPLATE', description: `file names (default ${DEFAULT_EXPORT_TEMPLATE}; with --deidentify ${DEFAULT_DEIDENTIFIED_EXPORT_TEMPLATE})` },
  { names: ['--mode'], arg: 'MODE', description: 'copy (default), hardlink or symlink' },
  { names: ['--dry-run', '-n'], description: 'print what would be written, write nothing' },
  ...DEIDENTIFY_OPTIONS,
];
export const exportHelp = helpFor('usage: pacs export [--config FILE] (--patient ID | --study UID | -k KEY=VALUE...) --to DIR [--template T] [--mode M] [--dry-run] [--deidentify]', SPECS);

/** The matching keys: --patient and --study are shorthands for -k PatientID= / StudyInstanceUID=. */
function matchKeys(p: ReturnType<typeof parseArgs>): QueryKey[] {
  const keys: QueryKey[] = [];
  const patient = opt(p, '--patient');
  const study = opt(p, '--study');
  if (patient !== undefined) keys.push({ keyword: 'PatientID', value: patient });
  if (study !== undefined) keys.push({ keyword: 'StudyInstanceUID', value: study });
  for (const spec of p.options.get('-k') ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`-k ${spec}: expected KEY=VALUE`);
    const tag = parseTagSpec(spec.slice(0, eq).trim());
    const keyword = tag === undefined ? undefined : lookupTag(tag)?.keyword;
    if (!keyword) throw new UsageError(`-k ${spec}: unknown attribute "${spec.slice(0, eq)}"`);
    keys.push({ keyword, value: spec.slice(eq + 1) });
  }
  // Universal matching on everything would export the whole archive: ask for that explicitly.
  if (!keys.some((k) => k.value !== '')) throw new UsageError('say what to export: --patient ID, --study UID or -k KEY=VALUE (-k PatientID=* for everything)');
  return keys;
}

/** The query selecting the instances the keys match at any level (relational, IMAGE level, Patient Root, as C-FIND would run it). */
const selection = (keys: QueryKey[]): IndexQuery => ({ level: 'IMAGE', model: 'PATIENT_ROOT', keys: [...keys, { keyword: 'SOPInstanceUID', value: '' }], relational: true });

/**
 * Keys the index cannot match (attributes it does not hold) would be left out of the selection,
 * not narrow it: `-k SequenceName=…` exported every instance of the archive into a lab's folder.
 * Refused, naming them (a C-FIND answers such keys with 0xFF01; an export must not guess).
 */
function checkMatchable(keys: QueryKey[]): void {
  let ignored: readonly string[];
  try {
    ignored = planQuery(selection(keys)).ignored;
  } catch (e) {
    throw new UsageError(`-k: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (ignored.length)
    throw new UsageError(`-k ${ignored.join(', ')}: the index does not hold ${ignored.length > 1 ? 'these attributes' : 'this attribute'}, so it cannot select what to export (a rule's match can read any attribute of the files)`);
}

async function selectByKeys(index: ArchiveIndex, keys: QueryKey[]): Promise<InstanceLocation[]> {
  const rows = await index.query(selection(keys));
  return index.findInstances(rows.map((r) => String(r.SOPInstanceUID)));
}

export async function exportCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, SPECS);
  atMost(p, 'export', 0);
  const to = opt(p, '--to');
  if (!to) throw new UsageError('--to DIR is required');
  const mode = (opt(p, '--mode') ?? 'copy') as ExportMode;
  if (!EXPORT_MODES.includes(mode)) throw new UsageError(`--mode: expected ${EXPORT_MODES.join(', ')}, got "${mode}"`);
  const keys = matchKeys(p);
  checkMatchable(keys);
  const dryRun = flag(p, '--dry-run');
  const config = toolConfig(p);
  const deid = deidentifyOptions(p, config);
  const template = opt(p, '--template') ?? defaultExportTemplate(deid !== null);
  const parsed = parseNamingTemplate(template);
  if (!parsed.ok) throw new UsageError(`--template: ${parsed.problem}`);
  if (deid && mode !== 'copy') throw new UsageError('--deidentify writes new files: use --mode copy');
  const archive = await openExistingArchive(config);
  try {
    const instances = await selectByKeys(archive.index, keys);
    if (!instances.length) {
      process.stderr.write('pacs export: nothing stored matches\n');
      return 1;
    }
    const target = { to: path.resolve(to), template, mode };
    // Asked for at the command line, the folder is made when missing (a rule's never is: a share
    // not mounted must not be replaced by a local folder, export-job.ts); its name synced.
    if (!dryRun) {
      const first = await fs.mkdir(target.to, { recursive: true });
      if (first !== undefined) await syncDirectory(path.dirname(first));
    }
    const bar = dryRun ? { tick: () => {}, stop: () => {} } : progress(instances.length, 'export');
    // A dry run records nothing, not even a pseudonym or the archive's secret (deid-dry-run.ts).
    const deidStore = dryRun ? new DryRunDeidStore(archive.index.deid) : archive.index.deid;
    let refusedSoFar = 0;
    let failedSoFar = 0;
    const counts = await exportInstances(archive, instances, target, {
      dryRun,
      ...(deid ? { deidentify: new Deidentifier(deidStore, archive.objects, deid) } : {}),
      onInstance: (loc, dest, c) => {
        const refused = c.refused > refusedSoFar;
        const failed = c.failed > failedSoFar;
        refusedSoFar = c.refused;
        failedSoFar = c.failed;
        if (dryRun)
          process.stdout.write(
            refused ? `  REFUSED ${loc.SOPInstanceUID} (burned-in annotation)\n` : failed ? `  CANNOT PLACE ${dest ?? loc.SOPInstanceUID}\n` : dest ? `${dest}\n` : `  CANNOT NAME ${loc.SOPInstanceUID}\n`,
          );
        bar.tick();
      },
    });
    bar.stop();
    const what = dryRun ? `${counts.written} would be written, ${counts.present} already there` : `${counts.written} written, ${counts.present} already there`;
    const refused = counts.refused ? `, ${counts.refused} refused (burned-in annotation)` : '';
    process.stdout.write(`Exported ${counts.total} instances${deid ? ' (de-identified)' : ''} to ${target.to}: ${what}, ${counts.failed} failed${refused}\n`);
    for (const f of counts.flagged.listed) process.stdout.write(`  FLAGGED ${f}\n`);
    if (counts.flagged.count > counts.flagged.listed.length) process.stdout.write(`  FLAGGED … ${counts.flagged.count - counts.flagged.listed.length} more\n`);
    if (counts.firstError) process.stdout.write(`  ${counts.failed ? 'FAILED' : 'REFUSED'} ${counts.firstError}\n`);
    if (deidStore instanceof DryRunDeidStore && deidStore.madeUpSecret)
      process.stdout.write('  NOTE nothing was de-identified in this archive yet: its secret is made on the first real run, so the new UIDs and pseudonyms above are examples, not the ones it will write\n');
    return counts.failed || counts.refused ? 1 : 0;
  } finally {
    await archive.close();
  }
}
