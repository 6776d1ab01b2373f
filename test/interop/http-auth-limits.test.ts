// The HTTP rate limit with wrong passwords: each request counts once against its address
// (http.rate_limit_per_minute is requests a minute), not once before hashing and again after.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

describe('rate limit and wrong passwords', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, viewer: false, rate_limit_per_minute: 4, users: [{ username: 'ann', password: 'right-one', role: 'read' }] } });
  });
  after(() => pacs.stop());

  test('four wrong passwords a minute are four requests: 401 each, the fifth 429', async () => {
    const app = pacs.server.httpServer!;
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      const authorization = `Basic ${Buffer.from(`ann:guess-${i}`).toString('base64')}`;
      codes.push((await app.inject({ method: 'GET', url: '/api/studies', remoteAddress: '10.0.0.9', headers: { authorization } })).statusCode);
    }
    assert.deepEqual(codes, [401, 401, 401, 401, 429]);
  });
});
