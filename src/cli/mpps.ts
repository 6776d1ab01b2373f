// pacs mpps: report a Modality Performed Procedure Step to an MPPS SCP.
//   pacs mpps create [--uid UID] [-k KEY=VALUE]... HOST PORT     N-CREATE, IN PROGRESS
//   pacs mpps set UID --status COMPLETED|DISCONTINUED|"IN PROGRESS" [-k ...] HOST PORT   N-SET
// create fills what the standard requires and the command line did not give: start date and
// time (now), a step ID, the station AE (-aet), type 2 attributes present and empty.
import type { JsonDataset } from '../dicom/json.js';
import { SopClass } from '../dicom/uids.js';
import { connectWorkflow, mppsCreate, mppsSet } from '../services/workflow-scu.js';
import { newUid } from '../services/worklist.js';
import { AE_OPTIONS, type OptionSpec, UsageError, helpFor, hostPort, intOption, maxPduOption, opt, parseArgs } from './args.js';
import { setKey } from './dataset-keys.js';

const SPECS: readonly OptionSpec[] = [
  ...AE_OPTIONS,
  { names: ['--uid'], arg: 'UID', description: 'create: the SOP Instance UID (default: one of ours)' },
  { names: ['--status'], arg: 'STATUS', description: 'set: IN PROGRESS, COMPLETED or DISCONTINUED' },
  { names: ['-k', '--key'], arg: 'KEY=VALUE', repeatable: true, description: 'PatientID=P1, Modality=CT, ScheduledStepAttributesSequence[0].StudyInstanceUID=1.2.3' },
];
export const mppsHelp = helpFor('usage: pacs mpps create [--uid UID] [-k KEY=VALUE]... HOST PORT\n       pacs mpps set UID --status STATUS [-k KEY=VALUE]... HOST PORT', SPECS);

const now = (): { date: string; time: string } => {
  const iso = new Date().toISOString();
  return { date: iso.slice(0, 10).replace(/-/g, ''), time: iso.slice(11, 19).replace(/:/g, '') };
};

export async function mppsCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action !== 'create' && action !== 'set') throw new UsageError('the first argument is "create" or "set"');
  const setUid = action === 'set' ? rest.shift() : undefined;
  if (action === 'set' && !setUid) throw new UsageError('set: the SOP Instance UID of the step comes first');
  const p = parseArgs(rest, SPECS);
  const { host, port } = hostPort(p, 'mpps');
  const aet = opt(p, '-aet') ?? 'PACS';
  const ds: JsonDataset = {};
  const { date, time } = now();
  if (action === 'create') {
    for (const k of ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyID', 'PerformedProcedureStepEndDate', 'PerformedProcedureStepEndTime', 'PerformedProcedureStepDescription', 'PerformedSeriesSequence'])
      setKey(ds, k);
    for (const k of [`PerformedStationAETitle=${aet}`, `PerformedProcedureStepStartDate=${date}`, `PerformedProcedureStepStartTime=${time}`, 'PerformedProcedureStepStatus=IN PROGRESS', `PerformedProcedureStepID=PPS${Date.now().toString(36).toUpperCase()}`, 'Modality=OT'])
      setKey(ds, k);
    setKey(ds, 'ScheduledStepAttributesSequence[0].AccessionNumber');
    setKey(ds, 'ScheduledStepAttributesSequence[0].ScheduledProcedureStepID');
  } else {
    const status = opt(p, '--status');
    if (!status) throw new UsageError('set: --status is required');
    setKey(ds, `PerformedProcedureStepStatus=${status}`);
    if (status !== 'IN PROGRESS') for (const k of [`PerformedProcedureStepEndDate=${date}`, `PerformedProcedureStepEndTime=${time}`]) setKey(ds, k);
  }
  for (const k of p.options.get('-k') ?? []) setKey(ds, k);
  if (action === 'create' && !ds['00400270']?.Value?.some((i) => (i as JsonDataset)['0020000D']?.Value?.length))
    // An unscheduled step still needs a study: one of ours (PS3.4 F.7.2.1 type 1).
    setKey(ds, `ScheduledStepAttributesSequence[0].StudyInstanceUID=${newUid()}`);
  const timeoutMs = intOption(p, '-to', 30, 1, 3600) * 1000;
  const scu = await connectWorkflow({ host, port, callingAETitle: aet, calledAETitle: opt(p, '-aec') ?? 'ANY-SCP', timeoutMs, maxPduLength: maxPduOption(p) }, [SopClass.ModalityPerformedProcedureStep]);
  let rsp;
  try {
    rsp = action === 'create' ? await mppsCreate(scu, opt(p, '--uid') ?? null, ds) : await mppsSet(scu, setUid!, ds);
  } finally {
    await scu.release().catch(() => {});
  }
  const status = rsp.Status ?? -1;
  const uid = rsp.AffectedSOPInstanceUID ?? setUid ?? '';
  if (status !== 0) {
    process.stderr.write(`N-${action.toUpperCase()} failed with status 0x${status.toString(16).padStart(4, '0')}${rsp.ErrorComment ? `: ${rsp.ErrorComment}` : ''}\n`);
    return 1;
  }
  process.stdout.write(`${uid}\n`);
  return 0;
}
