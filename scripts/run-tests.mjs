#!/usr/bin/env node
// Runs the compiled tests with node's own test runner. Optional arguments pick test folders
// (unit, protocol, interop, contract, e2e, browser); by default every folder runs.
//
// The suites that start whole servers (interop, e2e, browser) run on SQLite and then, when a
// PostgreSQL server is named (PACS_TEST_PG_URL, which .ci/run sets), a second time with
// PACS_TEST_INDEX=postgres: everything that works on SQLite must work on PostgreSQL. Setting
// PACS_TEST_INDEX yourself runs one pass on that backend only.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawn } from 'node:child_process';

const root = new URL('../dist/test/', import.meta.url).pathname;
const folders = process.argv.slice(2);
const pick = folders.length ? folders : readdirSync(root).filter((f) => statSync(join(root, f)).isDirectory());
const SERVER_SUITES = ['interop', 'e2e', 'browser'];
// Written for one backend whatever PACS_TEST_INDEX says (PostgreSQL, two servers on it,
// SQLite → PostgreSQL): the second pass would only repeat them.
const ONE_BACKEND = new Set(['e2e/postgres.test.js', 'e2e/cluster.test.js', 'e2e/cluster-jobs.test.js', 'e2e/migrate-index.test.js']);

const filesIn = (dirs) => {
  const files = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.test.js')) files.push(p);
    }
  };
  for (const f of dirs) walk(join(root, f));
  return files.sort();
};

const concurrency = process.env.TEST_CONCURRENCY ?? '1';
/** The failing tests' TAP blocks, printed again at the very end: a CI log's tail then names them. */
const failures = [];
const runPass = (label, files, env) => {
  if (files.length === 0) return Promise.resolve(0);
  if (label) console.log(`\n# ---- ${label} ----\n`);
  const child = spawn(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: ['inherit', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  let pending = '';
  let block = null; // { end: the line closing its YAML block, lines }
  const scan = (line) => {
    if (block) {
      if (block.lines.length < 60) block.lines.push(line);
      if (line === block.end) block = null;
      return;
    }
    const m = /^(\s*)not ok \d+ - /.exec(line);
    if (m) failures.push((block = { end: `${m[1]}  ...`, lines: [`${label ? `[${label}] ` : ''}${line}`] }).lines);
  };
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) scan(line);
  });
  return new Promise((resolve) => child.on('close', (code) => (scan(pending), resolve(code ?? 1))));
};

let status = await runPass('', filesIn(pick), {});
if (process.env.PACS_TEST_INDEX === undefined && process.env.PACS_TEST_PG_URL) {
  const again = filesIn(pick.filter((f) => SERVER_SUITES.includes(f))).filter((f) => !ONE_BACKEND.has(relative(root, f)));
  const second = await runPass('the server suites again, on PostgreSQL (PACS_TEST_INDEX=postgres)', again, { PACS_TEST_INDEX: 'postgres' });
  status = status || second;
}
if (failures.length) {
  console.log(`\n# ---- ${failures.length} failed (suites and their tests), again ----`);
  for (const lines of failures) console.log(lines.join('\n'));
}
process.exit(status);
