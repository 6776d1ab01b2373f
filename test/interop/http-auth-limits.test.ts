// The HTTP rate limit with wrong passwords: each request counts once against its address
// (http.rate_limit_per_minute is requests a minute), not once before hashing and again after.
// Without a rate limit, wrong passwords are still limited: 10 a minute per address, then 429.
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

describe('wrong passwords without a rate limit', () => {
  let pacs: TestPacs;
  before(async () => {
    const users = [{ username: 'ann', password: 'right-one', role: 'read' }, { username: 'bob', password: 'bobs-own', role: 'read' }];
    pacs = await startTestPacs({ http: { enabled: true, port: 0, viewer: false, users } });
  });
  after(() => pacs.stop());
  const as = (password: string, remoteAddress: string, user = 'ann') =>
    pacs.server.httpServer!.inject({ method: 'GET', url: '/api/studies', remoteAddress, headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });

  test('ten wrong passwords a minute from an address, then 429 with Retry-After, even for the right one; others unaffected', async () => {
    assert.equal((await as('right-one', '10.0.0.7')).statusCode, 200, 'verified before the guessing');
    const codes: number[] = [];
    for (let i = 0; i < 11; i++) codes.push((await as(`guess-${i}`, '10.0.0.7')).statusCode);
    assert.deepEqual(codes, [...Array<number>(10).fill(401), 429]);
    const refused = await as('bobs-own', '10.0.0.7', 'bob');
    assert.equal(refused.statusCode, 429);
    const wait = Number(refused.headers['retry-after']);
    assert.ok(wait > 0 && wait <= 60, `Retry-After ${wait}`);
    assert.match(refused.json<{ detail: string }>().detail, /wrong passwords a minute/);
    assert.equal((await as('right-one', '10.0.0.7')).statusCode, 200, 'credentials verified before still work');
    assert.equal((await as('guess', '10.0.0.8')).statusCode, 401, 'another address');
  });
});
