// The research workflow's configuration (issue 6): when a series or study is stable, and the
// rules that act on what arrives. A rule matches attributes (any DICOM keyword, plus who sent
// it: CallingAE, CalledAE, RemoteAddress) and runs its actions as durable jobs.
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { tagOfKeyword } from '../dicom/dictionary.js';
import { parseNamingTemplate } from './naming.js';

const MAX_SECONDS = 86_400;
const secondsIn = (min: number, def: number) => {
  const error = `expected a number of seconds greater than ${min === 0 ? 0 : min}, up to ${MAX_SECONDS}`;
  return z.number({ error }).gt(0, { error }).min(min, { error }).max(MAX_SECONDS, { error }).default(def);
};

export const stabilitySchema = z.strictObject(
  {
    /** A series or study is stable when nothing of it arrived for this long. */
    stable_after: secondsIn(0, 60),
    /** How often the server looks for newly stable series and studies. */
    check_interval: secondsIn(0, 1),
  },
  { error: 'expected a mapping of keys' },
);

/** Keys that are not DICOM attributes but describe where an instance came from. */
export const PROVENANCE_KEYS = ['CallingAE', 'CalledAE', 'RemoteAddress'] as const;

export const RULE_EVENTS = ['instance.received', 'series.stable', 'study.stable'] as const;
export type RuleEvent = (typeof RULE_EVENTS)[number];
export const EXPORT_MODES = ['copy', 'hardlink', 'symlink'] as const;
export type ExportMode = (typeof EXPORT_MODES)[number];

export const DEFAULT_EXPORT_TEMPLATE = '{PatientID}/{StudyDate}_{StudyDescription}/{SeriesNumber:03}_{SeriesDescription}/{InstanceNumber:05}.dcm';
/**
 * The default with `deidentify`: de-identification empties the Study Date and removes the
 * descriptions (PS3.15 E.1-1), so the default above put every study of a subject in one folder
 * (`UNKNOWN`), its series mixed by number. The UIDs are replaced, not removed: unique still.
 */
export const DEFAULT_DEIDENTIFIED_EXPORT_TEMPLATE = '{PatientID}/{StudyInstanceUID}/{SeriesNumber:03}_{SeriesInstanceUID}/{InstanceNumber:05}.dcm';

/** The export template an action or `pacs export` uses when it names none. */
export const defaultExportTemplate = (deidentify: boolean): string => (deidentify ? DEFAULT_DEIDENTIFIED_EXPORT_TEMPLATE : DEFAULT_EXPORT_TEMPLATE);

const VALUE_ERROR = 'expected a value to match: text (exact, * ? wildcards, /regular expression/, or a DICOM range like 20260101-20261231), a number, a list of those, or { min, max }';
const scalar = z.union([z.string(), z.number()], { error: VALUE_ERROR });
const matchValue = z.union(
  [scalar, z.array(scalar, { error: VALUE_ERROR }).min(1, { error: VALUE_ERROR }), z.strictObject({ min: z.number().optional(), max: z.number().optional() }, { error: VALUE_ERROR })],
  { error: VALUE_ERROR },
);

const templateField = z.string({ error: 'expected a naming template such as {PatientID}/{StudyDate}/{InstanceNumber:05}.dcm' }).superRefine((v, ctx) => {
  const parsed = parseNamingTemplate(v);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.problem, params: { got: true } });
});

const absolutePath = z
  .string({ error: 'expected an absolute directory path' })
  .refine((v) => isAbsolute(v), { error: 'expected an absolute directory path (e.g. /nas/lab-a)', params: { got: true } });

const bool = z.boolean({ error: 'expected true or false' });
// The group must be odd (a private group): an even one names no private element and was dropped silently.
const SAFE_PRIVATE = /^\s*\(?[0-9a-f]{3}[13579bdf]\s*,\s*"?[^",]+?"?\s*,\s*(?:[0-9a-f]{2})?[0-9a-f]{2}\)?\s*$/i;

/** PS3.15 Annex E Basic Profile options (docs/configuration.md, "De-identification"). */
export const deidentifyProfileSchema = z.strictObject(
  {
    /** Retain Longitudinal Temporal Information with Modified Dates: each patient's dates moved by the same number of days. */
    retain_modified_dates: bool.default(false),
    retain_patient_characteristics: bool.default(false),
    retain_device_identity: bool.default(false),
    /** Keep descriptions (study, series, protocol…) with the patient's identifiers cleaned out; false removes them. */
    clean_descriptors: bool.default(false),
    /** Private elements kept: "GGGG,PRIVATE CREATOR,EE" (odd group, the creator, the element in its block). */
    safe_private: z
      .array(z.string().regex(SAFE_PRIVATE, { error: 'expected "GGGG,PRIVATE CREATOR,EE", e.g. "0019,SIEMENS MR HEADER,0C" (odd group)' }), { error: 'expected a list' })
      .default([]),
    /** Instances with (likely) burned-in annotation: refuse them, or de-identify and flag them in the report. */
    burned_in: z.enum(['refuse', 'flag'], { error: 'expected refuse or flag' }).default('refuse'),
    /** Pseudonyms are this prefix and 10 letters/digits derived from the archive's secret. */
    pseudonym_prefix: z.string().regex(/^[A-Za-z0-9_-]{0,20}$/, { error: 'expected up to 20 letters, digits, _ or -' }).default('ANON'),
  },
  { error: 'expected a mapping of de-identification options' },
);
export type DeidentifyProfileConfig = z.output<typeof deidentifyProfileSchema>;
/** In an action: `deidentify: true` (the defaults) or the options. */
const deidentifyField = z
  .union([z.literal(true), deidentifyProfileSchema], { error: 'expected true or a mapping of de-identification options' })
  .transform((v) => (v === true ? deidentifyProfileSchema.parse({}) : v))
  .optional();

export const exportActionSchema = z
  .strictObject({
    type: z.literal('export'),
    /** The folder files go into: it must exist (never created: see export-job.ts), the folders below it are made. */
    to: absolutePath,
    template: templateField.optional(),
    mode: z.enum(EXPORT_MODES, { error: `expected one of ${EXPORT_MODES.join(', ')}` }).default('copy'),
    /** De-identified copies (mode must be copy: a link would expose the original). */
    deidentify: deidentifyField,
  })
  .refine((a) => !a.deidentify || a.mode === 'copy', { error: 'deidentify writes new files: mode must be copy', path: ['mode'] })
  // Keys in the order they had when the template was a plain default: the action's digest
  // (rules.ts actionDigest, naming its cursors and jobs) is its JSON, which a new order changed.
  .transform((a) => ({
    type: a.type,
    to: a.to,
    template: a.template ?? defaultExportTemplate(a.deidentify !== undefined),
    mode: a.mode,
    ...(a.deidentify !== undefined ? { deidentify: a.deidentify } : {}),
  }));

const FORWARD_TARGET = 'a forward action needs node (a known node, by C-STORE) or dicomweb (a DICOMweb server, by STOW-RS)';

const forwardAction = z
  .strictObject({
    type: z.literal('forward'),
    /** A known node's AE title (known_nodes, or added with the API): C-STORE. */
    node: z.string({ error: 'expected the AE title of a known node' }).trim().min(1, { error: 'expected the AE title of a known node' }).optional(),
    /** The name of one of dicomweb_servers: STOW-RS. */
    dicomweb: z.string({ error: 'expected the name of one of dicomweb_servers' }).trim().min(1, { error: 'expected the name of one of dicomweb_servers' }).optional(),
    deidentify: deidentifyField,
  })
  .superRefine((a, ctx) => {
    if (a.node === undefined && a.dicomweb === undefined) ctx.addIssue({ code: 'custom', path: ['node'], message: `required: ${FORWARD_TARGET}` });
    if (a.node !== undefined && a.dicomweb !== undefined) ctx.addIssue({ code: 'custom', path: ['dicomweb'], message: `give node or dicomweb, not both: ${FORWARD_TARGET}` });
  });

const commandAction = z.strictObject({
  type: z.literal('command'),
  /** The program and its arguments, run without a shell; {Keyword} in an argument is replaced. */
  argv: z.array(z.string(), { error: 'expected a list: the program, then its arguments' }).min(1, { error: 'expected a list: the program, then its arguments' }),
  timeout: secondsIn(0, 300),
});

const action = z.discriminatedUnion('type', [exportActionSchema, forwardAction, commandAction], {
  error: 'expected an action with type: export, forward or command',
});

export const ruleSchema = z
  .strictObject(
    {
      name: z.string({ error: 'expected a name for the rule' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'expected a name of letters, digits, _ . - (up to 64)' }),
      enabled: z.boolean({ error: 'expected true or false' }).default(true),
      on: z.enum(RULE_EVENTS, { error: `expected one of ${RULE_EVENTS.join(', ')}` }).default('study.stable'),
      /** Every key must match (an empty match takes everything). */
      match: z.record(z.string(), matchValue, { error: 'expected a mapping of attribute keywords to values' }).default({}),
      actions: z.array(action, { error: 'expected a list of actions' }).min(1, { error: 'expected at least one action' }),
    },
    { error: 'expected a rule: name, on, match, actions' },
  )
  .superRefine((rule, ctx) => {
    for (const [key, value] of Object.entries(rule.match)) {
      if (!(PROVENANCE_KEYS as readonly string[]).includes(key) && tagOfKeyword(key) === undefined) {
        ctx.addIssue({ code: 'custom', path: ['match', key], message: `"${key}" is not a DICOM keyword nor one of ${PROVENANCE_KEYS.join(', ')}` });
      }
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v !== 'string' || !/^\/.*\/[a-z]*$/s.test(v) || v.length < 2) continue;
        const problem = regexProblem(v);
        if (problem) ctx.addIssue({ code: 'custom', path: ['match', key], message: `bad regular expression ${v}: ${problem}` });
      }
    }
  });

export type Rule = z.output<typeof ruleSchema>;
export type RuleAction = Rule['actions'][number];
export type ExportAction = z.output<typeof exportActionSchema>;
export type ForwardAction = z.output<typeof forwardAction>;

export const rulesSchema = z.array(ruleSchema, { error: 'expected a list of rules' }).default([]).superRefine((rules, ctx) => {
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate rule name "${r.name}"` });
    seen.add(r.name);
  });
});

function regexProblem(v: string): string | null {
  const end = v.lastIndexOf('/');
  try {
    new RegExp(v.slice(1, end), v.slice(end + 1));
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
