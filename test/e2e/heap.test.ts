// server.compact_heap: the pacs_server process keeps V8's young generation at its initial size
// while storescu sends it a few thousand small instances (the allocation rate at which V8's
// defaults grow it to 16 MB per semi-space), read from the process's own heap-space gauges on the
// metrics port; with compact_heap: false the same run grows it, so the gauge measures the setting.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { writeSyntheticCT } from '../../bench/synthetic.js';
import { freePort, run } from '../helpers/dcmtk.js';
import { baseYaml, startServer, tempDir } from './spawn.js';

const MB = 1024 * 1024;

async function newSpaceAfterLoad(compact: boolean, files: string): Promise<number> {
  const dir = tempDir();
  const metricsPort = await freePort();
  const server = await startServer(dir, (port) =>
    baseYaml(port, `monitoring: { enabled: true, metrics_port: ${metricsPort} }`)
      .replace('monitoring: { enabled: false }\n', '')
      .replace('shutdown_grace: 3 }', `shutdown_grace: 3, compact_heap: ${compact} }`),
  );
  try {
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '+sd', '127.0.0.1', String(server.port), files], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('pacs_nodejs_heap_space_size_total_bytes{space="new"}'));
    assert.ok(line, 'the new-space gauge is exported');
    return Number(line.split(' ').at(-1));
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('server.compact_heap', () => {
  const work = tempDir();
  const files = path.join(work, 'small');
  writeSyntheticCT({ dir: files, count: 3000, rows: 24, columns: 24, set: 41 });

  test('keeps the young generation at its initial size under load; V8 defaults grow it', async () => {
    const compact = await newSpaceAfterLoad(true, files);
    const defaults = await newSpaceAfterLoad(false, files);
    fs.rmSync(work, { recursive: true, force: true });
    assert.ok(compact <= 2 * MB, `young generation ${(compact / MB).toFixed(1)} MB with compact_heap`);
    assert.ok(defaults > 2 * compact, `V8's defaults grew it (${(defaults / MB).toFixed(1)} MB), so the gauge shows the setting`);
  });
});
