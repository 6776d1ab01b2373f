// The de-identification options of `pacs export`: the configuration's `deidentify` section,
// each option overridable on the command line.
import type { Config } from '../config/schema.js';
import type { DeidentifyProfileConfig } from '../config/rules-schema.js';
import { parseSafePrivate } from '../services/deidentify.js';
import { type OptionSpec, type Parsed, UsageError, flag, opt } from './args.js';

export const DEIDENTIFY_OPTIONS: readonly OptionSpec[] = [
  { names: ['--deidentify'], description: 'write de-identified copies (PS3.15 Basic Profile; options from the configuration\'s deidentify section)' },
  { names: ['--retain-dates'], description: 'with --deidentify: keep dates, shifted by the same days per patient' },
  { names: ['--retain-patient-characteristics'], description: 'with --deidentify: keep sex, age, size, weight...' },
  { names: ['--retain-device-identity'], description: 'with --deidentify: keep station, serial numbers...' },
  { names: ['--clean-descriptors'], description: 'with --deidentify: keep descriptions, cleaned of the patient\'s identifiers' },
  { names: ['--safe-private'], arg: 'GGGG,CREATOR,EE', repeatable: true, description: 'with --deidentify: keep this private element' },
  { names: ['--burned-in'], arg: 'refuse|flag', description: 'with --deidentify: instances with burned-in annotation' },
];

export function deidentifyOptions(p: Parsed, config: Readonly<Config>): DeidentifyProfileConfig | null {
  const used = DEIDENTIFY_OPTIONS.slice(1).filter((o) => p.options.has(o.names[0]!));
  if (!flag(p, '--deidentify')) {
    if (used.length) throw new UsageError(`${used[0]!.names[0]} needs --deidentify`);
    return null;
  }
  const safe = p.options.get('--safe-private') ?? [];
  for (const s of safe) if (!parseSafePrivate(s)) throw new UsageError(`--safe-private ${s}: expected GGGG,PRIVATE CREATOR,EE with an odd group`);
  const burned = opt(p, '--burned-in');
  if (burned !== undefined && burned !== 'refuse' && burned !== 'flag') throw new UsageError('--burned-in: expected refuse or flag');
  const c = config.deidentify;
  return {
    ...c,
    retain_modified_dates: c.retain_modified_dates || flag(p, '--retain-dates'),
    retain_patient_characteristics: c.retain_patient_characteristics || flag(p, '--retain-patient-characteristics'),
    retain_device_identity: c.retain_device_identity || flag(p, '--retain-device-identity'),
    clean_descriptors: c.clean_descriptors || flag(p, '--clean-descriptors'),
    safe_private: [...c.safe_private, ...safe],
    burned_in: (burned as 'refuse' | 'flag' | undefined) ?? c.burned_in,
  };
}
