// What a rule's send job records when its study was deleted before it ran: a success that says
// so, not "nothing new"; a send asked by hand for what is not stored still fails for good. A
// rule's range of changes reaching behind a prune of the change log takes the whole study.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { UnreachableNodes } from '../../../src/services/unreachable.js';
import { sendJobHandler, transferSelection } from '../../../src/services/transfer-jobs.js';
import { record } from '../../contract/fixtures.js';
import { PermanentJobError } from '../../../src/services/jobs.js';
import { createLogger } from '../../../src/core/logging.js';
import type { Job } from '../../../src/index/jobs.js';
import type { NodeDirectory } from '../../../src/services/nodes.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-selection-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a rule job for a study no longer stored ends saying so; a send by hand for it fails for good', async () => {
  const index = SqliteIndex.open({ path: join(dir, 'i.db'), walMode: true });
  await index.migrate();
  try {
    const nodes = { find: async () => ({ ae_title: 'LAB', host: '127.0.0.1', port: 1 }) } as unknown as NodeDirectory;
    const handler = sendJobHandler({ index, nodes, objects: null as never, decoder: null as never, aeTitle: () => 'PACS', unreachable: new UnreachableNodes(() => 0) });
    const run = (payload: Record<string, unknown>) =>
      handler.run({ job: { id: 1, payload, progress: {} } as unknown as Job, signal: new AbortController().signal, progress: () => {}, logger: createLogger({ level: 'silent' }) });
    const byRule = await run({ destination: 'LAB', level: 'STUDY', uids: ['1.2.3.4'], changes: { after: 0, upTo: 10 } });
    assert.equal(byRule?.total, 0);
    assert.match(byRule?.message ?? '', /no longer stored \(deleted before the job ran\)/);
    await assert.rejects(run({ destination: 'LAB', level: 'STUDY', uids: ['1.2.3.4'] }), (e: unknown) => e instanceof PermanentJobError && /nothing stored matches/.test(e.message));
  } finally {
    await index.close();
  }
});

test('a range of changes the pruned log no longer holds whole selects the whole study, not what is left of it', async () => {
  const index = SqliteIndex.open({ path: join(dir, 'p.db'), walMode: true });
  await index.migrate();
  try {
    const seqs: number[] = [];
    for (const sop of ['9.1', '9.2', '9.3']) seqs.push((await index.storeInstance(record({ sop, study: '9' }), 'insert')).changeSeq);
    const selected = async () => (await transferSelection(index, 'STUDY', ['9'], { after: seqs[0]!, upTo: seqs[2]! })).map((l) => l.SOPInstanceUID).sort();
    assert.deepEqual(await selected(), ['9.2', '9.3'], 'what changed after the rule acted');
    await index.cursors.advance('instance.received', seqs[2]!);
    assert.equal(await index.cursors.pruneChanges(new Date(Date.now() + 60_000), 100), 2);
    assert.deepEqual(await selected(), ['9.1', '9.2', '9.3'], 'the log lost 9.2: the whole study rather than 9.3 alone');
  } finally {
    await index.close();
  }
});
