// A stopped server lets its process end: a storage commitment request accepted, its requester
// gone and the server stopped before the report went, once left a ten-minute timer behind, and
// `pacs_server` (and every test file that ran the case) waited it out after the stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../helpers/commitment-then-exit.js', import.meta.url));

test('a commitment request accepted and not yet reported does not hold the stopped server\'s process', { timeout: 120_000 }, async () => {
  // Without the test runner's context in its environment: the child is a plain program.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // Far longer than the run needs, far shorter than the ten minutes it was held.
  const limit = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, s) => r([c, s])));
  clearTimeout(limit);
  assert.equal(signal, null, `the process did not end by itself: ${err}`);
  assert.equal(code, 0, err);
  const result = JSON.parse(/^RESULT (.*)$/m.exec(out)?.[1] ?? 'null') as { queued: number; error?: string } | null;
  assert.equal(result?.queued, 1, `the report's job waits for the next start: ${out}`);
  assert.match(result.error ?? '', /no storage commitment report/, 'and the requester got none');
  assert.doesNotMatch(err, /still running/);
});
