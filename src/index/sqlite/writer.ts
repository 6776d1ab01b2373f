// The write side of the SQLite index: filing an instance under its patient/study/series, keeping
// the counts and computed study attributes, and logging the change. Every function here runs
// inside the caller's transaction; nothing commits on its own.

import { PacsError } from '../../core/errors.js';
import { guardHolds, type ChangeRecord, type InstanceLocation, type InstanceRecord, type StoreMode, type StoreOutcome, type StudyGuard } from '../types.js';
import { toLocation } from '../rows.js';
import type { InstanceRefRow, Statements } from './statements.js';
import { type Chain, entityParams, instanceParams, joinSorted, splitList } from '../write-params.js';

export class SqliteWriter {
  constructor(private readonly s: Statements) {}

  store(record: InstanceRecord, mode: StoreMode, now: number): StoreOutcome {
    const uid = record.instance.SOPInstanceUID;
    const old = this.s.instanceByUid.get(uid);
    if (old !== undefined && mode === 'insert') {
      throw new PacsError('DUPLICATE_INSTANCE', `SOP Instance ${uid} is already in the index`);
    }
    const chain = this.fileUnder(record, now);
    const params = instanceParams(record, chain.seriesPk, now);
    if (old === undefined) this.s.insertInstance.run(params);
    else this.s.updateInstance.run({ ...params, pk: old.pk }); // keeps pk, re-parents in place
    this.bump(chain, 1, record.file.size, params.received_at as number);
    this.addSopClass(chain.studyPk, record.instance.SOPClassUID);
    // Subtract from the old parents only now, after the new ones were counted: when both are
    // the same rows their counts never reach zero in between, so nothing is wrongly pruned.
    if (old !== undefined) this.detach(old);
    const kind: ChangeRecord['kind'] = old === undefined ? 'instance.stored' : 'instance.replaced';
    const changeSeq = this.logChange(kind, uid, chain.studyUID, now);
    return {
      outcome: old === undefined ? 'inserted' : 'replaced',
      previous: old === undefined ? null : toLocation(old),
      changeSeq,
    };
  }

  delete(sopInstanceUID: string, now: number, guard?: StudyGuard): InstanceLocation | 'changed' | null {
    const old = this.s.instanceByUid.get(sopInstanceUID);
    if (old === undefined) return null;
    if (guard && !guardHolds(guard, this.s.studyGuard.get(old.study_fk)!)) return 'changed';
    this.s.deleteInstance.run(old.pk);
    // Its prepared metadata goes with the row, not after it (a crash between left the text).
    this.s.deleteMetadataOf.run(sopInstanceUID);
    this.detach(old);
    this.logChange('instance.deleted', sopInstanceUID, old.study_instance_uid, now);
    return toLocation(old);
  }

  /**
   * Finds or creates the patient, study and series the record names, updating their attributes
   * from this latest instance ("latest wins").
   *
   * Rows never move to another parent. A series already filed under another study stays there,
   * and a study already filed under another patient (same StudyInstanceUID, other PatientID or
   * issuer) stays under its first patient: moving it would silently merge or split patients'
   * records on the strength of one instance. The instance is filed under the existing series or
   * study, and the attributes of a level are only updated when the record names that very row,
   * so the first patient's name is never overwritten by another patient's. Fixing such
   * conflicts is an explicit administrative act (a later merge/split tool), not a side effect.
   */
  private fileUnder(record: InstanceRecord, now: number): Chain {
    const { patient, study, series } = record;
    const issuer = patient.IssuerOfPatientID ?? '';
    const { patient: patientParams, study: studyParams, series: seriesParams } = entityParams(record, now);

    const seriesRow = this.s.seriesByUid.get(series.SeriesInstanceUID);
    const studyRow =
      seriesRow !== undefined ? this.s.studyByPk.get(seriesRow.study_fk) : this.s.studyByUid.get(study.StudyInstanceUID);
    let patientPk: number;
    let studyPk: number;
    let studyUID: string;
    if (studyRow !== undefined) {
      patientPk = studyRow.patient_fk;
      studyPk = studyRow.pk;
      studyUID = studyRow.study_instance_uid;
      if (studyUID === study.StudyInstanceUID) {
        this.s.updateStudy.run({ ...studyParams, pk: studyPk });
        const p = this.s.patientByPk.get(patientPk);
        if (p !== undefined && p.patient_id === patient.PatientID && p.issuer_of_patient_id === issuer) {
          this.s.updatePatient.run({ ...patientParams, pk: patientPk });
        }
      }
    } else {
      patientPk = this.pk(this.s.upsertPatient.get(patientParams), 'patient');
      studyPk = this.pk(this.s.insertStudy.get({ ...studyParams, patient_fk: patientPk }), 'study');
      studyUID = study.StudyInstanceUID;
      this.s.bumpPatient.run({ pk: patientPk, studies: 1, series: 0, instances: 0 });
    }

    let seriesPk: number;
    if (seriesRow !== undefined) {
      seriesPk = seriesRow.pk;
      this.s.updateSeries.run({ ...seriesParams, pk: seriesPk });
      if ((seriesRow.modality ?? null) !== (series.Modality ?? null)) this.refreshModalities(studyPk);
    } else {
      seriesPk = this.pk(this.s.insertSeries.get({ ...seriesParams, study_fk: studyPk }), 'series');
      this.s.bumpStudy.run({ pk: studyPk, series: 1, instances: 0, bytes: 0, at: 0 });
      this.s.bumpPatient.run({ pk: patientPk, studies: 0, series: 1, instances: 0 });
      this.refreshModalities(studyPk);
    }
    return { patientPk, studyPk, seriesPk, studyUID };
  }

  /** Adds (or, with -1, removes) one instance to the counts of a series and its ancestors. */
  private bump(chain: Omit<Chain, 'studyUID'>, instances: number, bytes: number, at: number): void {
    this.s.bumpSeries.run({ pk: chain.seriesPk, instances, bytes, at });
    this.s.bumpStudy.run({ pk: chain.studyPk, series: 0, instances, bytes, at });
    this.s.bumpPatient.run({ pk: chain.patientPk, studies: 0, series: 0, instances });
  }

  /** Takes a (deleted or moved) instance out of its former parents' counts; prunes emptied ones. */
  private detach(old: InstanceRefRow): void {
    const chain = { patientPk: old.patient_fk, studyPk: old.study_fk, seriesPk: old.series_fk };
    this.bump(chain, -1, -old.size, 0);
    let seriesGone = false;
    let studyGone = false;
    if (this.s.seriesInstances.get(chain.seriesPk) === 0) {
      this.s.deleteSeries.run(chain.seriesPk);
      this.s.bumpStudy.run({ pk: chain.studyPk, series: -1, instances: 0, bytes: 0, at: 0 });
      this.s.bumpPatient.run({ pk: chain.patientPk, studies: 0, series: -1, instances: 0 });
      seriesGone = true;
    }
    if (seriesGone && this.s.studySeries.get(chain.studyPk) === 0) {
      this.s.deleteStudy.run(chain.studyPk);
      this.s.bumpPatient.run({ pk: chain.patientPk, studies: -1, series: 0, instances: 0 });
      studyGone = true;
    }
    if (studyGone && this.s.patientStudies.get(chain.patientPk) === 0) this.s.deletePatient.run(chain.patientPk);
    if (studyGone) return;
    if (seriesGone) this.refreshModalities(chain.studyPk);
    // Cheap when the class is still present (the first matching row ends the search), which is
    // the common case; the list is only rewritten when the study's last instance of it left.
    if (this.s.sopClassInStudy.get(chain.studyPk, old.sop_class_uid) === undefined) {
      const current = splitList(this.s.studySopClasses.get(chain.studyPk) ?? '');
      this.s.setSopClasses.run(joinSorted(current.filter((c) => c !== old.sop_class_uid)), chain.studyPk);
    }
  }

  /** ModalitiesInStudy: the sorted distinct Modality of the study's series, recomputed. */
  private refreshModalities(studyPk: number): void {
    this.s.setModalities.run(joinSorted(this.s.studyModalities.all(studyPk)), studyPk);
  }

  /** SOPClassesInStudy gains a class incrementally: recounting would read the whole study. */
  private addSopClass(studyPk: number, sopClassUID: string): void {
    const current = splitList(this.s.studySopClasses.get(studyPk) ?? '');
    if (!current.includes(sopClassUID)) this.s.setSopClasses.run(joinSorted([...current, sopClassUID]), studyPk);
  }

  private logChange(kind: ChangeRecord['kind'], uid: string, studyUID: string, now: number): number {
    const seq = this.s.insertChange.get(kind, 'instance', uid, studyUID, now);
    if (seq === undefined) throw new Error('change log insert returned no sequence number');
    return seq;
  }

  private pk(row: { pk: number } | undefined, level: string): number {
    if (row === undefined) throw new Error(`insert of a ${level} row returned no key`);
    return row.pk;
  }
}
