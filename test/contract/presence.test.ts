// Servers and maintenance tools on one index: a server holds its presence from start to stop;
// pacs reindex and verify --repair (maintain) refuse to run meanwhile, and servers refuse to
// start while one of them runs. On SQLite one server per file; a marker left by a process that
// is gone does not lock anyone out. On PostgreSQL several servers serve one index at once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { IndexInUseError } from '../../src/index/errors.js';
import { SqliteIndex } from '../../src/index/sqlite/sqlite-index.js';
import { holdMarker } from '../../src/index/sqlite/presence.js';
import { HOST } from '../../src/core/process-alive.js';
import { BACKENDS } from './backends.js';

/** The backends holding the presence lock (advisory locks of its namespace, 'PPRS'), asked through another index of the same database. */
async function presenceHolders(admin: unknown): Promise<number[]> {
  const pg = admin as { pool: { query: (sql: string) => Promise<{ rows: { pid: number }[] }> } };
  return (await pg.pool.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x50505253} AND granted`)).rows.map((r) => r.pid);
}

/** Ends a backend's session, as a network failure would. */
async function terminate(admin: unknown, pid: number): Promise<void> {
  await (admin as { pool: { query: (sql: string) => Promise<unknown> } }).pool.query(`SELECT pg_terminate_backend(${pid})`);
}

const inUse = (text: RegExp) => (e: unknown): boolean => e instanceof IndexInUseError && text.test(e.message);

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`presence of servers and maintenance tools (${backend.name})`, () => {
    test('maintain refuses while a server serves; a server refuses to start while maintain runs; both go once the other ends', async () => {
      const place = await fresh();
      const [server, tool] = [await place(), await place()];
      try {
        const leave = await server.serve();
        let ran = false;
        await assert.rejects(
          tool.maintain(async () => void (ran = true)),
          inUse(/stop/),
        );
        assert.equal(ran, false, 'the tool did nothing');
        await leave();
        const refused = await tool.maintain(async () => {
          ran = true;
          return server.serve().then(
            async (l) => (await l(), null),
            (e: unknown) => e,
          );
        });
        assert.equal(ran, true);
        assert.ok(inUse(/maintenance tool/)(refused), String(refused));
        // Ended: a server starts again.
        await (await server.serve())();
      } finally {
        await server.close();
        await tool.close();
      }
    });

    test('a writer beside a server (pacs import): maintain refuses while it writes; it refuses to start while maintain runs; servers do not mind it', async () => {
      const place = await fresh();
      const [server, importer, tool] = [await place(), await place(), await place()];
      try {
        const served = await server.serve();
        const writing = await importer.writeBeside();
        await served();
        let ran = false;
        await assert.rejects(
          tool.maintain(async () => void (ran = true)),
          inUse(backend.name === 'SQLite' ? /pacs import .* is writing/ : /stop/),
        );
        assert.equal(ran, false, 'the tool did nothing while the import wrote');
        await writing();
        const refused = await tool.maintain(async () => {
          ran = true;
          return importer.writeBeside().then(
            async (l) => (await l(), null),
            (e: unknown) => e,
          );
        });
        assert.equal(ran, true);
        assert.ok(inUse(/maintenance tool/)(refused), String(refused));
        // Ended: an import and a server at once again.
        const again = await importer.writeBeside();
        await (await server.serve())();
        await again();
      } finally {
        await server.close();
        await importer.close();
        await tool.close();
      }
    });

    if (backend.name === 'SQLite')
      test('a writer marker left by a process that is gone does not hold a maintenance tool back', async () => {
        const place = await fresh();
        const tool = await place();
        try {
          const db = (tool as unknown as { options: { path: string } }).options.path;
          fs.mkdirSync(`${db}.writers`, { recursive: true });
          fs.writeFileSync(`${db}.writers/${HOST}-2147483646-dead`, JSON.stringify({ role: 'writer', pid: 2147483646, host: HOST, since: '2026-01-01' }));
          assert.equal(await tool.maintain(async () => 'ran'), 'ran');
          assert.deepEqual(fs.readdirSync(`${db}.writers`), [], 'the leftover removed');
        } finally {
          await tool.close();
        }
      });

    if (backend.name === 'PostgreSQL')
      test('several servers serve one PostgreSQL index at once', async () => {
        const place = await fresh();
        const [a, b, tool] = [await place(), await place(), await place()];
        try {
          const [la, lb] = [await a.serve(), await b.serve()];
          await la();
          await assert.rejects(tool.maintain(async () => undefined), inUse(/stop every server/), 'one still serves');
          await lb();
          assert.equal(await tool.maintain(async () => 'done'), 'done');
        } finally {
          await Promise.all([a.close(), b.close(), tool.close()]);
        }
      });

    if (backend.name === 'PostgreSQL')
      test('a server whose presence connection is cut (pg_terminate_backend) is told, and takes it again', async () => {
        const place = await fresh();
        const [server, tool] = [await place(), await place()];
        const admin = await place();
        try {
          let told: Error | null = null;
          const leave = await server.serve((e) => (told = e));
          const holders = await presenceHolders(admin);
          assert.equal(holders.length, 1);
          await terminate(admin, holders[0]!);
          for (let i = 0; i < 100 && !told; i++) await new Promise((r) => setTimeout(r, 50));
          assert.match(String((told as Error | null)?.message), /presence on the index was lost/);
          // Taken again within a few seconds: the tool is refused once more.
          let refused = false;
          for (let i = 0; i < 40 && !refused; i++) {
            refused = await tool.maintain(async () => false).catch((e: unknown) => e instanceof IndexInUseError);
            if (!refused) await new Promise((r) => setTimeout(r, 250));
          }
          assert.equal(refused, true, 'the server holds its presence again');
          await leave();
        } finally {
          await Promise.all([server.close(), tool.close(), admin.close()]);
        }
      });

    if (backend.name === 'PostgreSQL')
      test("a maintenance tool whose lock's connection is cut takes it again at once: servers stay refused", async () => {
        const place = await fresh();
        const [server, tool] = [await place(), await place()];
        const admin = await place();
        try {
          let told: Error | null = null;
          let inside!: () => void;
          const entered = new Promise<void>((r) => (inside = r));
          let finish!: () => void;
          const work = tool.maintain(
            async () => {
              inside();
              await new Promise<void>((r) => (finish = r));
              return 'done';
            },
            (e) => (told = e),
          );
          await entered;
          const [first] = await presenceHolders(admin);
          await terminate(admin, first!);
          // Taken again: the advisory lock is granted to a new backend, and a server is refused.
          let again = false;
          for (let i = 0; i < 100 && !again; i++) {
            const now = await presenceHolders(admin);
            again = now.length === 1 && now[0] !== first;
            if (!again) await new Promise((r) => setTimeout(r, 50));
          }
          assert.equal(again, true, 'the lock is held again');
          await assert.rejects(server.serve(), (e: unknown) => inUse(/maintenance tool/)(e));
          assert.equal(told, null, 'nothing to stop for');
          finish();
          assert.equal(await work, 'done');
        } finally {
          await Promise.all([server.close(), tool.close(), admin.close()]);
        }
      });
  });
});

describe('presence on SQLite', () => {
  test('one server per file; a marker of a process that is gone is taken over', async () => {
    const dir = fs.mkdtempSync('/tmp/pacs-presence-');
    const path = `${dir}/index.db`;
    const [a, b] = [SqliteIndex.open({ path, walMode: true }), SqliteIndex.open({ path, walMode: true })];
    try {
      const leave = await a.serve();
      await assert.rejects(b.serve(), inUse(/another server \(pid \d+ on .*\) uses this SQLite index/));
      await leave();
      assert.equal(fs.existsSync(`${path}.owner`), false, 'the marker goes with the server');
      // A crash left a marker: its process (a pid no process has) is gone.
      fs.writeFileSync(`${path}.owner`, JSON.stringify({ role: 'server', pid: 2 ** 22 + 7, host: HOST, since: '2026-01-01T00:00:00Z' }));
      const again = await b.serve();
      assert.match(fs.readFileSync(`${path}.owner`, 'utf8'), new RegExp(`"pid":${process.pid}`));
      await again();
    } finally {
      await a.close();
      await b.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('taking over a leftover marker does not remove one another process made meanwhile', async () => {
    const dir = fs.mkdtempSync('/tmp/pacs-presence-');
    const file = `${dir}/index.db.owner`;
    fs.writeFileSync(file, JSON.stringify({ role: 'server', pid: 2 ** 22 + 7, host: HOST, since: '2026-01-01T00:00:00Z' }));
    // Between our read of the leftover and its removal, another process (alive: our parent) took it over.
    const rename = fs.renameSync;
    let raced = false;
    fs.renameSync = ((from: fs.PathLike, to: fs.PathLike) => {
      if (!raced && String(from) === file) {
        raced = true;
        fs.writeFileSync(file, JSON.stringify({ role: 'server', pid: process.ppid, host: HOST, since: new Date().toISOString() }));
      }
      return rename(from, to);
    }) as typeof fs.renameSync;
    try {
      assert.throws(() => holdMarker(file, 'server'), inUse(new RegExp(`another server \\(pid ${process.ppid} `)));
      assert.equal(raced, true);
      assert.match(fs.readFileSync(file, 'utf8'), new RegExp(`"pid":${process.ppid}`), "the other process's marker is where it was");
      assert.deepEqual(fs.readdirSync(dir), ['index.db.owner'], 'nothing left aside');
    } finally {
      fs.renameSync = rename;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
