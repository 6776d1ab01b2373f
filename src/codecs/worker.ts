// A decoding worker: takes frame tasks one at a time from the pool and answers each with the
// native pixels (transferred) or the reason it failed. Codec libraries load on first use.
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../core/errors.js';
import { decodeFrame } from './decoders.js';
import type { FrameTask } from './frame.js';

export interface TaskMessage {
  id: number;
  task: FrameTask;
}
export type ReplyMessage = { id: number; ok: true; pixels: ArrayBuffer; photometric: string } | { id: number; ok: false; error: string };

const port = parentPort;
if (!port) throw new Error('codecs/worker.js runs only as a worker thread');

port.on('message', (m: TaskMessage) => {
  decodeFrame(m.task.codec, new Uint8Array(m.task.frame), m.task.geometry).then(
    (r) => port.postMessage({ id: m.id, ok: true, pixels: r.pixels, photometric: r.photometric } satisfies ReplyMessage, [r.pixels]),
    (e: unknown) => port.postMessage({ id: m.id, ok: false, error: errorMessage(e) } satisfies ReplyMessage),
  );
});
