#!/usr/bin/env node
// Puts the OHIF viewer's prebuilt web app into vendor/ohif/, ready for pacs_server to serve at
// /viewer. Runs on `npm install` (postinstall) and by hand as `npm run viewer:fetch`.
//
// The bundle is the dist/ folder of the @ohif/app npm package, at the exact version and
// integrity pinned in package.json ("ohifViewer"). It is fetched with `npm pack`, not listed as
// a dependency: @ohif/app declares some sixty build-time dependencies (webpack loaders, every
// OHIF extension as source) that the prebuilt dist/ does not need, and several of them cannot
// be installed from the registry this project uses, so `npm install @ohif/app` fails for every
// version; its tarball alone holds the whole, self-contained web app.
//
// What is changed on the way, and why:
// - OHIF is built for the site root: index.html, the style sheets (fonts), manifest.json and
//   webpack's runtime load everything from "/". All are rewritten to /viewer/ (for webpack, the
//   "publicPath" of every bundle that has a runtime).
// - Dropped: the ONNX runtime (ort/, 136 MB, for optional AI segmentation tools), the microscopy
//   viewer (its mode is hidden by our app-config.js), source maps, the service worker and its
//   loader (it pulls workbox from a CDN), OHIF's own app-config.js (the server generates ours),
//   and files for other hosting services (_headers, _redirects, serve.json, google.js).
// - Large text and wasm files get a .gz beside them, which the server sends to browsers that
//   accept gzip (the main bundle is 15 MB, 3 MB gzipped).
//
// Without network access it warns and leaves things as they are (npm install still succeeds);
// /viewer then says the viewer is missing. `--strict` makes any failure an error.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const BASE = '/viewer/';
/** Raised whenever prepare() changes, so that copies made by an older one are made again. */
const PREPARATION = 2;
const root = new URL('..', import.meta.url).pathname;
const strict = process.argv.includes('--strict');
const target = path.join(root, 'vendor', 'ohif');
const markerFile = path.join(target, 'ohif-viewer.json');
const DROP = ['ort', 'dicom-microscopy-viewer', 'sw.js', 'init-service-worker.js', 'google.js', '_headers', '_redirects', 'serve.json', 'app-config.js'];
const GZIP = /\.(js|css|wasm|json|svg|html)$/;
const RUNTIME_PUBLIC_PATH = '__webpack_require__.p = "/";';

function fail(message) {
  throw new Error(message);
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`);
  return r.stdout;
}

/** index.html loads its scripts, styles and icons from "/": point them at BASE. */
function rewriteIndex(html) {
  const out = html
    .replaceAll("window.PUBLIC_URL = '/'", `window.PUBLIC_URL = '${BASE}'`)
    .replace(/(href|src)="\/(?!\/)/g, `$1="${BASE}`)
    .replace(/<script[^>]*init-service-worker\.js"><\/script>/, '');
  if (!out.includes(`src="${BASE}app-config.js"`) || !out.includes(`window.PUBLIC_URL = '${BASE}'`))
    fail('index.html does not look as expected (app-config.js script, window.PUBLIC_URL): the package layout changed');
  return out;
}

function prepare(dist) {
  for (const name of DROP) fs.rmSync(path.join(dist, name), { recursive: true, force: true });
  const index = path.join(dist, 'index.html');
  fs.writeFileSync(index, rewriteIndex(fs.readFileSync(index, 'utf8')));
  for (const name of fs.readdirSync(dist).filter((n) => n.endsWith('.css') || n === 'manifest.json')) {
    const file = path.join(dist, name);
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, text.replace(/url\(\/(?!\/)/g, `url(${BASE}`).replace(/"(src|start_url|scope)": "\/(?!\/)/g, `"$1": "${BASE}`));
  }
  let rewritten = 0;
  for (const name of fs.readdirSync(dist)) {
    if (!name.endsWith('.js')) continue;
    const file = path.join(dist, name);
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes(RUNTIME_PUBLIC_PATH)) continue;
    fs.writeFileSync(file, text.replaceAll(RUNTIME_PUBLIC_PATH, `__webpack_require__.p = "${BASE}";`));
    rewritten++;
  }
  if (!fs.readdirSync(dist).some((n) => n.startsWith('app.bundle.') && n.endsWith('.js')) || rewritten === 0)
    fail('no app.bundle.*.js with a webpack public path of "/": the package layout changed');
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  for (const file of walk(dist)) {
    if (!GZIP.test(file) || fs.statSync(file).size < 16 * 1024) continue;
    fs.writeFileSync(`${file}.gz`, zlib.gzipSync(fs.readFileSync(file), { level: 9 }));
  }
  return rewritten;
}

function main() {
  const pin = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).ohifViewer;
  if (!pin?.package || !pin.version || !pin.integrity) fail('package.json has no "ohifViewer": { package, version, integrity }');
  const want = { package: pin.package, version: pin.version, integrity: pin.integrity, base: BASE, preparation: PREPARATION };
  try {
    const have = JSON.parse(fs.readFileSync(markerFile, 'utf8'));
    if (Object.keys(want).every((k) => have[k] === want[k])) return console.log(`OHIF viewer ${pin.package}@${pin.version}: already in vendor/ohif`);
  } catch {
    // not there yet, or unreadable: fetch it
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(target), '.ohif-'));
  try {
    const spec = `${pin.package}@${pin.version}`;
    console.log(`OHIF viewer: fetching ${spec} (about 50 MB) into vendor/ohif`);
    const [packed] = JSON.parse(run('npm', ['pack', spec, '--pack-destination', work, '--json', '--silent'], work));
    const tarball = path.join(work, packed.filename);
    const integrity = `sha512-${createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
    if (integrity !== pin.integrity) fail(`${spec}: integrity ${integrity} is not the pinned ${pin.integrity}`);
    run('tar', ['-xzf', tarball, '-C', work, '--exclude=package/dist/ort', '--exclude=package/dist/dicom-microscopy-viewer', '--exclude=*.map']);
    const rewritten = prepare(path.join(work, 'package', 'dist'));
    fs.writeFileSync(path.join(work, 'package', 'ohif-viewer.json'), `${JSON.stringify(want, null, 2)}\n`);
    fs.rmSync(tarball);
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(path.join(work, 'package'), target);
    console.log(`OHIF viewer ${spec}: ready in vendor/ohif (${rewritten} bundles moved to ${BASE})`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (e) {
  const message = e instanceof Error ? e.message : String(e);
  console.error(`\npacs-server: the OHIF viewer could not be installed: ${message}\n` + '/viewer will say so until `npm run viewer:fetch` succeeds.\n');
  process.exit(strict ? 1 : 0);
}
