// The write side of the PostgreSQL index: the same filing rules as ../sqlite/writer.ts (read
// its comments for the why of each step), made safe for several servers writing at once:
// - the study row is locked (FOR UPDATE) before anything of it is read to be rewritten, so the
//   computed lists (ModalitiesInStudy, SOPClassesInStudy) are read-modify-written by one
//   transaction at a time; counts are plain `n = n + d` UPDATEs, which READ COMMITTED
//   re-evaluates on the latest row, so none is lost;
// - a parent inserted by another server at the same moment makes ours fail with a unique
//   violation: the caller runs the whole transaction again (retryRaces), and it files under
//   that row; a parent another server deleted after we read it (the series read before the
//   study lock is taken) makes our insert fail with a foreign-key violation, retried the same
//   way, which then files under a new parent;
// - the change-log row is written last, under a transaction-scoped advisory lock held until
//   commit, so change sequence numbers become visible in order: a reader that has seen seq n
//   (the stability tracker's cursor) can never later see a smaller one appear;
// - statements that do not wait on each other's answers are sent together (the pool's clients
//   pipeline them, db.ts) and run in the order sent: an instance of a series already filed is
//   BEGIN, one round trip of reads, one of writes with the COMMIT — instead of twelve round
//   trips, each of which cost this process ~0.25 ms of CPU in wake-ups and system calls.

import { PacsError } from '../../core/errors.js';
import { type InstanceRefRow, toLocation } from '../rows.js';
import { guardHolds, type ChangeRecord, type InstanceLocation, type InstanceRecord, type StoreMode, type StoreOutcome, type StudyGuard } from '../types.js';
import { type Db, Pipelined, named } from './db.js';
import { SQL } from './statements.js';
import { MERGE_SHARED } from './patient-links.js';
import { type Chain, type Params, entityParams, instanceParams, joinSorted, splitList } from '../write-params.js';

interface SeriesRef { pk: number; study_fk: number; modality: string | null }
interface StudyRef { pk: number; patient_fk: number; study_instance_uid: string }
interface StudyGuardRow { study_instance_uid: string; protected: number; last_received_at: string | number }

/** Any int4: with the schema's hash, the advisory lock that orders change-log commits (see the top). */
const CHANGE_LOG_LOCK = 0x63686e67; // 'chng'

/**
 * An instance row and its study, locked: a replace or delete rewrites the former study's kept
 * lists (modalities, SOP classes), which no other server may change meanwhile. Two moves in
 * opposite directions can deadlock; PostgreSQL breaks it and the transaction is retried (db.ts).
 */
const INSTANCE_FOR_UPDATE = `${SQL.instanceByUid} FOR UPDATE OF i, st`;

export class PgWriter {
  constructor(private readonly db: Db) {}

  private async run(sql: string, params: Params): Promise<number> {
    const [text, values] = named(sql, params);
    return (await this.db.query(text, values)).rowCount;
  }

  private async one<R extends object>(sql: string, params: readonly unknown[]): Promise<R | undefined> {
    return (await this.db.query<R>(sql, params)).rows[0];
  }

  private async oneNamed<R extends object>(sql: string, params: Params): Promise<R | undefined> {
    const [text, values] = named(sql, params);
    return (await this.db.query<R>(text, values)).rows[0];
  }

  async store(record: InstanceRecord, mode: StoreMode, now: number): Promise<StoreOutcome> {
    const uid = record.instance.SOPInstanceUID;
    // One round trip: the instance if it is there, its series, and the record's study — locked
    // in this order, as before they were sent together.
    const [old, seriesRow, studyOfRecord] = await Promise.all([
      this.one<InstanceRefRow>(INSTANCE_FOR_UPDATE, [uid]),
      this.one<SeriesRef>(SQL.seriesByUid, [record.series.SeriesInstanceUID]),
      this.one<StudyRef>(`${SQL.studyByUid} FOR UPDATE`, [record.study.StudyInstanceUID]),
    ]);
    if (old !== undefined && mode === 'insert') {
      throw new PacsError('DUPLICATE_INSTANCE', `SOP Instance ${uid} is already in the index`);
    }
    const writes = new Pipelined();
    const chain = await this.fileUnder(record, now, seriesRow, studyOfRecord, writes);
    const params = instanceParams(record, chain.seriesPk, now);
    if (old === undefined) writes.send(this.run(SQL.insertInstance, params));
    else writes.send(this.run(SQL.updateInstance, { ...params, pk: old.pk }));
    writes.send(this.bump(chain, 1, record.file.size, params.received_at as number, record.instance.SOPClassUID));
    if (old !== undefined) {
      await writes.settle();
      await this.detach(old);
    }
    const kind: ChangeRecord['kind'] = old === undefined ? 'instance.stored' : 'instance.replaced';
    const changeSeq = writes.send(this.logChange(kind, uid, chain.studyUID, now));
    // A store is its whole transaction (postgres-index.ts): the COMMIT leaves with the change-log
    // insert, so the lock that orders change-log commits across servers is held from that insert
    // to the commit without a round trip to us between them.
    if (this.db.commit) writes.send(this.db.commit());
    await writes.settle();
    return { outcome: old === undefined ? 'inserted' : 'replaced', previous: old === undefined ? null : toLocation(old), changeSeq: await changeSeq };
  }

  async delete(sopInstanceUID: string, now: number, guard?: StudyGuard): Promise<InstanceLocation | 'changed' | null> {
    const old = await this.one<InstanceRefRow>(INSTANCE_FOR_UPDATE, [sopInstanceUID]);
    if (old === undefined) return null;
    // The study row is locked with the instance (FOR UPDATE OF st): read now, it stays as read
    // until this transaction ends, whatever a store or a protection does meanwhile.
    if (guard && !guardHolds(guard, (await this.one<StudyGuardRow>('SELECT study_instance_uid, protected, last_received_at FROM studies WHERE pk = $1', [old.study_fk]))!)) return 'changed';
    // Its prepared metadata goes with the row, not after it (a crash between left the text); sent together.
    await Promise.all([this.db.query(SQL.deleteInstance, [old.pk]), this.db.query(SQL.deleteMetadataOf, [sopInstanceUID])]);
    await this.detach(old);
    await this.logChange('instance.deleted', sopInstanceUID, old.study_instance_uid, now);
    return toLocation(old);
  }

  /**
   * Finds or creates the patient, study and series ("latest wins"; rows never move: see
   * SqliteWriter). Updates of rows that exist go into `writes`, not waited for.
   */
  private async fileUnder(record: InstanceRecord, now: number, seriesRow: SeriesRef | undefined, studyOfRecord: StudyRef | undefined, writes: Pipelined): Promise<Chain> {
    const { study, series } = record;
    const { patient: patientParams, study: studyParams, series: seriesParams } = entityParams(record, now);

    // A series already filed stays under its study, which may not be the record's (then it is locked too).
    const studyRow =
      seriesRow === undefined || seriesRow.study_fk === studyOfRecord?.pk
        ? studyOfRecord
        : await this.one<StudyRef>(`${SQL.studyByPk} FOR UPDATE`, [seriesRow.study_fk]);
    let patientPk: number;
    let studyPk: number;
    let studyUID: string;
    if (studyRow !== undefined) {
      patientPk = studyRow.patient_fk;
      studyPk = studyRow.pk;
      studyUID = studyRow.study_instance_uid;
      if (studyUID === study.StudyInstanceUID) {
        writes.send(this.run(SQL.updateStudy, { ...studyParams, pk: studyPk }));
        writes.send(this.run(SQL.updatePatientOfKey, { ...patientParams, pk: patientPk }));
      }
    } else {
      // Sent with the upsert, one round trip: a merge under way is waited for (patient-links.ts);
      // its failure (a lock wait past the bound) is the one told, not the upsert's that follows.
      const [, patient] = await Promise.all([this.db.query(MERGE_SHARED), this.oneNamed<{ pk: number }>(SQL.upsertPatient, patientParams)]);
      patientPk = this.pk(patient, 'patient');
      studyPk = this.pk(await this.oneNamed<{ pk: number }>(SQL.insertStudy, { ...studyParams, patient_fk: patientPk }), 'study');
      studyUID = study.StudyInstanceUID;
      writes.send(this.run(SQL.bumpPatient, { pk: patientPk, studies: 1, series: 0, instances: 0 }));
    }

    let seriesPk: number;
    if (seriesRow !== undefined) {
      seriesPk = seriesRow.pk;
      writes.send(this.run(SQL.updateSeries, { ...seriesParams, pk: seriesPk }));
      if ((seriesRow.modality ?? null) !== (series.Modality ?? null)) {
        await writes.settle();
        await this.refreshModalities(studyPk);
      }
    } else {
      // Through `writes`: were an update sent before it to fail (a deadlock, say), the error
      // seen must be that one, which is retried, not this statement's 'transaction aborted'.
      seriesPk = this.pk(await writes.wait(this.oneNamed<{ pk: number }>(SQL.insertSeries, { ...seriesParams, study_fk: studyPk })), 'series');
      writes.send(this.run(SQL.bumpStudy, { pk: studyPk, series: 1, instances: 0, bytes: 0, at: 0 }));
      writes.send(this.run(SQL.bumpPatient, { pk: patientPk, studies: 0, series: 1, instances: 0 }));
      await writes.settle();
      await this.refreshModalities(studyPk);
    }
    return { patientPk, studyPk, seriesPk, studyUID };
  }

  private async bump(chain: Omit<Chain, 'studyUID'>, instances: number, bytes: number, at: number, sopClass: string | null = null): Promise<void> {
    await this.run(SQL.bumpChain, { series_pk: chain.seriesPk, study_pk: chain.studyPk, patient_pk: chain.patientPk, instances, bytes, at, sop_class: sopClass });
  }

  private async count(sql: string, pk: number): Promise<number | undefined> {
    const row = await this.one<{ n: number }>(sql, [pk]);
    return row?.n;
  }

  private async detach(old: InstanceRefRow): Promise<void> {
    const chain = { patientPk: old.patient_fk, studyPk: old.study_fk, seriesPk: old.series_fk };
    await this.bump(chain, -1, -old.size, 0);
    let seriesGone = false;
    let studyGone = false;
    if ((await this.count(SQL.seriesInstances, chain.seriesPk)) === 0) {
      await this.db.query(SQL.deleteSeries, [chain.seriesPk]);
      await this.run(SQL.bumpStudy, { pk: chain.studyPk, series: -1, instances: 0, bytes: 0, at: 0 });
      await this.run(SQL.bumpPatient, { pk: chain.patientPk, studies: 0, series: -1, instances: 0 });
      seriesGone = true;
    }
    if (seriesGone && (await this.count(SQL.studySeries, chain.studyPk)) === 0) {
      await this.db.query(SQL.deleteStudy, [chain.studyPk]);
      await this.run(SQL.bumpPatient, { pk: chain.patientPk, studies: -1, series: 0, instances: 0 });
      studyGone = true;
    }
    if (studyGone && (await this.count(SQL.patientStudies, chain.patientPk)) === 0) await this.db.query(SQL.deletePatient, [chain.patientPk]);
    if (studyGone) return;
    if (seriesGone) await this.refreshModalities(chain.studyPk);
    if ((await this.one(SQL.sopClassInStudy, [chain.studyPk, old.sop_class_uid])) === undefined) {
      const current = splitList((await this.one<{ v: string }>(SQL.studySopClasses, [chain.studyPk]))?.v ?? '');
      await this.db.query(SQL.setSopClasses, [joinSorted(current.filter((c) => c !== old.sop_class_uid)), chain.studyPk]);
    }
  }

  private async refreshModalities(studyPk: number): Promise<void> {
    const rows = (await this.db.query<{ modality: string }>(SQL.studyModalities, [studyPk])).rows;
    await this.db.query(SQL.setModalities, [joinSorted(rows.map((r) => r.modality)), studyPk]);
  }

  private async logChange(kind: ChangeRecord['kind'], uid: string, studyUID: string, now: number): Promise<number> {
    const row = await this.one<{ seq: number }>(SQL.insertChange, [kind, 'instance', uid, studyUID, now, CHANGE_LOG_LOCK]);
    if (row === undefined) throw new Error('change log insert returned no sequence number');
    return row.seq;
  }

  private pk(row: { pk: number } | undefined, level: string): number {
    if (row === undefined) throw new Error(`insert of a ${level} row returned no key`);
    return row.pk;
  }
}
