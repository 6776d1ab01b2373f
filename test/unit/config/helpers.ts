// Shared by the config tests: temporary directories with a configuration file in them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/load.js';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'pacs-config-'));
}

/** Writes `text` as pacs_server.yaml (or `name`) in a fresh directory; returns its path. */
export function writeConfig(text: string, name = 'pacs_server.yaml'): { dir: string; file: string } {
  const dir = tempDir();
  const file = join(dir, name);
  writeFileSync(file, text);
  return { dir, file };
}

/** Runs fn, asserts it throws a ConfigError, and returns its problem lines. */
export function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.code, 'CONFIG_INVALID');
    return e.problems;
  }
  assert.fail('expected a ConfigError');
}

/** Asserts that some problem line starts with `prefix` and contains every `parts`. */
export function assertProblem(problems: readonly string[], prefix: string, ...parts: string[]): void {
  const hit = problems.find((p) => p.startsWith(prefix) && parts.every((x) => p.includes(x)));
  assert.ok(hit !== undefined, `no problem "${prefix} … ${parts.join(' … ')}" in:\n${problems.join('\n')}`);
}
