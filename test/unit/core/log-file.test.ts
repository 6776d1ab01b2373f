// logging.file is opened again by its name on SIGHUP (logrotate renames it, then signals): the
// lines went on into the renamed file until a restart.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, flushLogger, reopenLogFile } from '../../../src/core/logging.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-log-file-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('reopenLogFile after a rename: later lines, of a child logger too, go to a new file of the name', async () => {
  const file = path.join(dir, 'pacs.log');
  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const logger = createLogger({ level: 'info', file }, { stdout: quiet as never });
  logger.info('before');
  await flushLogger(logger);
  fs.renameSync(file, `${file}.1`);
  reopenLogFile(logger.child({ component: 'x' }));
  logger.child({ component: 'x' }).info('after');
  await new Promise((r) => setTimeout(r, 200));
  await flushLogger(logger);
  assert.match(fs.readFileSync(`${file}.1`, 'utf8'), /"msg":"before"/);
  assert.match(fs.readFileSync(file, 'utf8'), /"msg":"after"/);
  assert.doesNotMatch(fs.readFileSync(`${file}.1`, 'utf8'), /"msg":"after"/);
});
