#!/usr/bin/env node
// Runs the compiled tests with node's own test runner. Optional arguments pick test folders
// (unit, protocol, interop, contract, e2e, browser); by default every folder runs.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../dist/test/', import.meta.url).pathname;
const folders = process.argv.slice(2);
const pick = folders.length ? folders : readdirSync(root).filter((f) => statSync(join(root, f)).isDirectory());
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
};
for (const f of pick) walk(join(root, f));
files.sort();
const concurrency = process.env.TEST_CONCURRENCY ?? '1';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
