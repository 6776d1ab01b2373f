// User Identity Negotiation (PS3.7 D.3.3.7) with DCMTK's storescu --user/--password, and the
// source addresses of known nodes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { hashPassword } from '../../src/core/passwords.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');

describe('user identity negotiation', () => {
  let pacs: TestPacs;
  const store = (aet: string, ...extra: string[]) => run('storescu', ['-v', '-aet', aet, '-aec', 'PACS_SERVER', ...extra, '127.0.0.1', String(pacs.port), CT]);
  before(async () => {
    pacs = await startTestPacs({
      access_control: {
        user_identity: { required: true, users: [{ username: 'alice', password: hashPassword('s3cret', Buffer.from('0123456789abcdef')) }, { username: 'scanner' }] },
      },
      known_nodes: [
        { ae_title: 'FARAWAY', host: '192.0.2.1', port: 104, addresses: ['192.0.2.0/24'] },
        { ae_title: 'NEARBY', host: '127.0.0.1', port: 104, addresses: ['10.0.0.0/8', '127.0.0.0/8'] },
      ] as never,
    });
  });
  after(() => pacs.stop());

  test('required and missing, unknown user or wrong password: A-ASSOCIATE-RJ permanent, service user, no reason given', async () => {
    for (const extra of [[], ['-usr', 'mallory', '-pwd', 's3cret'], ['-usr', 'alice', '-pwd', 'guess'], ['-usr', 'alice']]) {
      const r = await store('MODALITY', ...extra);
      assert.notEqual(r.code, 0, extra.join(' '));
      assert.match(r.stdout + r.stderr, /Association Rejected/i, extra.join(' '));
      assert.match(r.stdout + r.stderr, /Rejected Permanent/i);
    }
    assert.equal((await pacs.server.archive.index.statistics()).instances, 0);
  });

  test('the right password (scrypt hash in the configuration) is accepted, with the positive response asked for', async () => {
    const r = await store('MODALITY', '-usr', 'alice', '-pwd', 's3cret', '-rsp');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const plain = await store('MODALITY', '-usr', 'scanner');
    assert.equal(plain.code, 0, 'a user without a password: the user name suffices');
    assert.equal((await pacs.server.archive.index.statistics()).instances, 1);
  });

  test('a known node with addresses is refused from elsewhere (calling AE not recognized), accepted from them', async () => {
    const far = await store('FARAWAY', '-usr', 'scanner');
    assert.match(far.stdout + far.stderr, /Association Rejected/i);
    assert.match(far.stdout + far.stderr, /Calling AE Title Not Recognized/i);
    assert.equal((await store('NEARBY', '-usr', 'scanner')).code, 0);
  });

  test('optional: no identity is fine, a wrong one is still refused', async () => {
    const c = pacs.server.archive.config();
    pacs.server.reload({ ...c, access_control: { ...c.access_control, user_identity: { ...c.access_control.user_identity!, required: false } } });
    assert.equal((await store('MODALITY')).code, 0);
    const wrong = await store('MODALITY', '-usr', 'alice', '-pwd', 'guess');
    assert.match(wrong.stdout + wrong.stderr, /Association Rejected/i);
  });
});
