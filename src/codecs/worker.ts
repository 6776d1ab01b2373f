// A codec worker: takes tasks one at a time from the pool, decoding a frame to native pixels or
// rendering one to an image, and answers each with the result (its buffer transferred) or the
// reason it failed (worker-task.ts). Codec libraries load on first use.
import { parentPort } from 'node:worker_threads';
import { type TaskMessage, runTask } from './worker-task.js';

export type { ReplyMessage, TaskMessage } from './worker-task.js';

const port = parentPort;
if (!port) throw new Error('codecs/worker.js runs only as a worker thread');

port.on('message', (m: TaskMessage) => {
  void runTask(m).then(({ reply, transfer }) => port.postMessage(reply, transfer));
});
