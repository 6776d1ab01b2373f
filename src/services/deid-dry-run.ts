// A dry run (`pacs export --dry-run --deidentify`) leaves the index as it found it: the archive's
// secret and the patients' pseudonyms are read where they exist, and what a real run would record
// for the first time is kept in memory only. With the secret in place the names printed are the
// ones a real run writes; a dry run before the archive's first de-identification has to make a
// secret up, so its new UIDs and pseudonyms are not final (`madeUpSecret` says so).
import type { DeidPatient, DeidStore } from '../index/deid.js';

export class DryRunDeidStore implements DeidStore {
  private secretMade: string | null = null;
  private readonly made = new Map<string, DeidPatient>();
  private readonly pseudonyms = new Set<string>();

  constructor(private readonly store: DeidStore) {}

  /** The archive had no secret yet: the UIDs and pseudonyms of this run are not the ones a real run makes. */
  get madeUpSecret(): boolean {
    return this.secretMade !== null;
  }

  async secret(fresh: string): Promise<string> {
    const kept = await this.store.findSecret();
    if (kept !== null) return kept;
    this.secretMade ??= fresh;
    return this.secretMade;
  }

  async patient(p: Omit<DeidPatient, 'createdAt'>): Promise<DeidPatient | null> {
    const kept = (await this.store.byPatientKey(p.patientKey)) ?? this.made.get(p.patientKey);
    if (kept) return kept;
    if (this.pseudonyms.has(p.pseudonym) || (await this.store.byPseudonym(p.pseudonym))) return null;
    const entry = { ...p, createdAt: new Date() };
    this.made.set(p.patientKey, entry);
    this.pseudonyms.add(p.pseudonym);
    return entry;
  }

  async byPseudonym(pseudonym: string): Promise<DeidPatient | null> {
    return (await this.store.byPseudonym(pseudonym)) ?? [...this.made.values()].find((m) => m.pseudonym === pseudonym) ?? null;
  }

  findSecret(): Promise<string | null> {
    return this.secretMade !== null ? Promise.resolve(this.secretMade) : this.store.findSecret();
  }

  async byPatientKey(patientKey: string): Promise<DeidPatient | null> {
    return (await this.store.byPatientKey(patientKey)) ?? this.made.get(patientKey) ?? null;
  }
}
