// The audit file failing (a full disk) no longer ends the process: the failure is said once and
// lines are counted until SIGHUP opens the file again (as after logrotate renamed it); a path
// that cannot be written is a configuration error naming logging.audit_file.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventBus } from '../../../src/core/events.js';
import { AuditTrail, outboundAudit } from '../../../src/services/audit.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-audit-file-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const entry = { action: 'query', outcome: 'success', who: 'WS1', from: '127.0.0.1', what: {} } as const;

test('a path that cannot be written: a configuration error naming the key', () => {
  assert.throws(() => new AuditTrail(new EventBus(), dir), /logging\.audit_file: cannot write/);
});

test('a write error is said once, the process goes on', async () => {
  const events = new EventBus();
  const errors: number[] = [];
  const trail = new AuditTrail(events, '/dev/full', (_e, lost) => errors.push(lost));
  events.emit('audit', entry);
  await new Promise((r) => setTimeout(r, 100));
  events.emit('audit', entry);
  events.emit('audit', entry);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(errors.length, 1, 'said once');
  await trail.close();
});

test('lines while the file is broken are counted; reopen() writes again, first how many were lost', async () => {
  const events = new EventBus();
  const file = path.join(dir, 'broken.log');
  const errors: unknown[] = [];
  const trail = new AuditTrail(events, file, (e) => errors.push(e));
  (trail as unknown as { out: fs.WriteStream }).out.emit('error', Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
  events.emit('audit', entry);
  events.emit('audit', entry);
  trail.reopen();
  events.emit('audit', { ...entry, who: 'AFTER' });
  await trail.close();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; who: string | null; what: { lines?: number } });
  assert.equal(errors.length, 1);
  assert.deepEqual(lines.map((l) => [l.action, l.who, l.what.lines]), [['audit-lost', null, 2], ['query', 'AFTER', undefined]]);
});

test('reopen() after the file was renamed (logrotate) writes into a new file of the name', async () => {
  const events = new EventBus();
  const file = path.join(dir, 'audit.log');
  const trail = new AuditTrail(events, file);
  events.emit('audit', entry);
  await new Promise((r) => setTimeout(r, 50));
  fs.renameSync(file, `${file}.1`);
  trail.reopen();
  events.emit('audit', { ...entry, who: 'AFTER' });
  await trail.close();
  assert.match(fs.readFileSync(`${file}.1`, 'utf8'), /"who":"WS1"/);
  assert.match(fs.readFileSync(file, 'utf8'), /"who":"AFTER"/);
});

test("a DICOM sender's stores are written within a bound while its association stays open, not only when it closes", async () => {
  const events = new EventBus();
  const file = path.join(dir, 'held.log');
  const trail = new AuditTrail(events, file, undefined, { flushMs: 20, dimseFlushMs: 50 });
  const record = {
    provenance: { callingAE: 'CT1', calledAE: 'PACS', remoteAddress: '192.0.2.5', source: 'dimse' },
    study: { StudyInstanceUID: '1.2.3' },
    patient: { PatientID: 'P1' },
    file: { size: 100 },
  };
  events.emit('instance.stored', { record, outcome: 'inserted', changeSeq: 1 } as never);
  await new Promise((r) => setTimeout(r, 200));
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; who: string; what: { instances: number } });
  assert.deepEqual(lines.map((l) => [l.action, l.who, l.what.instances]), [['store', 'CT1', 1]], 'no association closed');
  await trail.close();
});

test('a job canceled or withdrawn before anything went out leaves no export line; one that sent, or failed trying, does', () => {
  const job = { id: 7, type: 'send', payload: { destination: 'LAB', level: 'STUDY', uids: ['1.2.3'] } };
  assert.equal(outboundAudit(job, { state: 'canceled', error: 'withdrawn: the rule was removed' }), null);
  assert.equal(outboundAudit(job, { state: 'canceled', progress: { completed: 3 } })?.outcome, 'failure');
  assert.equal(outboundAudit(job, { state: 'succeeded', progress: { completed: 5 } })?.outcome, 'success');
  assert.equal(outboundAudit({ ...job, type: 'pull' }, { state: 'succeeded' }), null, 'a pull brings data in');
});
