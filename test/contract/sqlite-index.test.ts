// The index contract on a real SQLite file, with and without WAL, and what is SQLite's own:
// migrations, pragmas, reopening, read-only use.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { isPacsError } from '../../src/core/errors.js';
import { bulkLoadSynthetic } from '../../src/index/sqlite/bulk.js';
import { MIGRATIONS, applyMigrations } from '../../src/index/sqlite/migrations.js';
import { SqliteIndex } from '../../src/index/sqlite/sqlite-index.js';
import { CT, MR, SR, record } from './fixtures.js';
import { runIndexContract } from './index-contract.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-sqlite-index-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = (): string => join(dir, `index-${++n}.db`);

/** Every kept count and computed attribute, recomputed from the rows: the lists of mismatches. */
function inconsistencies(index: SqliteIndex): unknown[] {
  const q = (sql: string) => index.db.prepare(sql).all();
  return [
    ...q(`SELECT 'series' AS level, se.pk FROM series se WHERE num_instances IS NOT
      (SELECT count(*) FROM instances i WHERE i.series_fk = se.pk) OR size_bytes IS NOT
      (SELECT coalesce(sum(size), 0) FROM instances i WHERE i.series_fk = se.pk) OR num_instances = 0`),
    ...q(`SELECT 'study' AS level, st.pk FROM studies st WHERE
      num_series IS NOT (SELECT count(*) FROM series se WHERE se.study_fk = st.pk) OR
      num_instances IS NOT (SELECT count(*) FROM instances i JOIN series se ON se.pk = i.series_fk WHERE se.study_fk = st.pk) OR
      size_bytes IS NOT (SELECT coalesce(sum(size), 0) FROM instances i JOIN series se ON se.pk = i.series_fk WHERE se.study_fk = st.pk) OR
      modalities_in_study IS NOT (SELECT coalesce(group_concat(m, '\\'), '') FROM
        (SELECT DISTINCT modality AS m FROM series se WHERE se.study_fk = st.pk AND modality <> '' ORDER BY m)) OR
      sop_classes_in_study IS NOT (SELECT coalesce(group_concat(c, '\\'), '') FROM
        (SELECT DISTINCT sop_class_uid AS c FROM instances i JOIN series se ON se.pk = i.series_fk WHERE se.study_fk = st.pk ORDER BY c)) OR
      num_series = 0`),
    ...q(`SELECT 'patient' AS level, p.pk FROM patients p WHERE
      num_studies IS NOT (SELECT count(*) FROM studies st WHERE st.patient_fk = p.pk) OR
      num_series IS NOT (SELECT count(*) FROM series se JOIN studies st ON st.pk = se.study_fk WHERE st.patient_fk = p.pk) OR
      num_instances IS NOT (SELECT count(*) FROM instances i JOIN series se ON se.pk = i.series_fk
        JOIN studies st ON st.pk = se.study_fk WHERE st.patient_fk = p.pk) OR num_studies = 0`),
    // The copy of the patient's folded name its triggers keep on each study (migration 11).
    ...q(`SELECT 'study name' AS level, st.pk FROM studies st JOIN patients p ON p.pk = st.patient_fk
      WHERE st.patient_name_fold IS NOT p.patient_name_fold`),
    // The totals the triggers keep (migration 4) against a recount of the rows.
    ...q(`SELECT 'totals' AS level, t.* FROM archive_totals t WHERE
      patients IS NOT (SELECT count(*) FROM patients) OR studies IS NOT (SELECT count(*) FROM studies) OR
      series IS NOT (SELECT count(*) FROM series) OR instances IS NOT (SELECT count(*) FROM instances) OR
      bytes IS NOT (SELECT coalesce(sum(size), 0) FROM instances)`),
  ];
}

/** As the server opens it: with WAL, each write waits for the log's sync (storage.fsync). */
async function openMigrated(path: string, walMode: boolean, syncCommits = walMode): Promise<SqliteIndex> {
  const index = SqliteIndex.open({ path, walMode, busyTimeoutMs: 2000, syncCommits });
  await index.migrate();
  return index;
}

runIndexContract('SQLite, WAL', () => openMigrated(freshPath(), true));
runIndexContract('SQLite, rollback journal', () => openMigrated(freshPath(), false));

describe('SqliteIndex specifics', () => {
  test('sets the pragmas the options ask for', async () => {
    const wal = await openMigrated(freshPath(), true);
    assert.equal(wal.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(wal.db.pragma('synchronous', { simple: true }), 1); // NORMAL
    assert.equal(wal.db.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(wal.db.pragma('busy_timeout', { simple: true }), 2000);
    await wal.close();
    const del = await openMigrated(freshPath(), false);
    assert.equal(del.db.pragma('journal_mode', { simple: true }), 'delete');
    assert.equal(del.db.pragma('synchronous', { simple: true }), 2); // FULL
    await del.close();
  });

  test('migrations are recorded once and re-running them on reopen is a no-op', async () => {
    const path = freshPath();
    const index = await openMigrated(path, true);
    await index.migrate();
    const versions = index.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(versions, MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    await index.storeInstance(record({ sop: 'i1' }), 'insert');
    await index.close();
    const again = await openMigrated(path, true);
    assert.equal((again.db.prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number }).n, MIGRATIONS.length);
    assert.equal((await again.statistics()).instances, 1);
    await again.close();
  });

  test('an index made at version 1 upgrades: its rows stay, the new columns are added, empty, and written', async () => {
    const path = freshPath();
    const v1 = new Database(path);
    assert.deepEqual(applyMigrations(v1, MIGRATIONS.filter((m) => m.version === 1)), [1]);
    const columnsOf = (db: Database.Database, table: string): string[] =>
      db.prepare(`SELECT name FROM pragma_table_info('${table}')`).pluck().all() as string[];
    assert.ok(!columnsOf(v1, 'instances').includes('slice_location'));
    // Rows as version 1 wrote them.
    v1.exec(`INSERT INTO patients (pk, patient_id, num_studies, num_series, num_instances, created_at, updated_at)
        VALUES (1, 'P0', 1, 1, 1, 0, 0);
      INSERT INTO studies (pk, patient_fk, study_instance_uid, num_series, num_instances, created_at, updated_at)
        VALUES (1, 1, '9.1', 1, 1, 0, 0);
      INSERT INTO series (pk, study_fk, series_instance_uid, num_instances, created_at, updated_at) VALUES (1, 1, '9.1.1', 1, 0, 0);
      INSERT INTO instances (series_fk, sop_instance_uid, sop_class_uid, path, size, transfer_syntax_uid, checksum,
        received_at, source, created_at, updated_at) VALUES (1, '9.1.1.1', '${CT}', 'old.dcm', 0, '1.2.840.10008.1.2.1', '', 0, 'import', 0, 0)`);
    v1.close();
    const old = SqliteIndex.open({ path, walMode: true });
    await old.migrate();
    assert.deepEqual(old.db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), MIGRATIONS.map((m) => m.version));
    assert.ok(MIGRATIONS.some((m) => m.version === 2));
    for (const c of ['patient_position', 'contrast_bolus_agent']) assert.ok(columnsOf(old.db, 'series').includes(c), c);
    for (const c of ['echo_numbers', 'receive_coil_name', 'slice_location', 'image_id', 'samples_per_pixel', 'bits_stored']) {
      assert.ok(columnsOf(old.db, 'instances').includes(c), c);
    }
    assert.equal((await old.findInstance('9.1.1.1'))?.path, 'old.dcm');
    assert.equal((await old.findSeries('9.1.1'))?.PatientPosition, null);
    assert.equal(old.db.prepare("SELECT slice_location FROM instances WHERE sop_instance_uid = '9.1.1.1'").pluck().get(), null);
    // Version 4 counted the rows it found into the totals.
    assert.deepEqual(await old.statistics(), { patients: 1, studies: 1, series: 1, instances: 1, bytes: 0 });
    await old.storeInstance(record({ sop: 'i1' }), 'insert');
    // (The hand-written version-1 rows have no SOPClassesInStudy: only the totals are checked.)
    assert.deepEqual(inconsistencies(old).filter((r) => (r as { level: string }).level === 'totals'), []);
    assert.equal((await old.findSeries('1.2.3.1.1'))?.PatientPosition, 'HFS');
    await old.close();
  });

  test('keeps the instance attributes Conquest indexes (echo, coil, slice location, samples per pixel ...)', async () => {
    const index = await openMigrated(freshPath(), true);
    await index.storeInstance(record({ sop: 'i1' }), 'insert');
    assert.deepEqual(
      index.db.prepare(`SELECT echo_numbers, receive_coil_name, slice_location, image_id, samples_per_pixel, bits_stored,
        "rows", bits_allocated FROM instances WHERE sop_instance_uid = 'i1'`).get(),
      { echo_numbers: '1\\2', receive_coil_name: 'HEAD 32', slice_location: '-12.5', image_id: 'IMG1', samples_per_pixel: 1,
        bits_stored: 12, rows: 512, bits_allocated: 16 },
    );
    const r = record({ sop: 'i1', path: 'again.dcm' });
    r.instance.SliceLocation = null;
    r.instance.SamplesPerPixel = 3;
    await index.storeInstance(r, 'replace');
    assert.deepEqual(
      index.db.prepare("SELECT slice_location, samples_per_pixel FROM instances WHERE sop_instance_uid = 'i1'").get(),
      { slice_location: null, samples_per_pixel: 3 },
    );
    await index.close();
  });

  test('refuses a file migrated by a newer version', async () => {
    const path = freshPath();
    const index = await openMigrated(path, false);
    index.db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)").run();
    await assert.rejects(index.migrate(), (e) => isPacsError(e, 'INDEX_FAILURE') && /999/.test(e.message));
    await index.close();
  });

  test('with syncCommits the write-ahead log is synced through a descriptor of our own', async () => {
    // SQLite holds one descriptor to the log; the sync after each write opens a second.
    const descriptorsOf = (file: string): number =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === file;
        } catch {
          return false; // closed meanwhile (readdir's own descriptor)
        }
      }).length;
    const synced = freshPath();
    const a = await openMigrated(synced, true, true);
    await a.storeInstance(record({ sop: 'i1' }), 'insert');
    assert.equal(descriptorsOf(`${synced}-wal`), 2);
    // Concurrent writes share syncs and all resolve; what they wrote is there.
    await Promise.all(Array.from({ length: 20 }, (_, i) => a.storeInstance(record({ sop: `c${i}`, study: `S${i % 3}` }), 'insert')));
    assert.equal((await a.statistics()).instances, 21);
    await a.close();
    assert.equal(descriptorsOf(`${synced}-wal`), 0, 'closing closes our descriptor too');

    const unsynced = freshPath();
    const b = await openMigrated(unsynced, true, false);
    await b.storeInstance(record({ sop: 'i1' }), 'insert');
    assert.equal(descriptorsOf(`${unsynced}-wal`), 1);
    await b.close();
  });

  test('what was stored survives closing and reopening, in either journal mode', async () => {
    const path = freshPath();
    const first = await openMigrated(path, true);
    await first.storeInstance(record({ sop: 'i1', size: 11 }), 'insert');
    await first.storeInstance(record({ sop: 'i2', study: 'B', size: 22 }), 'insert');
    await first.deleteInstance('i2');
    await first.close();
    const second = await openMigrated(path, false); // switching WAL off keeps the data
    assert.deepEqual(await second.statistics(), { patients: 1, studies: 1, series: 1, instances: 1, bytes: 11 });
    assert.equal((await second.findInstance('i1'))?.size, 11);
    assert.deepEqual((await second.changesSince(0, 10)).map((c) => c.kind), ['instance.stored', 'instance.stored', 'instance.deleted']);
    await second.close();
  });

  test('a read-only index reads, refuses writes, and refuses a file needing migration', async () => {
    const path = freshPath();
    const writer = await openMigrated(path, true);
    await writer.storeInstance(record({ sop: 'i1' }), 'insert');
    await writer.close();
    const reader = SqliteIndex.open({ path, walMode: true, readonly: true });
    await reader.migrate();
    assert.equal((await reader.findInstance('i1'))?.SOPInstanceUID, 'i1');
    await assert.rejects(reader.storeInstance(record({ sop: 'i2' }), 'insert'), (e) => isPacsError(e, 'INDEX_FAILURE'));
    await reader.close();

    const bare = freshPath();
    SqliteIndex.open({ path: bare, walMode: false }).db.close();
    const stale = SqliteIndex.open({ path: bare, walMode: false, readonly: true });
    await assert.rejects(stale.migrate(), (e) => isPacsError(e, 'INDEX_FAILURE'));
    await stale.close();
  });

  test('a missing read-only file or an unwritable path fails with INDEX_FAILURE', () => {
    assert.throws(() => SqliteIndex.open({ path: join(dir, 'absent.db'), walMode: true, readonly: true }), (e) => isPacsError(e, 'INDEX_FAILURE'));
    assert.throws(() => SqliteIndex.open({ path: join(dir, 'no', 'such', 'dir.db'), walMode: true }), (e) => isPacsError(e, 'INDEX_FAILURE'));
  });

  test('operations after close reject with INDEX_FAILURE', async () => {
    const index = await openMigrated(freshPath(), true);
    await index.close();
    await index.close(); // twice is harmless
    await assert.rejects(index.statistics(), (e) => isPacsError(e, 'INDEX_FAILURE'));
  });

  test('stores the folded person names next to the originals', async () => {
    const index = await openMigrated(freshPath(), true);
    await index.storeInstance(record({ sop: 'i1', patientName: 'Müller^Zoë', referringPhysician: 'Łukasik^Józef' }), 'insert');
    assert.deepEqual(index.db.prepare('SELECT patient_name, patient_name_fold FROM patients').get(), {
      patient_name: 'Müller^Zoë',
      patient_name_fold: 'MULLER^ZOE',
    });
    assert.equal(index.db.prepare('SELECT referring_physician_name_fold AS f FROM studies').pluck().get(), 'LUKASIK^JOZEF');
    await index.close();
  });

  test('random inserts, replaces and deletes leave every count consistent with the rows', async () => {
    const index = await openMigrated(freshPath(), true);
    let seed = 42;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const classes = [CT, MR, SR];
    const modalities = ['CT', 'MR', 'SR', null];
    for (let step = 0; step < 1500; step++) {
      const sop = `i${rand(60)}`;
      const action = rand(10);
      if (action < 3) {
        await index.deleteInstance(sop);
        continue;
      }
      const study = `S${rand(6)}`;
      const r = record({
        sop,
        study,
        series: `${study}.${rand(3)}`,
        patientId: `P${rand(4)}`,
        modality: modalities[rand(4)] ?? null,
        sopClass: classes[rand(3)] ?? CT,
        size: 1 + rand(1000),
        path: `${sop}-${step}.dcm`,
      });
      await index.storeInstance(r, action < 6 ? 'replace' : 'insert').catch((e: unknown) => {
        if (!isPacsError(e, 'DUPLICATE_INSTANCE')) throw e;
      });
    }
    assert.deepEqual(inconsistencies(index), []);
    const stats = await index.statistics();
    const rows = index.db.prepare('SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM instances').get() as { n: number; b: number };
    assert.equal(stats.instances, rows.n);
    assert.equal(stats.bytes, rows.b);
    await index.close();
  });

  test('the bulk loader writes consistent rows that the index then serves and extends', async () => {
    const index = await openMigrated(freshPath(), true);
    const progress: number[] = [];
    const result = await bulkLoadSynthetic(index, {
      patients: 20,
      studiesPerPatient: 2,
      seriesPerStudy: 3,
      instancesPerSeries: 4,
      seed: 3,
      batchInstances: 100,
      onProgress: (n) => progress.push(n),
    });
    assert.deepEqual([result.patients, result.studies, result.series, result.instances], [20, 40, 120, 480]);
    assert.ok(progress.length > 1 && progress[progress.length - 1] === 480);
    const stats = await index.statistics();
    assert.deepEqual(stats, { patients: 20, studies: 40, series: 120, instances: 480, bytes: result.bytes });
    assert.deepEqual(inconsistencies(index), []);
    const names = index.db.prepare('SELECT DISTINCT patient_name FROM patients').pluck().all();
    assert.ok(names.length > 5, 'names vary');
    const first = (await index.listInstances(null, 1))[0];
    assert.ok(first !== undefined);
    assert.equal((await index.findInstance(first.SOPInstanceUID))?.path, first.path);
    await index.storeInstance(record({ sop: 'extra', study: first.StudyInstanceUID, series: first.SeriesInstanceUID }), 'insert');
    await index.deleteInstance(first.SOPInstanceUID);
    assert.deepEqual(inconsistencies(index), []);
    // The same seed again collides on UIDs: refused as a whole batch, coded.
    await assert.rejects(
      bulkLoadSynthetic(index, { patients: 1, studiesPerPatient: 1, seriesPerStudy: 1, instancesPerSeries: 1, seed: 3 }),
      (e) => isPacsError(e, 'INDEX_FAILURE'),
    );
    await index.close();
  });

  test('two connections on one WAL file see each other and do not deadlock', async () => {
    const path = freshPath();
    const a = await openMigrated(path, true);
    const b = await openMigrated(path, true);
    await a.storeInstance(record({ sop: 'i1' }), 'insert');
    await b.storeInstance(record({ sop: 'i2' }), 'insert');
    await assert.rejects(b.storeInstance(record({ sop: 'i1', path: 'x.dcm' }), 'insert'), (e) => isPacsError(e, 'DUPLICATE_INSTANCE'));
    assert.equal((await a.statistics()).instances, 2);
    await a.close();
    await b.close();
  });
});
