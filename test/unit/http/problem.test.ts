// Errors as HTTP problems: titles by status (whoever threw), our error code alongside, a missing stored file as 404, and nothing of an
// unexpected error's message (paths of the server) in the answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { FastifyReply } from 'fastify';
import { clientWentAway, problemOf, sendProblem } from '../../../src/http/problem.js';
import { PacsError } from '../../../src/core/errors.js';

test("fastify's 4xx refusals keep their status and words", () => {
  const fastifyError = (statusCode: number, message: string) => Object.assign(new Error(message), { statusCode });
  assert.deepEqual(problemOf(fastifyError(413, 'Request body is too large')), { status: 413, detail: 'Request body is too large' });
  assert.equal(problemOf(fastifyError(415, 'Unsupported Media Type')).status, 415);
  assert.deepEqual(problemOf(new PacsError('NOT_FOUND', 'no worklist entry 9')), { status: 404, detail: 'no worklist entry 9', code: 'NOT_FOUND' });
});

test('every problem is titled by its status (RFC 9457 about:blank), whatever threw it; our code rides along', () => {
  const sent: unknown[] = [];
  const reply = { code: () => reply, type: () => reply, send: (b: unknown) => (sent.push(b), reply) } as unknown as FastifyReply;
  sendProblem(reply, 404, 'no worklist entry 9', 'NOT_FOUND');
  sendProblem(reply, 400, 'body/port must be integer');
  sendProblem(reply, 499, 'gone');
  assert.deepEqual(sent, [
    { type: 'about:blank', status: 404, title: 'Not Found', detail: 'no worklist entry 9', code: 'NOT_FOUND' },
    { type: 'about:blank', status: 400, title: 'Bad Request', detail: 'body/port must be integer' },
    { type: 'about:blank', status: 499, title: 'Client Closed Request', detail: 'gone' },
  ]);
});

test('a missing file is a 404 without its path; an unexpected error a 500 with a generic detail', () => {
  const enoent = Object.assign(new Error("ENOENT: no such file or directory, open '/tmp/pacs-x/archive/1/2/3.dcm'"), { code: 'ENOENT' });
  const missing = problemOf(enoent);
  assert.equal(missing.status, 404);
  assert.doesNotMatch(missing.detail, /\/tmp|ENOENT/);
  const boom = problemOf(new Error("EACCES: permission denied, open '/srv/pacs/archive/x.dcm'"));
  assert.equal(boom.status, 500);
  assert.doesNotMatch(boom.detail, /\/srv|EACCES/);
  assert.equal(problemOf(new PacsError('INTERNAL' as never, '/srv/pacs/secret')).detail.includes('/srv'), false, 'a PacsError of no known status too');
  assert.equal(problemOf(new PacsError('NOT_FOUND', 'no study 1.2.3')).detail, 'no study 1.2.3', 'known PacsErrors keep their words');
});

test('clientWentAway: a connection error on a closed socket, not any error', () => {
  const closed = { socket: { destroyed: true } } as unknown as IncomingMessage;
  const open = { socket: { destroyed: false } } as unknown as IncomingMessage;
  assert.equal(clientWentAway(closed, Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), true);
  assert.equal(clientWentAway(closed, new Error('aborted')), true);
  assert.equal(clientWentAway(open, Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), false, 'the socket is still there: not gone');
  assert.equal(clientWentAway(closed, new Error('disk full')), false);
  // A conversion given up because the client left: no server fault either.
  assert.equal(clientWentAway(closed, new PacsError('ABORTED', 'frame 1 of 12 (j2k): the frame was no longer wanted')), true);
  assert.equal(clientWentAway(open, new PacsError('ABORTED', 'the decoder pool is closed')), false);
});
