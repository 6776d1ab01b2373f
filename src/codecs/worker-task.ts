// What a codec worker does with one task, apart from how the task reaches it: worker.ts answers
// the pool's messages with it, and a test's worker can hold tasks back before running them.
import { PacsError, errorMessage } from '../core/errors.js';
import { decodeFrame } from './decoders.js';
import type { FrameResult, FrameTask, RenderResult, RenderTask } from './frame.js';
import { encodeImage } from './image-encode.js';
import { renderPixels } from './render.js';
import { owned } from './shape.js';
import type { ErrorCode } from '../core/errors.js';

export type TaskMessage = { id: number; kind: 'decode'; task: FrameTask } | { id: number; kind: 'render'; task: RenderTask };
export type ReplyMessage = { id: number; ok: true; result: FrameResult | RenderResult } | { id: number; ok: false; error: string; code?: ErrorCode };

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

/** The reply to one task, with the buffer to transfer back (none for a failure). */
export async function runTask(m: TaskMessage): Promise<{ reply: ReplyMessage; transfer: ArrayBuffer[] }> {
  try {
    const r = m.kind === 'render' ? await render(m.task) : await decodeFrame(m.task.codec, new Uint8Array(m.task.frame), m.task.geometry);
    return { reply: { id: m.id, ok: true, result: r }, transfer: ['pixels' in r ? r.pixels : r.bytes] };
  } catch (e) {
    return { reply: { id: m.id, ok: false, error: errorMessage(e), ...(e instanceof PacsError ? { code: e.code } : {}) }, transfer: [] };
  }
}
