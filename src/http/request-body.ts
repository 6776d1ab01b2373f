// A request body read up to a limit, and what is left of one the answer does not need. A client
// (a browser's upload, curl) sends its whole body before it reads the answer: a server that
// stops reading and closes, or destroys the socket (what throwing inside `for await` over the
// request does), has the client see "connection reset" instead of the answer, whose problem+json
// said why. So the rest is read and thrown away, and the connection lives on.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { BodyPace } from './upload-guard.js';

/**
 * Past this much discarded, the connection is closed instead: the client has had the answer
 * since before (browsers and curl read an answer that comes while they send), and a body of
 * gigabytes is not worth the bandwidth to throw away.
 */
export const DISCARD_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Hands `body`'s chunks to `write` one at a time (the next is read once the last is written)
 * while they add up to at most `max` bytes. Resolves true at the end of the body, false as soon
 * as it goes over `max` (nothing more is written; the stream is left paused for discardRest).
 * Rejects with write's error, or the stream's (the client left), or the pace's TooSlowError.
 */
export function readUpTo(body: Readable, max: number, write: (chunk: Buffer) => Promise<void>, pace?: BodyPace): Promise<boolean> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    let settled = false;
    const settle = (outcome: boolean | Error): void => {
      if (settled) return;
      settled = true;
      pace?.stop();
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      body.pause();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const onData = (chunk: Buffer): void => {
      pace?.got(chunk.length);
      if (settled) return;
      bytes += chunk.length;
      if (bytes > max) return settle(false);
      body.pause();
      write(chunk).then(
        () => {
          if (settled) return;
          pace?.waiting();
          body.resume();
        },
        (e: unknown) => settle(e instanceof Error ? e : new Error(String(e))),
      );
    };
    const onEnd = (): void => settle(true);
    const onError = (e: Error): void => settle(e);
    // Closed before its end without an error event: the client went away.
    const onClose = (): void => settle(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    body.on('data', onData).once('end', onEnd).once('error', onError).once('close', onClose);
    pace?.waiting();
    pace?.whenTooSlow(settle);
  });
}

/** Reads and throws away the rest of a request's body (see DISCARD_MAX_BYTES). */
export function discardRest(req: IncomingMessage): void {
  if (req.complete) return;
  let bytes = 0;
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > DISCARD_MAX_BYTES) req.socket?.destroy();
  });
  // A stream that was read from and paused does not flow again by a new 'data' listener alone.
  req.on('error', () => {}).resume();
}
