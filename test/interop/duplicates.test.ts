// storage.duplicate_policy with real re-sends: the pydicom MR_small family is one SOP Instance
// UID in several transfer syntaxes (different bytes), sent one after another with storescu.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SAMPLES, run, storescuProfile } from '../helpers/dcmtk.js';
import { startTestPacs } from '../helpers/pacs.js';

const UID = '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457';
const first = path.join(SAMPLES, 'pydicom__MR_small.dcm');
const second = path.join(SAMPLES, 'pydicom__MR_small_implicit.dcm');

for (const policy of ['reject', 'overwrite', 'ignore'] as const) {
  describe(`duplicate_policy: ${policy}`, () => {
    test('the same bytes again succeed; other content follows the policy', async () => {
      const pacs = await startTestPacs({ storage: { duplicate_policy: policy } });
      try {
        // The profile sends each file in its own transfer syntax: storescu -R would convert the
        // implicit VR copy to explicit VR and make it identical to the first.
        const send = async (f: string) => run('storescu', ['-v', ...(await storescuProfile([f], pacs.dir)), '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), f]);
        const index = pacs.server.archive.index;
        assert.equal((await send(first)).code, 0);
        const original = (await index.findInstance(UID))!;
        const again = await send(first);
        assert.match(again.stderr, /Received Store Response \(Success\)/, 'the identical bytes again are a success under every policy');
        const other = await send(second);
        const now = (await index.findInstance(UID))!;
        if (policy === 'reject') {
          assert.match(other.stderr, /Received Store Response \(.*(0x0?111|Duplicate|Failure|Error).*\)/i, other.stderr);
          assert.equal(now.checksum, original.checksum, 'the first copy is kept');
        } else if (policy === 'ignore') {
          assert.match(other.stderr, /Received Store Response \(Success\)/);
          assert.equal(now.checksum, original.checksum, 'the first copy is kept');
        } else {
          assert.match(other.stderr, /Received Store Response \(Success\)/);
          assert.notEqual(now.checksum, original.checksum, 'the second copy replaced the first');
          assert.equal(now.transferSyntaxUID, '1.2.840.10008.1.2');
        }
        assert.equal((await index.statistics()).instances, 1);
        assert.deepEqual(pacs.files(), [now.path], 'one file, no leftovers');
      } finally {
        await pacs.stop();
      }
    });
  });
}
