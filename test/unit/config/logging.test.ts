import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, flushLogger } from '../../../src/core/logging.js';
import { PacsError } from '../../../src/core/errors.js';
import { tempDir } from './helpers.js';

/** A stream collecting what the logger writes to the console. */
function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const lines = () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { stream, lines };
}

test('JSON lines on the console, at the configured level', () => {
  const out = capture();
  const log = createLogger({ level: 'warn' }, { stdout: out.stream });
  log.info('hidden');
  log.warn({ calling: 'CT1' }, 'shown');
  const lines = out.lines();
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.msg, 'shown');
  assert.equal(lines[0]?.calling, 'CT1');
  assert.equal(typeof lines[0]?.time, 'string');
});

test('a log file too, its directory created; lowering the level later works', async () => {
  const file = join(tempDir(), 'logs', 'deep', 'pacs.log');
  const out = capture();
  const log = createLogger({ level: 'info', file }, { stdout: out.stream });
  log.info('one');
  log.debug('not yet');
  log.level = 'debug';
  log.child({ assoc: 7 }).debug('two');
  await flushLogger(log);
  const inFile = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(inFile.map((l) => l.msg), ['one', 'two']);
  assert.equal(inFile[1]?.assoc, 7);
  assert.deepEqual(out.lines().map((l) => l.msg), ['one', 'two']);
  log.info('still usable after flush');
  await flushLogger(log);
  assert.match(readFileSync(file, 'utf8'), /still usable after flush/);
});

test('a log file that cannot be written is a clear start-up error', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'not-a-dir'), 'x');
  assert.throws(
    () => createLogger({ level: 'info', file: join(dir, 'not-a-dir', 'pacs.log') }),
    (e: unknown) => e instanceof PacsError && e.code === 'CONFIG_INVALID' && e.message.startsWith('logging.file: cannot write'),
  );
});
