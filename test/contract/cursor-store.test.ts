// The change-log cursors on every backend (src/index/cursors.ts): a cursor new to the index
// starts at the end of the log, advancing never moves it back (also when two servers on one
// PostgreSQL index race), and the changes after a position come with their instance's provenance.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { applyMigrations, MIGRATIONS } from '../../src/index/sqlite/migrations.js';
import { applyPgMigrations, PG_MIGRATIONS } from '../../src/index/postgres/migrations.js';
import { quoteSchema } from '../../src/index/postgres/db.js';
import { BACKENDS, freshSchema, inSchema, openPostgres, withPostgres } from './backends.js';
import { record } from './fixtures.js';

const RECEIVED = 'instance.received';

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`cursor store (${backend.name})`, () => {
    test('the instance.received cursor exists from the start, at the end of the (empty) log', async () => {
      const index = await (await fresh())();
      assert.equal(await index.cursors.position(RECEIVED), 0);
      await index.storeInstance(record({ sop: '1.1' }), 'insert');
      assert.equal(await index.cursors.position(RECEIVED), 0, 'a stored instance does not move it');
      await index.close();
    });

    test('a new cursor starts at the end of the log, and stays there while the log grows', async () => {
      const index = await (await fresh())();
      const a = await index.storeInstance(record({ sop: '1.1' }), 'insert');
      const b = await index.storeInstance(record({ sop: '1.2' }), 'insert');
      assert.equal(await index.cursors.position('other'), b.changeSeq);
      await index.storeInstance(record({ sop: '1.3' }), 'insert');
      assert.equal(await index.cursors.position('other'), b.changeSeq);
      assert.ok(a.changeSeq < b.changeSeq);
      await index.close();
    });

    test('advance never moves back; advanceToEnd moves to the last change, never back either', async () => {
      const place = await fresh();
      const index = await place();
      assert.equal(await index.cursors.advance('x', 5), 5, 'advancing a cursor not there yet makes it');
      assert.equal(await index.cursors.advance('x', 3), 5);
      assert.equal(await index.cursors.advance('x', 5), 5);
      assert.equal(await index.cursors.advance('x', 9), 9);
      assert.equal(await index.cursors.advanceToEnd('x'), 9, 'an empty log is not further');
      const seqs = [];
      for (let i = 1; i <= 12; i++) seqs.push((await index.storeInstance(record({ sop: `1.${i}` }), 'insert')).changeSeq);
      const last = seqs[seqs.length - 1]!;
      assert.equal(await index.cursors.advanceToEnd('x'), last);
      assert.equal(await index.cursors.advanceToEnd('new'), last, 'advanceToEnd makes a cursor too');
      assert.equal(await index.cursors.position(RECEIVED), 0, 'cursors are independent');
      await index.close();
      const again = await place();
      assert.equal(await again.cursors.position('x'), last, 'kept across a reopen');
      await again.close();
    });

    test('changesAfter: in order, limited, with provenance; deleted and replaced instances as they are now', async () => {
      const index = await (await fresh())();
      const r1 = record({ sop: '1.1' });
      const r2 = { ...record({ sop: '1.2', study: '9.9' }), provenance: { callingAE: 'SCANNER', calledAE: 'PACS_SERVER', remoteAddress: '10.0.0.7', source: 'stow' as const } };
      const r3 = { ...record({ sop: '1.3' }), provenance: { callingAE: null, calledAE: null, remoteAddress: null, source: 'reindex' as const } };
      const s1 = (await index.storeInstance(r1, 'insert')).changeSeq;
      const s2 = (await index.storeInstance(r2, 'insert')).changeSeq;
      const s3 = (await index.storeInstance(r3, 'insert')).changeSeq;
      const all = await index.cursors.changesAfter(0, 100);
      assert.deepEqual(all.map((c) => [c.seq, c.kind, c.sopInstanceUID]), [[s1, 'instance.stored', '1.1'], [s2, 'instance.stored', '1.2'], [s3, 'instance.stored', '1.3']]);
      assert.deepEqual(all[1], { seq: s2, kind: 'instance.stored', sopInstanceUID: '1.2', studyUID: '9.9', source: { callingAE: 'SCANNER', calledAE: 'PACS_SERVER', remoteAddress: '10.0.0.7', source: 'stow' } });
      assert.equal(all[2]!.source?.source, 'reindex');
      assert.deepEqual((await index.cursors.changesAfter(s1, 1)).map((c) => c.seq), [s2]);
      assert.deepEqual(await index.cursors.changesAfter(s3, 10), []);

      await index.deleteInstance('1.1');
      const replaced = { ...record({ sop: '1.2', study: '9.9', path: 'other.dcm' }), provenance: { callingAE: 'OTHER', calledAE: 'PACS_SERVER', remoteAddress: '10.0.0.8', source: 'dimse' as const } };
      const s5 = (await index.storeInstance(replaced, 'replace')).changeSeq;
      const now = await index.cursors.changesAfter(0, 100);
      assert.equal(now[0]!.source, null, 'deleted since: no provenance');
      assert.equal(now[1]!.source?.callingAE, 'OTHER', "the row's latest sender");
      assert.deepEqual(now.slice(3).map((c) => [c.kind, c.sopInstanceUID, c.source?.callingAE ?? null]), [['instance.deleted', '1.1', null], ['instance.replaced', '1.2', 'OTHER']]);
      assert.equal(now[4]!.seq, s5);
      await index.close();
    });

    test('find makes no cursor; changedInstances: one study, the range (after, upTo], stored and replaced, not deleted', async () => {
      const index = await (await fresh())();
      assert.equal(await index.cursors.find('rule:x'), null);
      assert.equal(await index.cursors.find('rule:x'), null, 'still none: find made nothing');
      const s1 = (await index.storeInstance(record({ sop: '1.1', study: '7' }), 'insert')).changeSeq;
      const s2 = (await index.storeInstance(record({ sop: '1.2', study: '7' }), 'insert')).changeSeq;
      await index.storeInstance(record({ sop: '2.1', study: '8' }), 'insert');
      const s4 = (await index.storeInstance(record({ sop: '1.1', study: '7', path: 'again.dcm' }), 'replace')).changeSeq;
      const s5 = (await index.storeInstance(record({ sop: '1.3', study: '7' }), 'insert')).changeSeq;
      await index.deleteInstance('1.2');
      await index.cursors.advance('rule:x', s2);
      assert.equal(await index.cursors.find('rule:x'), s2);
      const sorted = async (after: number, upTo: number) => [...((await index.cursors.changedInstances('7', after, upTo)) ?? ['whole study'])].sort();
      assert.deepEqual(await sorted(0, s2), ['1.1', '1.2']);
      assert.deepEqual(await sorted(s2, s4), ['1.1'], 'the replaced one; not the other study');
      assert.deepEqual(await sorted(s1, s5 + 10), ['1.1', '1.2', '1.3'], 'a deletion is not a change to send (the row is gone anyway)');
      assert.deepEqual(await sorted(s5, s5 + 10), []);
      await index.close();
    });

    test('pruneChanges: old changes no follower needs go; never past a following cursor, the stability, or the newest; a range behind the pruned point reads as the whole study', async () => {
      const index = await (await fresh())();
      try {
        const seqs: number[] = [];
        for (let i = 1; i <= 6; i++) seqs.push((await index.storeInstance(record({ sop: `5.${i}`, study: '5' }), 'insert')).changeSeq);
        const future = new Date(Date.now() + 60_000); // every change is older than this
        // A follower (the received rules' cursor) at the third change holds the rest.
        await index.cursors.advance('instance.received', seqs[2]!);
        await index.cursors.advance('rule:lab:ab12:STUDY:5', seqs[0]!); // acted long ago: does not hold the log
        assert.equal(await index.cursors.pruneChanges(new Date(0), 100), 0, 'nothing older than the cutoff');
        assert.equal(await index.cursors.pruneChanges(future, 100), 3, 'up to the follower');
        assert.deepEqual((await index.changesSince(0, 100)).map((c) => c.seq), seqs.slice(3));
        assert.equal(await index.cursors.changedInstances('5', seqs[0]!, seqs[5]!), null, 'a range behind the pruned point: the whole study');
        assert.deepEqual([...(await index.cursors.changedInstances('5', seqs[3]!, seqs[5]!))!].sort(), ['5.5', '5.6'], 'one after it: read as before');
        // The follower at the end: the newest change stays (new cursors start there).
        await index.cursors.advance('instance.received', seqs[5]!);
        assert.equal(await index.cursors.pruneChanges(future, 1), 1, 'at most the limit');
        assert.equal(await index.cursors.pruneChanges(future, 100), 1);
        assert.deepEqual((await index.changesSince(0, 100)).map((c) => c.seq), [seqs[5]]);
        const next = (await index.storeInstance(record({ sop: '5.7', study: '5' }), 'insert')).changeSeq;
        assert.ok(next > seqs[5]!, 'sequence numbers are not reused');
      } finally {
        await index.close();
      }
    });

    test('pruneActed: the rules\' cursors of studies and series no longer indexed go, the others stay', async () => {
      const index = await (await fresh())();
      await index.storeInstance(record({ sop: '3.1', study: '3.10', series: '3.10.1' }), 'insert');
      await index.storeInstance(record({ sop: '4.1', study: '4.10', series: '4.10.1' }), 'insert');
      const names = ['rule:lab:ab12:STUDY:3.10', 'rule:lab:ab12:SERIES:3.10.1', 'rule:lab.2:cd34:STUDY:4.10', 'rule:lab.2:cd34:SERIES:4.10.1', 'other:STUDY:4.10'];
      for (const n of names) await index.cursors.advance(n, 1);
      assert.equal(await index.cursors.pruneActed(), 0, 'nothing deleted yet');
      await index.deleteInstance('4.1');
      assert.equal(await index.cursors.pruneActed(), 2);
      for (const [n, kept] of names.map((n) => [n, !n.startsWith('rule:lab.2')] as const)) assert.equal((await index.cursors.find(n)) !== null, kept, n);
      assert.equal(await index.cursors.position(RECEIVED), 0, 'the received cursor stays');
      await index.close();
    });
  });
});

describe('migration 10 puts the instance.received cursor at the end of an existing log', () => {
  const changes = `INSERT INTO changes (kind, level, uid, study_uid, at) VALUES ('instance.stored', 'instance', '1.1', '9', 1), ('instance.stored', 'instance', '1.2', '9', 2), ('instance.deleted', 'instance', '1.1', '9', 3)`;

  test('SQLite', () => {
    const db = new Database(':memory:');
    applyMigrations(db, MIGRATIONS.filter((m) => m.version < 10));
    db.exec(changes);
    applyMigrations(db);
    assert.deepEqual(db.prepare('SELECT name, seq FROM cursors').all(), [{ name: RECEIVED, seq: 3 }]);
    db.close();
  });

  withPostgres('PostgreSQL', (url) =>
    test('PostgreSQL', async () => {
      const client = new pg.Client({ connectionString: inSchema(url, quoteSchema(await freshSchema(url))) });
      await client.connect();
      try {
        await applyPgMigrations(client as unknown as pg.PoolClient, PG_MIGRATIONS.filter((m) => m.version < 10));
        await client.query(changes);
        await applyPgMigrations(client as unknown as pg.PoolClient);
        assert.deepEqual((await client.query('SELECT name, seq::int AS seq FROM cursors')).rows, [{ name: RECEIVED, seq: 3 }]);
      } finally {
        await client.end();
      }
    }),
  );
});

withPostgres('cursors of two servers on one PostgreSQL index', (url) =>
  test('two servers advancing one cursor at once: it ends at the furthest position; making one at once: one row', async () => {
    const schema = await freshSchema(url);
    const [a, b] = [await openPostgres(url, schema), await openPostgres(url, schema)];
    try {
      const targets = Array.from({ length: 60 }, (_, i) => ((i * 37) % 60) + 1);
      await Promise.all(
        targets.map(async (seq, i) => {
          const now = await (i % 2 ? a : b).cursors.advance('race', seq);
          assert.ok(now >= seq, `advance(${seq}) answered ${now}`);
        }),
      );
      assert.equal(await a.cursors.position('race'), 60);
      assert.equal(await b.cursors.position('race'), 60);
      // Two servers making the same new cursor at once: one row, at the end of the log.
      await a.storeInstance(record({ sop: '1.1' }), 'insert');
      const made = await Promise.all([a.cursors.position('new'), b.cursors.position('new'), a.cursors.advanceToEnd('end'), b.cursors.advanceToEnd('end')]);
      assert.deepEqual(made, [1, 1, 1, 1]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }),
);
