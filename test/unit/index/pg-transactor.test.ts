// The PostgreSQL transaction runner against a scripted client: when a COMMIT's answer is lost
// with the connection the outcome is unknown (UncertainCommit, the connection dropped, no
// retry); a COMMIT that the server refused is an ordinary failure, retried when it may be.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { isPacsError } from '../../../src/core/errors.js';
import { UncertainCommit } from '../../../src/index/errors.js';
import { commitOutcomeUnknown, transactor } from '../../../src/index/postgres/db.js';

type Answer = Error | null;

/** A write transaction's BEGIN: its lock waits bounded (LOCK_WAIT_MS) in the same message. */
const BEGIN_WRITE = 'BEGIN; SET LOCAL lock_timeout = 30000';

/** A pool whose one client answers each statement from `script` (by SQL text), recording what it saw. */
function scriptedPool(script: (sql: string, attempt: number) => Answer) {
  const seen: string[] = [];
  const releases: boolean[] = [];
  let attempt = 0;
  const client = {
    query(sql: string, _params: unknown[], cb: (err: Error | null, result?: { rows: unknown[]; rowCount: number }) => void): void {
      seen.push(sql);
      if (sql.startsWith('BEGIN')) attempt++;
      const err = script(sql, attempt);
      setImmediate(() => (err ? cb(err) : cb(null, { rows: [], rowCount: 1 })));
    },
    release(broken?: boolean): void {
      releases.push(broken === true);
    },
  };
  const pool = { connect: async () => client } as unknown as pg.Pool;
  return { pool, seen, releases };
}

const withCode = (message: string, code?: string): Error => Object.assign(new Error(message), code === undefined ? {} : { code });

test('which COMMIT failures leave the outcome unknown', () => {
  assert.equal(commitOutcomeUnknown(new Error('Connection terminated unexpectedly')), true);
  assert.equal(commitOutcomeUnknown(withCode('read ECONNRESET', 'ECONNRESET')), true);
  assert.equal(commitOutcomeUnknown(withCode('terminating connection due to administrator command', '57P01')), true);
  assert.equal(commitOutcomeUnknown(withCode('connection failure', '08006')), true);
  assert.equal(commitOutcomeUnknown(withCode('could not serialize access', '40001')), false);
  assert.equal(commitOutcomeUnknown(withCode('duplicate key value', '23505')), false);
});

test('the connection lost during COMMIT: UncertainCommit, no ROLLBACK, no retry, the client dropped', async () => {
  const { pool, seen, releases } = scriptedPool((sql) => (sql === 'COMMIT' ? new Error('Connection terminated unexpectedly') : null));
  const transact = transactor(pool, () => false);
  await assert.rejects(
    transact('write', (db) => db.query('INSERT INTO t VALUES (1)')),
    (e) => e instanceof UncertainCommit && isPacsError(e, 'INDEX_FAILURE'),
  );
  assert.deepEqual(seen, [BEGIN_WRITE, 'INSERT INTO t VALUES (1)', 'COMMIT']);
  assert.deepEqual(releases, [true]);
});

test('a COMMIT refused with a serialization failure is rolled back and run again', async () => {
  const { pool, seen, releases } = scriptedPool((sql, attempt) => (sql === 'COMMIT' && attempt === 1 ? withCode('could not serialize access', '40001') : null));
  const transact = transactor(pool, () => false);
  assert.equal(await transact('write', async (db) => (await db.query('UPDATE t SET x = 1')).rowCount), 1);
  assert.deepEqual(seen, [BEGIN_WRITE, 'UPDATE t SET x = 1', 'COMMIT', 'ROLLBACK', BEGIN_WRITE, 'UPDATE t SET x = 1', 'COMMIT']);
  assert.deepEqual(releases, [false, false]);
});

test('a COMMIT sent by the work behind its last statements (db.commit): not sent again; lost with the connection, UncertainCommit', async () => {
  const ok = scriptedPool(() => null);
  const transact = transactor(ok.pool, () => false);
  await transact('write', async (db) => {
    const last = db.query('INSERT INTO changes VALUES (1)');
    const commit = db.commit!();
    await Promise.all([last, commit]);
  });
  assert.deepEqual(ok.seen, [BEGIN_WRITE, 'INSERT INTO changes VALUES (1)', 'COMMIT'], 'one COMMIT, sent before the insert was answered');
  assert.deepEqual(ok.releases, [false]);

  const lost = scriptedPool((sql) => (sql === 'COMMIT' ? new Error('Connection terminated unexpectedly') : null));
  await assert.rejects(
    transactor(lost.pool, () => false)('write', async (db) => {
      await Promise.all([db.query('INSERT INTO changes VALUES (1)'), db.commit!()]);
    }),
    (e) => e instanceof UncertainCommit,
  );
  assert.deepEqual(lost.seen, [BEGIN_WRITE, 'INSERT INTO changes VALUES (1)', 'COMMIT'], 'no ROLLBACK, no retry');
  assert.deepEqual(lost.releases, [true]);

  // A statement before it failed (a race with another server): the COMMIT ended the aborted
  // transaction as a rollback; the failure is seen, and the whole transaction runs again.
  const race = scriptedPool((sql, attempt) => (sql.startsWith('INSERT') && attempt === 1 ? withCode('duplicate key value', '23505') : null));
  await transactor(race.pool, () => false)(
    'write',
    async (db) => {
      const insert = db.query('INSERT INTO series VALUES (1)');
      const commit = db.commit!();
      commit.catch(() => undefined);
      await insert;
      await commit;
    },
    { retryRaces: true },
  );
  assert.deepEqual(race.seen, [BEGIN_WRITE, 'INSERT INTO series VALUES (1)', 'COMMIT', 'ROLLBACK', BEGIN_WRITE, 'INSERT INTO series VALUES (1)', 'COMMIT']);
});

test('with a timeout, a statement that never answers fails in time; the client is dropped, not rolled back on', async () => {
  const { pool, seen, releases } = scriptedPool(() => null);
  // The UPDATE's answer never comes (a connection that no longer answers).
  const silent = pool as unknown as { connect: () => Promise<{ query: (sql: string, p: unknown[], cb: () => void) => void }> };
  const connect = silent.connect;
  silent.connect = async () => {
    const client = await connect();
    const query = client.query.bind(client);
    client.query = (sql, p, cb) => (sql.startsWith('UPDATE') ? void seen.push(sql) : query(sql, p, cb));
    return client;
  };
  const transact = transactor(pool, () => false);
  const started = Date.now();
  await assert.rejects(
    transact('write', (db) => db.query('UPDATE jobs SET lease_until = 1'), { timeoutMs: 200 }),
    (e) => isPacsError(e, 'INDEX_FAILURE') && /did not answer in time/.test((e as Error).message),
  );
  const took = Date.now() - started;
  assert.ok(took >= 190 && took < 2000, `gave up after ${took} ms`);
  assert.deepEqual(seen, [BEGIN_WRITE, 'UPDATE jobs SET lease_until = 1']);
  assert.deepEqual(releases, [true]);
});

test('with a timeout, waiting for a connection counts too; one that comes late goes back to the pool', async () => {
  const releases: boolean[] = [];
  let hand: (c: unknown) => void = () => undefined;
  const pool = { connect: () => new Promise((r) => (hand = r)) } as unknown as pg.Pool;
  const transact = transactor(pool, () => false);
  await assert.rejects(transact('write', async () => 1, { timeoutMs: 50 }), /cannot connect to PostgreSQL: .*did not answer in time/);
  hand({ query: () => undefined, release: (broken?: boolean) => releases.push(broken === true) });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(releases, [false]);
});
