// Plugins: a module from the configuration refuses instances of one modality (the sender gets
// a failure status with the plugin's reason, nothing is stored), counts what is stored, and runs
// a durable job of its own that reads the index; a plugin that cannot load stops the start.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const MR = path.join(SAMPLES, 'pydicom__MR_small.dcm');
const CT_STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';
const BIN = new URL('../../../bin/pacs', import.meta.url).pathname;

const PLUGIN = `
import fs from 'node:fs';
export function register(api) {
  let stored = 0;
  api.beforeStore((instance) => {
    if (instance.series.Modality === api.options.refuse) throw api.reject(\`no \${api.options.refuse} here\`);
  });
  api.jobs.register('note', {
    async run({ job }) {
      const [study] = await api.index.query({ level: 'STUDY', model: 'STUDY_ROOT', keys: [{ keyword: 'StudyInstanceUID', value: job.payload.study }], relational: true });
      fs.writeFileSync(api.options.out, JSON.stringify({ study: job.payload.study, instances: study.NumberOfStudyRelatedInstances, seen: stored }));
      return { message: 'noted' };
    },
  });
  api.on('instance.stored', ({ record }) => {
    stored++;
    void api.jobs.enqueue('note', { study: record.study.StudyInstanceUID }, { dedupeKey: 'note:' + record.study.StudyInstanceUID });
  });
  api.logger.info('counting plugin ready');
}
`;

describe('plugins', () => {
  let pacs: TestPacs;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-plugin-'));
    fs.writeFileSync(path.join(dir, 'counting.mjs'), PLUGIN);
    pacs = await startTestPacs({ plugins: [{ path: path.join(dir, 'counting.mjs'), options: { refuse: 'MR', out: path.join(dir, 'note.json') } }] as never });
  });
  after(async () => {
    await pacs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('refuses one modality with its reason, lets the rest in, runs its own durable job', async () => {
    const r = await run('storescu', ['-v', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), CT, MR]);
    assert.match(r.stdout + r.stderr, /0x0?124|Not ?Authorized|Refused/i, 'the MR is refused');
    const stats = await pacs.server.archive.index.statistics();
    assert.equal(stats.instances, 1, 'only the CT is stored');
    const out = path.join(dir, 'note.json');
    for (let i = 0; i < 100 && !fs.existsSync(out); i++) await new Promise((res) => setTimeout(res, 50));
    assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), { study: CT_STUDY, instances: 1, seen: 1 });
    // The job writes its file, then its outcome is recorded: wait for the record.
    const listed = async () => (await pacs.server.archive.index.jobs.list({ type: 'plugin:counting:note', limit: 10, offset: 0 })).jobs;
    for (let i = 0; i < 100 && (await listed()).some((j) => j.state === 'running' || j.state === 'queued'); i++) await new Promise((res) => setTimeout(res, 50));
    const jobs = await listed();
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.state, 'succeeded');
  });

  test('pacs import goes through the plugins too: what they refuse over C-STORE is refused from a folder', async () => {
    const archive = path.join(dir, 'imported');
    const config = path.join(dir, 'import.yaml');
    fs.writeFileSync(config, `storage: { directory: ${JSON.stringify(archive)} }\ndatabase: { path: ${JSON.stringify(path.join(dir, 'imported.db'))} }\nplugins:\n  - path: ${JSON.stringify(path.join(dir, 'counting.mjs'))}\n    options: { refuse: MR, out: ${JSON.stringify(path.join(dir, 'import-note.json'))} }\n`);
    const r = await run(process.execPath, [BIN, 'import', '--config', config, CT, MR]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /Imported 1 new, .*; 1 failed/);
    assert.match(r.stdout, /FAILED .*MR_small\.dcm: .*no MR here/);
  });

  test('a plugin that cannot be loaded stops the start with its name', async () => {
    await assert.rejects(startTestPacs({ plugins: [path.join(dir, 'missing.mjs')] as never }), /plugins: cannot load .*missing\.mjs/);
    fs.writeFileSync(path.join(dir, 'empty.mjs'), 'export const nothing = 1;\n');
    await assert.rejects(startTestPacs({ plugins: [path.join(dir, 'empty.mjs')] as never }), /exports no register\(api\) function/);
  });
});
