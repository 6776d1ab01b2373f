// A codec worker for tests: the real task code (worker-task.ts), but each task waits for the
// gate (codec-gate.ts) to let it through. Shut at start.
import { parentPort } from 'node:worker_threads';
import { type TaskMessage, runTask } from '../../src/codecs/worker-task.js';
import { GATE_CHANNEL, type GateMessage } from './codec-gate.js';

const port = parentPort!;
let tokens = 0;
const waiting: (() => void)[] = [];

const channel = new BroadcastChannel(GATE_CHANNEL);
channel.onmessage = (e: MessageEvent) => {
  const m = e.data as GateMessage;
  if ('shut' in m) tokens = 0;
  else tokens += m.allow;
  while (tokens > 0 && waiting.length) {
    tokens--;
    waiting.shift()!();
  }
};

function pass(): Promise<void> {
  if (tokens > 0) {
    tokens--;
    return Promise.resolve();
  }
  return new Promise((resolve) => waiting.push(resolve));
}

port.on('message', (m: TaskMessage) => {
  void pass()
    .then(() => runTask(m))
    .then(({ reply, transfer }) => port.postMessage(reply, transfer));
});
