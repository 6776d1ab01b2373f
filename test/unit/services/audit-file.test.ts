// The audit file failing (a full disk) no longer ends the process: the failure is said once and
// lines are counted until SIGHUP opens the file again (as after logrotate renamed it); a path
// that cannot be written is a configuration error naming logging.audit_file.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventBus } from '../../../src/core/events.js';
import { AuditTrail } from '../../../src/services/audit.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-audit-file-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const entry = { action: 'query', outcome: 'success', who: 'WS1', from: '127.0.0.1', what: {} } as const;

test('a path that cannot be written: a configuration error naming the key', () => {
  assert.throws(() => new AuditTrail(new EventBus(), dir), /logging\.audit_file: cannot write/);
});

test('a write error is said once, the process goes on; reopen() writes again and says how many lines were lost', async () => {
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
