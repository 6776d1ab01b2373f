// pacs migrate-index: an SQLite index (rows, a deleted instance, jobs, nodes, worklist, the
// stability table) copied into PostgreSQL answers the same, and carries on numbering after it;
// refused while a server holds the file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SqliteIndex } from '../../src/index/sqlite/sqlite-index.js';
import type { ArchiveIndex } from '../../src/index/types.js';
import { CT, MR, record } from '../contract/fixtures.js';
import { freshSchema, inSchema, openPostgres, withPostgres } from '../contract/backends.js';
import { pacs, tempDir } from './spawn.js';

/** What the two indexes must agree on. */
async function snapshot(index: ArchiveIndex) {
  return {
    statistics: await index.statistics(),
    studies: await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: [{ keyword: 'PatientName', value: '' }, { keyword: 'ModalitiesInStudy', value: '' }] }),
    instances: await index.listInstances(null, 100),
    changes: await index.changesSince(0, 100),
    jobs: (await index.jobs.list({ limit: 10, offset: 0 })).jobs,
    nodes: await index.nodes.list(),
    worklist: (await index.worklist.list({ limit: 10, offset: 0 })).entries,
    stability: await index.stability.pending(10),
    patient: await index.findPatient('P2', null),
  };
}

withPostgres('pacs migrate-index', (url) => {
  describe('pacs migrate-index', () => {
    test('copies every table; the copy answers the same and numbers on after the source', async () => {
      const dir = tempDir();
      const file = path.join(dir, 'pacs.db');
      const sqlite = SqliteIndex.open({ path: file, walMode: true });
      await sqlite.migrate();
      for (let k = 0; k < 6; k++) {
        await sqlite.storeInstance(record({ sop: `5.${k}`, study: `5.s${k % 2}`, series: `5.s${k % 2}.${k % 3}`, patientId: `P${k % 2}`, modality: k % 3 ? 'MR' : 'CT', sopClass: k % 3 ? MR : CT }), 'insert');
      }
      await sqlite.deleteInstance('5.5');
      await sqlite.storeInstance(record({ sop: '5.9', study: '5.s9', patientId: 'P2', patientName: 'Ünal^Ayşe' }), 'insert');
      await sqlite.jobs.enqueue({ type: 'send', payload: { study: '5.s0' }, maxAttempts: 3, dedupeKey: 'k' });
      await sqlite.nodes.put({ ae_title: 'WS1', host: 'ws1', port: 104, tls: false, permissions: ['store'], description: 'x' });
      await sqlite.worklist.add('api', null, { '00100020': { vr: 'LO', Value: ['P1'] } });
      await sqlite.stability.catchUp(100);
      const before = await snapshot(sqlite);
      await sqlite.close();

      const schema = await freshSchema(url);
      const target = inSchema(url, schema);
      // A server still on the file: refused, nothing copied (the target stays empty for the copy below).
      const served = SqliteIndex.open({ path: file, walMode: true });
      const release = await served.serve();
      try {
        const refused = await pacs(['migrate-index', '--from', `sqlite:${file}`, '--to', target]);
        assert.equal(refused.code, 1, refused.stdout + refused.stderr);
        assert.match(refused.stderr, /pacs migrate-index: .*; nothing was copied/);
      } finally {
        await release();
        await served.close();
      }
      const r = await pacs(['migrate-index', '--from', `sqlite:${file}`, '--to', target]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /Migrated the index to PostgreSQL: 3 patients, 3 studies, \d+ series, 6 instances, 1 jobs/);

      const pg = await openPostgres(url, schema);
      try {
        assert.deepEqual(await snapshot(pg), before);
        const next = await pg.storeInstance(record({ sop: '5.10', study: '5.s9', patientId: 'P2' }), 'insert');
        assert.ok(next.changeSeq > Math.max(...before.changes.map((c) => c.seq)), 'change numbers go on after the source');
        const again = await pacs(['migrate-index', '--from', `sqlite:${file}`, '--to', target]);
        assert.notEqual(again.code, 0, 'a target with rows is refused');
        assert.match(again.stdout + again.stderr, /not empty/);
      } finally {
        await pg.close();
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
});
