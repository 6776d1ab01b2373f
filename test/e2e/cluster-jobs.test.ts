// Two pacs_server processes (nodes "a" and "b") on one PostgreSQL index and one storage
// directory, as issue 8's cluster runs them: a study that arrives partly through each server
// becomes stable once and its rules run once (one command run, each file exported once), and
// instances received through both get one job each from a rule on instance.received; and
// a server killed while it runs a job leaves no job stuck — the other takes it over when the
// lease runs out and finishes it.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../helpers/dcmtk.js';
import { listTree, makeStudy, waitFor } from '../helpers/research.js';
import { freshSchema, inSchema, openPostgres, withPostgres } from '../contract/backends.js';
import { type RunningServer, startServer, tempDir } from './spawn.js';
import type { Job } from '../../src/index/jobs.js';

// The rule's command: notes which server ran it (PACS_TEST_NODE, inherited from its server),
// then works for `ms` milliseconds — or, on the first run of the lease test, until its server
// is gone (an orphaned command stops: the job runs again elsewhere).
const SCRIPT = `
const fs = require('node:fs');
const [log, ms, mode] = process.argv.slice(2);
const study = JSON.parse(fs.readFileSync(0, 'utf8')).uid;
const node = process.env.PACS_TEST_NODE;
fs.appendFileSync(log, node + ' start ' + study + '\\n');
const parent = process.ppid;
const first = mode === 'hang-first' && !fs.existsSync(log + '.hung');
if (first) fs.writeFileSync(log + '.hung', node);
const end = Date.now() + (first ? 600000 : Number(ms));
const tick = () => {
  if (process.ppid !== parent) process.exit(3);
  if (Date.now() >= end) { fs.appendFileSync(log, node + ' done ' + study + '\\n'); process.exit(0); }
  setTimeout(tick, 50);
};
tick();
`;

const root = tempDir();
after(() => fs.rmSync(root, { recursive: true, force: true }));

interface Cluster {
  servers: Record<'a' | 'b', RunningServer>;
  schema: string;
  url: string;
}

async function startCluster(url: string, rules: string, extra = ''): Promise<Cluster> {
  const schema = await freshSchema(url);
  const storage = fs.mkdtempSync(path.join(root, 'storage-'));
  const servers: Partial<Cluster['servers']> = {};
  for (const node of ['a', 'b'] as const) {
    const dir = fs.mkdtempSync(path.join(root, `node-${node}-`));
    process.env.PACS_TEST_NODE = node;
    servers[node] = await startServer(
      dir,
      (port) => `
server: { ae_title: PACS_SERVER, port: ${port}, host: 127.0.0.1, shutdown_grace: 3, node_name: ${node} }
storage: { directory: ${JSON.stringify(storage)}, min_free_mb: 0 }
database: { url: ${JSON.stringify(inSchema(url, schema))} }
http: { enabled: false }
monitoring: { enabled: false }
logging: { level: info }
stability: { stable_after: 1, check_interval: 0.2 }
${extra}
rules:
${rules}
`,
    );
  }
  delete process.env.PACS_TEST_NODE;
  return { servers: servers as Cluster['servers'], schema, url };
}

async function jobsOf(c: Cluster): Promise<Job[]> {
  const index = await openPostgres(c.url, c.schema);
  try {
    return (await index.jobs.list({ limit: -1, offset: 0 })).jobs;
  } finally {
    await index.close();
  }
}

const lines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const send = (port: number, aet: string, files: string[]) => run('storescu', ['-aet', aet, '-aec', 'PACS_SERVER', '127.0.0.1', String(port), ...files]);

withPostgres('a cluster of two servers runs each job once', (url) => {
  describe('two pacs_server processes on one PostgreSQL index: stability, rules and job leases', () => {
    test('a study received through both servers at once becomes stable once: one command run, each file exported once', async () => {
      const script = path.join(root, 'note.cjs');
      fs.writeFileSync(script, SCRIPT);
      const log = path.join(root, 'once.log');
      const lab = path.join(root, 'lab');
      fs.mkdirSync(lab, { recursive: true }); // a rule's folder must exist
      const split = await makeStudy(path.join(root, 'in-split'), { patientID: 'SPLIT1', studyDescription: 'split', series: [1, 2].map((n) => ({ number: n, description: `S${n}`, count: 10 })) });
      const single = await makeStudy(path.join(root, 'in-single'), { patientID: 'ONE1', studyDescription: 'single', series: [{ number: 1, description: 'S1', count: 4 }] });
      const c = await startCluster(
        url,
        `  - name: lab
    on: study.stable
    match: { PatientID: "*" }
    actions:
      - { type: export, to: ${JSON.stringify(lab)}, mode: copy, template: "{PatientID}/{SeriesNumber:03}/{InstanceNumber:05}.dcm" }
      - { type: command, argv: [${JSON.stringify(process.execPath)}, ${JSON.stringify(script)}, ${JSON.stringify(log)}, "200"] }
`,
        'jobs: { backoff_seconds: 1 }',
      );
      try {
        const odd = split.files.filter((_f, i) => i % 2 === 1);
        const even = split.files.filter((_f, i) => i % 2 === 0);
        const sent = await Promise.all([send(c.servers.a.port, 'SCANNER_A', even), send(c.servers.b.port, 'SCANNER_B', odd), send(c.servers.b.port, 'SCANNER_B', single.files)]);
        for (const r of sent) assert.equal(r.code, 0, r.stderr);

        const all = await waitFor('both studies exported and their commands done', async () => {
          const jobs = await jobsOf(c);
          return jobs.length >= 4 && jobs.every((j) => j.state === 'succeeded') ? jobs : null;
        }, 60_000);
        // Both servers had the chance to see each study stable: give a late duplicate time to appear.
        await new Promise((r) => setTimeout(r, 1500));
        const jobs = await jobsOf(c);
        assert.equal(jobs.length, 4, `one export and one command job per study: ${JSON.stringify(all.map((j) => [j.type, j.state]))}`);
        assert.deepEqual(jobs.map((j) => j.type).sort(), ['command', 'command', 'export', 'export']);
        const runs = lines(log);
        assert.deepEqual(runs.filter((l) => l.includes(' start ')).map((l) => l.split(' ')[2]).sort(), [split.studyUID, single.studyUID].sort(), 'each study\'s command started once');
        assert.equal(runs.filter((l) => l.includes(' done ')).length, 2);
        const exported = listTree(lab);
        assert.equal(exported.length, split.files.length + single.files.length, 'each file exported once');
        assert.equal(exported.filter((f) => f.startsWith('SPLIT1/')).length, split.files.length);
      } finally {
        for (const s of Object.values(c.servers)) assert.equal(await s.stop('SIGTERM'), 0, s.log());
      }
    });

    test('instances received through both servers at once: a rule on instance.received queues one job per instance across the cluster', async () => {
      const each = path.join(root, 'each');
      fs.mkdirSync(each, { recursive: true });
      const study = await makeStudy(path.join(root, 'in-each'), { patientID: 'EACH1', studyDescription: 'each', series: [1, 2].map((n) => ({ number: n, description: `S${n}`, count: 12 })) });
      const c = await startCluster(
        url,
        `  - name: each
    on: instance.received
    match: { PatientID: EACH1 }
    actions: [ { type: export, to: ${JSON.stringify(each)}, mode: copy, template: "{SOPInstanceUID}.dcm" } ]
`,
        'jobs: { backoff_seconds: 1 }',
      );
      try {
        // Both servers follow the one change log from one cursor: each applies the rule to what
        // either stored, and the jobs' dedupe keys keep one job per instance.
        const halves = [study.files.filter((_f, i) => i % 2 === 0), study.files.filter((_f, i) => i % 2 === 1)];
        const sent = await Promise.all([send(c.servers.a.port, 'SCANNER_A', halves[0]!), send(c.servers.b.port, 'SCANNER_B', halves[1]!)]);
        for (const r of sent) assert.equal(r.code, 0, r.stderr);
        await waitFor('every instance exported', async () => {
          const jobs = await jobsOf(c);
          return jobs.length >= study.files.length && jobs.every((j) => j.state === 'succeeded');
        }, 60_000);
        await new Promise((r) => setTimeout(r, 1000)); // both servers have looked again since
        const jobs = await jobsOf(c);
        const uids = jobs.map((j) => j.payload.uid as string);
        assert.equal(new Set(uids).size, study.files.length, 'a job for every instance');
        assert.equal(jobs.length, study.files.length, 'and one only');
        assert.deepEqual(listTree(each), uids.map((u) => `${u}.dcm`).sort());
      } finally {
        for (const s of Object.values(c.servers)) assert.equal(await s.stop('SIGTERM'), 0, s.log());
      }
    });

    test('a server killed while it runs a job: the other server takes the job over when the lease runs out and finishes it', async () => {
      const script = path.join(root, 'note.cjs');
      fs.writeFileSync(script, SCRIPT);
      const log = path.join(root, 'lease.log');
      const study = await makeStudy(path.join(root, 'in-lease'), { patientID: 'LEASE1', studyDescription: 'lease', series: [{ number: 1, description: 'S1', count: 3 }] });
      const c = await startCluster(
        url,
        `  - name: slow
    on: study.stable
    match: { PatientID: LEASE1 }
    actions:
      - { type: command, argv: [${JSON.stringify(process.execPath)}, ${JSON.stringify(script)}, ${JSON.stringify(log)}, "300", hang-first], timeout: 300 }
`,
        'jobs: { backoff_seconds: 1, lease_seconds: 3 }',
      );
      try {
        assert.equal((await send(c.servers.a.port, 'SCANNER_A', study.files)).code, 0);
        const first = await waitFor('the command started on one server', () => lines(log)[0] ?? null, 60_000);
        const victim = first.split(' ')[0] as 'a' | 'b';
        const survivor = victim === 'a' ? 'b' : 'a';
        await c.servers[victim].stop('SIGKILL');

        const job = await waitFor('the job finished by the other server', async () => (await jobsOf(c)).find((j) => j.state === 'succeeded') ?? null, 60_000);
        assert.equal(job.type, 'command');
        assert.equal(job.attempts, 2, 'the killed run counts as one attempt; the takeover is the second');
        assert.ok(job.leaseOwner === null || job.leaseOwner.startsWith(`${survivor}:`));
        assert.deepEqual(lines(log), [`${victim} start ${study.studyUID}`, `${survivor} start ${study.studyUID}`, `${survivor} done ${study.studyUID}`]);
        assert.equal((await jobsOf(c)).length, 1, 'one job: the surviving server did not make another');
      } finally {
        for (const s of Object.values(c.servers)) await s.stop('SIGTERM');
      }
    });
  });
});
