// Per-node permissions: a calling AE that is a known node may do only what its `permissions`
// list allows — refused operations get 0x0124 "Not authorized" with the reason, the association
// stays usable, nothing is stored; other AEs are governed by access_control alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const MR = path.join(SAMPLES, 'pydicom__MR_small.dcm');

describe('known node permissions', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs({
      known_nodes: [
        { ae_title: 'VIEWER', host: '127.0.0.1', port: 104, permissions: ['find', 'get'] },
        { ae_title: 'MODALITY', host: '127.0.0.1', port: 105, permissions: ['store'] },
      ] as never,
    });
  });
  after(() => pacs.stop());

  test('a node without "store" is refused with 0x0124 and a reason (and audited); one with it stores; an unknown AE may', async () => {
    const denied: unknown[] = [];
    pacs.server.archive.events.on('audit', (e) => {
      if (e.action === 'access-denied') denied.push([e.who, (e.what as { operation: string }).operation]);
    });
    const refused = await run('storescu', ['-v', '-aet', 'VIEWER', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), CT]);
    assert.match(refused.stdout + refused.stderr, /0x0?124|Not ?Authorized/i);
    assert.deepEqual(denied, [['VIEWER', 'C-STORE-RQ']], 'in the audit trail');
    assert.equal((await pacs.server.archive.index.statistics()).instances, 0, 'nothing stored');
    const ok = await run('storescu', ['-v', '-aet', 'MODALITY', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), CT]);
    assert.equal(ok.code, 0, ok.stderr);
    const other = await run('storescu', ['-v', '-aet', 'SOMEONE', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), MR]);
    assert.equal(other.code, 0, other.stderr);
    assert.equal((await pacs.server.archive.index.statistics()).instances, 2);
  });

  test('C-FIND: allowed for the viewer, refused for the modality; C-ECHO for everyone', async () => {
    const find = (aet: string) => run('findscu', ['-v', '-S', '-aet', aet, '-aec', 'PACS_SERVER', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(pacs.port)]);
    const viewer = await find('VIEWER');
    assert.equal(viewer.code, 0, viewer.stderr);
    assert.match(viewer.stdout + viewer.stderr, /StudyInstanceUID/);
    const modality = await find('MODALITY');
    assert.match(modality.stdout + modality.stderr, /0x0?124|Not ?Authorized|may not find/i);
    assert.equal((await run('echoscu', ['-aet', 'MODALITY', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)])).code, 0);
  });

  test('nodes added through the API take effect for new requests', async () => {
    await pacs.server.archive.nodes.put({ ae_title: 'LATE', host: '127.0.0.1', port: 106, tls: false, permissions: ['find'], description: '' });
    const refused = await run('storescu', ['-v', '-aet', 'LATE', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), MR]);
    assert.match(refused.stdout + refused.stderr, /0x0?124|Not ?Authorized/i);
  });
});
