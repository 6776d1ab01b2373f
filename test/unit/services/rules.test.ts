// The rule engine picks the instance whose attributes the rules see: the one named, or, when a
// stable study's latest instance was deleted since, the last one the study still holds — the
// rest of the study is still acted on.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ruleSchema } from '../../../src/config/rules-schema.js';
import { createLogger } from '../../../src/core/logging.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import type { MetadataService } from '../../../src/services/metadata.js';
import { RuleEngine, type RuleSubject } from '../../../src/services/rules.js';
import { record } from '../../contract/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a stable study whose latest instance was deleted: the rules still act on the rest of it", async () => {
  const index = SqliteIndex.open({ path: join(dir, 'i.db'), walMode: true });
  await index.migrate();
  await index.storeInstance(record({ sop: 'a1', study: '1.2.9' }), 'insert');
  await index.storeInstance(record({ sop: 'a2', study: '1.2.9' }), 'insert');
  const seen: string[] = [];
  const metadata = { get: async (loc: { SOPInstanceUID: string }) => (seen.push(loc.SOPInstanceUID), { text: JSON.stringify({ '00080060': { vr: 'CS', Value: ['CT'] } }) }) } as unknown as MetadataService;
  const queued: string[] = [];
  const engine = new RuleEngine({
    rules: () => [ruleSchema.parse({ name: 'lab', on: 'study.stable', match: { Modality: 'CT' }, actions: [{ type: 'export', to: dir }] })],
    index,
    metadata,
    jobs: { enqueue: async (type, _p, o) => (queued.push(`${type} ${o.dedupeKey ?? ''}`), { id: queued.length }) },
    logger: createLogger({ level: 'silent' }),
  });
  const subject: RuleSubject = { event: 'study.stable', level: 'STUDY', uid: '1.2.9', studyUID: '1.2.9', seq: 7, sopInstanceUID: 'a2', source: { callingAE: null, calledAE: null, remoteAddress: null } };
  await index.deleteInstance('a2');
  assert.equal(await engine.apply(subject), 1);
  assert.deepEqual(seen, ['a1'], 'the attributes of the instance the study still holds');
  assert.equal(queued.length, 1);
  await index.deleteInstance('a1');
  assert.equal(await engine.apply({ ...subject, seq: 8 }), 0, 'nothing left: nothing to act on');
  await index.close();
});
