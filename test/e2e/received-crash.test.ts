// Rules "on: instance.received" survive a crash (issue 6): the server is SIGKILLed as soon as
// storescu has its last acknowledgement, before it has queued the rules' jobs for the last
// instances (it looks at the change log shortly after a store). After the restart every
// instance has exactly one job per action and every export is there once: those that had been
// queued are not queued again, those that had not are.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Job } from '../../src/index/jobs.js';
import { run } from '../helpers/dcmtk.js';
import { listTree, makeStudy, waitFor } from '../helpers/research.js';
import { baseYaml, pacs, startServer, tempDir } from './spawn.js';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const ACTIONS = 3;

async function jobs(configFile: string): Promise<Job[]> {
  const r = await pacs(['jobs', 'list', '--config', configFile, '--type', 'export', '--json', '-n', '100000']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Job[];
}

test('killed before the jobs of the last instances received were queued, it queues them after restart, once each', async () => {
  const out = path.join(dir, 'out');
  // A rule's folder must exist: it is never created (export-job.ts).
  for (let i = 0; i < ACTIONS; i++) fs.mkdirSync(path.join(out, `a${i}`), { recursive: true });
  const actions = Array.from({ length: ACTIONS }, (_, i) => `{ type: export, to: ${JSON.stringify(path.join(out, `a${i}`))}, template: "{SOPInstanceUID}.dcm" }`);
  const yaml = (port: number): string =>
    baseYaml(
      port,
      `stability: { stable_after: 60, check_interval: 0.2 }
jobs: { backoff_seconds: 1 }
rules:
  - name: each
    on: instance.received
    match: { CallingAE: SCANNER }
    actions: [ ${actions.join(', ')} ]
`,
    );
  // The follower looks at most 0.1 s after a store: killed within a few ms of the last
  // acknowledgement, the server has most often not queued the last instances' jobs. When it
  // happened to have queued them all, the attempt shows nothing: send another study and kill again.
  const uids: string[] = [];
  let server = await startServer(dir, yaml);
  let atKill = 0;
  for (let attempt = 1; attempt <= 4; attempt++) {
    if (attempt > 1) server = await startServer(dir, yaml);
    const study = await makeStudy(path.join(dir, `in${attempt}`), { patientID: 'RECV_CRASH', studyDescription: 'Received crash', series: [{ number: 1, description: 'A', count: 19 }, { number: 2, description: 'B', count: 11 }] });
    const sent = await run('storescu', ['-aet', 'SCANNER', '-aec', 'PACS_SERVER', '127.0.0.1', String(server.port), ...study.files]);
    await server.stop('SIGKILL');
    assert.equal(sent.code, 0, sent.stderr);
    const dumped = await run('dcmdump', ['-q', '+P', '0008,0018', ...study.files]);
    uids.push(...[...dumped.stdout.matchAll(/\[([0-9.]+)\]/g)].map((m) => m[1]!));
    atKill = (await jobs(server.configFile)).length;
    if (atKill < uids.length * ACTIONS) break;
  }
  uids.sort();
  const expected = uids.length * ACTIONS;
  assert.ok(atKill < expected, `killed while jobs were still to be queued (${atKill} of ${expected} queued)`);

  server = await startServer(dir, yaml);
  try {
    await waitFor('every job queued and done', async () => {
      const all = await jobs(server.configFile);
      return all.length === expected && all.every((j) => j.state === 'succeeded');
    }, 60_000);
    await new Promise((r) => setTimeout(r, 1000)); // nothing more should be queued
    const all = await jobs(server.configFile);
    const keys = all.map((j) => `${j.payload.uid as string} ${path.basename(j.payload.to as string)}`).sort();
    assert.deepEqual(keys, uids.flatMap((u) => Array.from({ length: ACTIONS }, (_, i) => `${u} a${i}`)).sort(), 'one job per instance and action');
    assert.equal(new Set(all.map((j) => j.dedupeKey)).size, all.length, 'each with its own dedupe key');
    for (let i = 0; i < ACTIONS; i++) assert.deepEqual(listTree(path.join(out, `a${i}`)), uids.map((u) => `${u}.dcm`).sort(), `action ${i}: every export once`);
  } finally {
    await server.stop();
  }
});
