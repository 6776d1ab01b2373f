// A codec worker: takes tasks one at a time from the pool, decoding a frame to native pixels or
// rendering one to an image, and answers each with the result (its buffer transferred) or the
// reason it failed. Codec libraries load on first use.
import { parentPort } from 'node:worker_threads';
import { PacsError, errorMessage, type ErrorCode } from '../core/errors.js';
import { decodeFrame } from './decoders.js';
import type { FrameResult, FrameTask, RenderResult, RenderTask } from './frame.js';
import { encodeImage } from './image-encode.js';
import { renderPixels } from './render.js';
import { owned } from './shape.js';

export type TaskMessage = { id: number; kind: 'decode'; task: FrameTask } | { id: number; kind: 'render'; task: RenderTask };
export type ReplyMessage = { id: number; ok: true; result: FrameResult | RenderResult } | { id: number; ok: false; error: string; code?: ErrorCode };

const port = parentPort;
if (!port) throw new Error('codecs/worker.js runs only as a worker thread');

/** Photometric Interpretations whose native frames hold two pixels in four samples. */
const PACKED_422 = new Set(['YBR_FULL_422', 'YBR_PARTIAL_422']);

async function render(t: RenderTask): Promise<RenderResult> {
  let pixels = new Uint8Array(t.frame);
  let image = t.image;
  if (t.codec) {
    const decoded = await decodeFrame(t.codec, pixels, image);
    pixels = new Uint8Array(decoded.pixels);
    image = { ...image, photometric: decoded.photometric, planarConfiguration: 0 };
  }
  const px = renderPixels(pixels, image, t.options, !t.codec && PACKED_422.has(image.photometric));
  const bytes = await encodeImage(px, t.options.format, t.options.quality);
  return { bytes: owned(bytes), width: px.width, height: px.height };
}

port.on('message', (m: TaskMessage) => {
  const work: Promise<FrameResult | RenderResult> = m.kind === 'render' ? render(m.task) : decodeFrame(m.task.codec, new Uint8Array(m.task.frame), m.task.geometry);
  work.then(
    (r) => port.postMessage({ id: m.id, ok: true, result: r } satisfies ReplyMessage, ['pixels' in r ? r.pixels : r.bytes]),
    (e: unknown) => port.postMessage({ id: m.id, ok: false, error: errorMessage(e), ...(e instanceof PacsError ? { code: e.code } : {}) } satisfies ReplyMessage),
  );
});
