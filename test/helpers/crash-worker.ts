// A decoding worker for pool tests: the real one, except that an RLE frame whose first byte is
// 0xEE ends the thread (a crash) and one starting 0xDD never returns (a hang). The real
// worker's listener is attached first (static import) and answers only after a microtask, so
// these synchronous ones act before it can.
import '../../src/codecs/worker.js';
import { parentPort } from 'node:worker_threads';
import type { TaskMessage } from '../../src/codecs/worker-task.js';

parentPort!.on('message', (m: TaskMessage) => {
  const first = new Uint8Array(m.task.frame)[0];
  if (first === 0xee) process.exit(7);
  if (first === 0xdd) for (;;);
});
