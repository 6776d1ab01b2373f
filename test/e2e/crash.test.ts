// Crash safety: the built pacs_server killed with SIGKILL at a random moment while three
// storescu associations send to it, three times over; after a restart every instance that
// storescu saw acknowledged is in the index with an intact file, no temporary file is left,
// and `pacs verify` finds the index and the files in agreement (after `--repair` has indexed
// any file that was moved into place but not acknowledged when the process died).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { writeSyntheticCT } from '../../bench/synthetic.js';
import { openTestIndex } from '../helpers/index-backend.js';
import { baseYaml, pacs, startServer, tempDir } from './spawn.js';

const ROUNDS = 3;
const SENDERS = 3;

/** Runs storescu -v on `files`; `onAck` sees each file acknowledged with Success as it happens. */
function send(port: number, files: string[], onAck: (file: string) => void): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('storescu', ['-v', '-aec', 'PACS_SERVER', '127.0.0.1', String(port), ...files], { env: { ...process.env, TCP_NODELAY: '1' } });
    let current: string | null = null;
    let pending = '';
    const read = (d: Buffer): void => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const sending = /Sending file: (.+)$/.exec(line);
        if (sending) current = sending[1]!.trim();
        else if (current && /Received Store Response \(Success\)/.test(line)) onAck(current);
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.on('close', () => resolve());
  });
}

describe('crash safety (kill -9 during ingest)', () => {
  const dir = tempDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test(`${ROUNDS} kills at random moments: every acknowledged instance survives, index and files agree`, async () => {
    const files = writeSyntheticCT({ dir: path.join(dir, 'input'), count: 600, rows: 256, columns: 256, perSeries: 50, set: 41 });
    const sopOf = new Map(files.map((f, i) => [f, i]));
    const acknowledged = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const server = await startServer(dir, (port) => baseYaml(port));
      const todo = files.filter((f) => !acknowledged.has(f));
      // The kill comes once a random share (10–60 %) of this round's files is acknowledged:
      // always in the middle of the ingest, however fast this machine is today.
      const killAt = Math.max(1, Math.floor(todo.length * (0.1 + Math.random() * 0.5)));
      let acked = 0;
      let killed: Promise<unknown> | null = null;
      const onAck = (f: string): void => {
        acknowledged.add(f);
        if (++acked >= killAt) killed ??= server.stop('SIGKILL');
      };
      await Promise.all(Array.from({ length: SENDERS }, (_, k) => send(server.port, todo.filter((_f, i) => i % SENDERS === k), onAck)));
      await (killed ?? server.stop('SIGKILL'));
      assert.ok(acknowledged.size < files.length, `round ${round}: every instance was stored before the kill`);
    }
    assert.ok(acknowledged.size > 0, 'some instances were acknowledged before the kills');

    // A restart removes what the dead processes left in the staging folder.
    const restarted = await startServer(dir, (port) => baseYaml(port));
    const incoming = path.join(dir, 'archive', '.incoming');
    const leftovers = fs.existsSync(incoming) ? fs.readdirSync(incoming).filter((f) => fs.statSync(path.join(incoming, f)).size > 0) : [];
    assert.deepEqual(leftovers, [], 'no partly written temporary file after the restart');
    assert.equal(await restarted.stop('SIGTERM'), 0);

    const repair = await pacs(['verify', '--config', path.join(dir, 'pacs_server.yaml'), '--repair'], dir);
    assert.ok(!/MISSING-FILE|SIZE-MISMATCH|CHECKSUM-MISMATCH|UNREADABLE-FILE/.test(repair.stdout), `only unacknowledged whole files may need indexing:\n${repair.stdout}`);
    const verify = await pacs(['verify', '--config', path.join(dir, 'pacs_server.yaml')], dir);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);

    const index = await openTestIndex(dir, { readonly: true });
    try {
      for (const f of acknowledged) {
        const uid = `2.25.99887766.${process.pid}.41.1.${sopOf.get(f)! + 1}`;
        const loc = await index.findInstance(uid);
        assert.ok(loc, `acknowledged ${uid} is indexed`);
        assert.equal(fs.statSync(path.join(dir, 'archive', loc.path)).size, loc.size);
      }
    } finally {
      await index.close();
    }
  });
});
