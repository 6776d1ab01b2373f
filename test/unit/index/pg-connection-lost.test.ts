// A PostgreSQL server that ends a connection in use — pg_terminate_backend, a fast shutdown, a
// failover — must fail what was under way on it, never the process: node-pg emits the client's
// 'error' while it is checked out, and nothing listened (the process exited). A fake server
// speaking just enough of the protocol (PS: protocol 3.0) ends the connection mid-transaction
// and while an instance lock is held.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, test } from 'node:test';
import { isPacsError } from '../../../src/core/errors.js';
import { createPool, transactor } from '../../../src/index/postgres/db.js';
import { PgInstanceLocks } from '../../../src/index/postgres/instance-lock.js';

const message = (type: string, body: Buffer = Buffer.alloc(0)): Buffer => {
  const b = Buffer.alloc(5 + body.length);
  b.write(type, 0);
  b.writeInt32BE(4 + body.length, 1);
  body.copy(b, 5);
  return b;
};
const ready = (status: 'I' | 'T'): Buffer => message('Z', Buffer.from(status));
const complete = (tag: string): Buffer => message('C', Buffer.from(`${tag}\0`));
const terminated = message('E', Buffer.from('SFATAL\0C57P01\0Mterminating connection due to administrator command\0\0'));

/**
 * A server that answers the start-up, then hands each frontend message's type to `answer`;
 * `answer` writes what it wants and returns false to end the connection.
 */
async function fakeServer(answer: (type: string, socket: net.Socket) => boolean): Promise<string> {
  const server = net.createServer((socket) => {
    let buf = Buffer.alloc(0);
    let started = false;
    socket.on('error', () => {});
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (!started) {
          if (buf.length < 4 || buf.length < buf.readInt32BE(0)) return;
          buf = buf.subarray(buf.readInt32BE(0));
          started = true;
          socket.write(Buffer.concat([message('R', Buffer.from([0, 0, 0, 0])), ready('I')]));
          continue;
        }
        if (buf.length < 5 || buf.length < 1 + buf.readInt32BE(1)) return;
        const type = String.fromCharCode(buf[0]!);
        buf = buf.subarray(1 + buf.readInt32BE(1));
        if (type === 'X') return void socket.end();
        if (!answer(type, socket)) return void socket.end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => new Promise<void>((r) => server.close(() => r())));
  return `postgres://u:p@127.0.0.1:${(server.address() as net.AddressInfo).port}/db`;
}

test('a connection ended in the middle of a transaction fails that transaction; the process goes on', async () => {
  let statements = 0;
  const url = await fakeServer((type, socket) => {
    if (type !== 'Q' && type !== 'S') return true;
    if (++statements === 1) {
      socket.write(Buffer.concat([complete('BEGIN'), ready('T')]));
      return true;
    }
    socket.write(terminated);
    return false;
  });
  const pool = createPool({ url, max: 2 });
  after(() => pool.end().catch(() => {}));
  const transact = transactor(pool, () => false);
  await assert.rejects(transact('write', (db) => db.query('INSERT INTO t VALUES ($1)', [1])), (e) => isPacsError(e, 'INDEX_FAILURE'));
  // An unhandled 'error' would have ended the process by now; the event loop turns once more.
  await new Promise((r) => setTimeout(r, 100));
});

test('a lock connection ended while its store runs: the store finishes, the lock is given up, the process goes on', async () => {
  const url = await fakeServer((type, socket) => {
    if (type === 'Q') socket.write(Buffer.concat([complete('BEGIN'), ready('T')]));
    if (type === 'S') {
      // The lock's answer (parse, bind, no data, complete), then the connection ended while the store works.
      socket.write(Buffer.concat([message('1'), message('2'), message('n'), complete('SELECT 1'), ready('T')]));
      setTimeout(() => {
        socket.write(terminated);
        socket.end();
      }, 20);
    }
    return true;
  });
  const locks = new PgInstanceLocks({ url });
  after(() => locks.close().catch(() => {}));
  const value = await locks.run('1.2.3', () => new Promise((r) => setTimeout(() => r('stored'), 150)));
  assert.equal(value, 'stored');
  await new Promise((r) => setTimeout(r, 100));
});
