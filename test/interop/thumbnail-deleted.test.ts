// A thumbnail rendered while its instance is deleted: the delete removes the instance's kept
// thumbnails before the render writes its own, and nothing else ever would (they are kept by
// SOP Instance UID, never looked over). The render must not leave it behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { deleteInstances } from '../../src/services/delete.js';

const FILE = 'pydicom__CT_small.dcm';
let pacs: TestPacs;

before(async () => {
  pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
  const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), path.join(SAMPLES, FILE)]);
  assert.equal(r.code, 0, r.stderr);
});
after(() => pacs.stop());

const thumbnails = (): string[] => {
  const dir = path.join(pacs.storageDir, '.thumbnails');
  return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(dir, f)).isFile()) : [];
};

test('an instance deleted while its thumbnail is rendered leaves no thumbnail', async () => {
  const archive = pacs.server.archive;
  const [loc] = await archive.index.listInstances(null, 1);
  assert.ok(loc);
  const pool = pacs.server.decoders;
  const render = pool.render.bind(pool);
  // The delete happens while the frame is on the pool, as a DELETE or retention would.
  pool.render = async (...args: Parameters<typeof render>) => {
    await deleteInstances({ index: archive.index, objects: archive.objects, derived: archive.derived, logger: pacs.server.logger, exclusive: (_uid, fn) => fn() }, [loc]);
    return render(...args);
  };
  const web = pacs.server.httpServer!;
  const res = await web.inject({ method: 'GET', url: `/dicom-web/studies/${loc.StudyInstanceUID}/series/${loc.SeriesInstanceUID}/instances/${loc.SOPInstanceUID}/thumbnail` });
  pool.render = render;
  assert.equal(res.statusCode, 200, 'rendered from the file read before the delete');
  assert.equal(await archive.index.findInstance(loc.SOPInstanceUID), null);
  assert.deepEqual(thumbnails().filter((f) => f.includes(loc.SOPInstanceUID)), [], 'no thumbnail of a deleted instance');
});
