// The server killed (SIGKILL) in the middle of a rule's export finishes it after the restart:
// every file there once, none missing, no temporary file left behind.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run } from '../helpers/dcmtk.js';
import { listTree, makeStudy, waitFor } from '../helpers/research.js';
import { baseYaml, startServer, tempDir } from './spawn.js';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('killed mid-export, the export completes after restart with nothing missing or doubled', async () => {
  const lab = path.join(dir, 'nas', 'lab');
  fs.mkdirSync(lab, { recursive: true }); // a rule's folder must exist (export-job.ts)
  const study = await makeStudy(path.join(dir, 'in'), {
    patientID: 'SUBJ001',
    studyDescription: 'Crash test',
    series: [1, 2, 3, 4].map((n) => ({ number: n, description: `Series ${n}`, count: 40 })),
  });
  const yaml = (port: number): string =>
    baseYaml(
      port,
      `stability: { stable_after: 1, check_interval: 0.2 }
jobs: { backoff_seconds: 1 }
rules:
  - name: lab
    match: { CallingAE: SCANNER }
    actions: [ { type: export, to: ${JSON.stringify(lab)}, mode: copy } ]
`,
    );
  let server = await startServer(dir, yaml);
  const sent = await run('storescu', ['-aet', 'SCANNER', '-aec', 'PACS_SERVER', '127.0.0.1', String(server.port), ...study.files]);
  assert.equal(sent.code, 0, sent.stderr);
  // Kill as soon as the export has begun.
  await waitFor('the first exported file', () => listTree(lab).length > 0, 30_000);
  await server.stop('SIGKILL');
  const atKill = listTree(lab).filter((f) => !path.basename(f).startsWith('.')).length;
  assert.ok(atKill < study.files.length, `killed mid-export (${atKill} of ${study.files.length} written)`);
  server = await startServer(dir, yaml);
  try {
    await waitFor('the export to complete', () => listTree(lab).length === study.files.length, 60_000);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more should appear
    const files = listTree(lab);
    const expected = study.series.flatMap((s) => s.files.map((_f, i) => `SUBJ001/20260312_Crash_test/${String(s.number).padStart(3, '0')}_Series_${s.number}/${String(i + 1).padStart(5, '0')}.dcm`)).sort();
    assert.deepEqual(files, expected, 'every file once, no ~2 double, no temporary file');
    const bySize = new Map(study.files.map((f) => [path.basename(f), fs.statSync(f).size]));
    assert.ok(bySize.size > 0);
    for (const f of files) assert.ok(fs.statSync(path.join(lab, f)).size > 100_000, `${f} is whole`);
  } finally {
    await server.stop();
  }
});
