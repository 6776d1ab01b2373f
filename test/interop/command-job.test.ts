// The run-command action's job: a small node script is the program. Exit 0: done; 75
// (EX_TEMPFAIL): an ordinary error, so the queue retries; anything else: PermanentJobError.
// The script checks the JSON it gets on standard input and the {Keyword} in its arguments.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openArchive, type ArchiveParts } from '../../src/app.js';
import { parseConfigData } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logging.js';
import type { Job } from '../../src/index/jobs.js';
import { commandJobHandler } from '../../src/services/command-job.js';
import { importFile } from '../../src/services/import.js';
import { PermanentJobError } from '../../src/services/jobs.js';
import { makeStudy, type MadeStudy } from '../helpers/research.js';
import { testDatabase } from '../helpers/index-backend.js';

const SCRIPT = `
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const details = JSON.parse(input);
  const [out, exitCode, patient] = process.argv.slice(2);
  const ok = details.level === 'STUDY' && details.attributes.PatientID === 'CMD01' && patient === 'CMD01' &&
    details.instances.length === 2 && details.instances.every((i) => require('fs').existsSync(i.path));
  require('fs').writeFileSync(out, JSON.stringify({ ok, details }));
  process.stdout.write('said something');
  process.exit(Number(exitCode));
});
`;

describe('run-command job', () => {
  let dir: string;
  let archive: ArchiveParts;
  let study: MadeStudy;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-command-'));
    fs.writeFileSync(path.join(dir, 'script.cjs'), SCRIPT);
    const config = parseConfigData({ storage: { directory: path.join(dir, 'archive'), min_free_mb: 0 }, database: await testDatabase(dir), logging: { level: 'silent' } }, dir);
    archive = await openArchive(config, { logger: createLogger({ level: 'silent' }) });
    study = await makeStudy(path.join(dir, 'in'), { patientID: 'CMD01', studyDescription: 'cmd', series: [{ number: 1, description: 'T1', count: 2 }] });
    for (const f of study.files) await importFile(archive.store, f, { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' });
  });
  after(async () => {
    await archive.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const runWith = (exitCode: number, timeout = 30, extra: Record<string, unknown> = {}) => {
    const out = path.join(dir, `out-${exitCode}.json`);
    const job = { id: 1, type: 'command', payload: { rule: 'r', event: 'study.stable', level: 'STUDY', uid: study.studyUID, argv: [process.execPath, path.join(dir, 'script.cjs'), out, String(exitCode), '{PatientID}'], timeout, ...extra } } as unknown as Job;
    const handler = commandJobHandler(archive);
    const run = handler.run({ job, signal: new AbortController().signal, progress: () => {}, logger: archive.logger });
    return { run, out };
  };

  test('exit 0: done, with the study details as JSON on standard input', async () => {
    const { run, out } = runWith(0);
    const r = await run;
    assert.match(r?.message ?? '', /done: said something/);
    const seen = JSON.parse(fs.readFileSync(out, 'utf8')) as { ok: boolean; details: { uid: string; rule: string; event: string } };
    assert.equal(seen.ok, true, JSON.stringify(seen.details));
    assert.equal(seen.details.uid, study.studyUID);
    assert.equal(seen.details.rule, 'r');
    assert.equal(seen.details.event, 'study.stable');
    assert.deepEqual((seen.details as unknown as { instances: Array<{ new: boolean }> }).instances.map((i) => i.new), [true, true], 'the first run: all new');
  });

  test('a study that grew since the rule last ran: the instances stored since are marked new', async () => {
    const changes = await archive.index.changesSince(0, 100);
    const mine = changes.filter((c) => c.studyUID === study.studyUID);
    const { run, out } = runWith(0, 30, { changes: { after: mine[0]!.seq, upTo: mine[1]!.seq } });
    await run;
    const seen = JSON.parse(fs.readFileSync(out, 'utf8')) as { details: { instances: Array<{ SOPInstanceUID: string; new: boolean }> } };
    const fresh = seen.details.instances.filter((i) => i.new).map((i) => i.SOPInstanceUID);
    assert.deepEqual(fresh, [mine[1]!.uid], 'only the one stored after the last run');
    assert.equal(seen.details.instances.length, 2, 'every instance is still listed');
  });

  test('exit 75: an error the queue retries (not permanent)', async () => {
    const { run } = runWith(75);
    await assert.rejects(run, (e: Error) => !(e instanceof PermanentJobError) && /exit status 75/.test(e.message));
  });

  test('any other exit status fails for good', async () => {
    const { run } = runWith(3);
    await assert.rejects(run, (e: Error) => e instanceof PermanentJobError && /exit status 3/.test(e.message));
  });

  /** Runs `sh -c script` as a command job with this abort signal. */
  const runShell = (script: string, signal: AbortSignal, timeout = 300) => {
    const job = { id: 3, type: 'command', payload: { level: 'STUDY', uid: study.studyUID, argv: ['/bin/sh', '-c', script], timeout } } as unknown as Job;
    return commandJobHandler(archive).run({ job, signal, progress: () => {}, logger: archive.logger });
  };
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const until = async (ok: () => boolean): Promise<void> => {
    while (!ok()) await new Promise((r) => setTimeout(r, 50));
  };

  test('a script that leaves a child running in the background is done when it exits (the child kept its pipes)', { timeout: 60_000 }, async () => {
    const release = path.join(dir, 'release');
    const pidFile = path.join(dir, 'background.pid');
    const r = await runShell(`(while [ ! -f '${release}' ]; do sleep 0.1; done) & echo $! > '${pidFile}'; echo started`, new AbortController().signal);
    assert.match(r?.message ?? '', /done: started/);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    assert.ok(alive(pid), 'the background child is still running: the job did not wait for it');
    fs.writeFileSync(release, '');
    await until(() => !alive(pid));
  });

  test('a cancel stops the program and its children, not the shell alone', { timeout: 60_000 }, async () => {
    const pidFile = path.join(dir, 'child.pid');
    const abort = new AbortController();
    const run = runShell(`sleep 300 & echo $! > '${pidFile}'; wait`, abort.signal);
    await until(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() !== '');
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    abort.abort();
    await assert.rejects(run, (e: Error) => /killed by SIGTERM/.test(e.message));
    await until(() => !alive(pid)); // the orphaned sleep held the job for 300 s before
  });

  test('a job stopped before its program started does not start it', async () => {
    const marker = path.join(dir, 'ran');
    const abort = new AbortController();
    abort.abort();
    await assert.rejects(runShell(`touch '${marker}'`, abort.signal), /not started/);
    assert.equal(fs.existsSync(marker), false);
  });

  test('a program that cannot be started fails for good', async () => {
    const job = { id: 2, type: 'command', payload: { level: 'STUDY', uid: study.studyUID, argv: [path.join(dir, 'no-such-program')], timeout: 5 } } as unknown as Job;
    await assert.rejects(commandJobHandler(archive).run({ job, signal: new AbortController().signal, progress: () => {}, logger: archive.logger }), PermanentJobError);
  });
});
