// A codec worker for tests: the real task code (worker-task.ts), but each task waits until the
// gate (codec-gate.ts) is open. Shut until the test's side says otherwise.
import { parentPort } from 'node:worker_threads';
import { type TaskMessage, runTask } from '../../src/codecs/worker-task.js';
import { GATE_CHANNEL, type GateMessage } from './codec-gate.js';

const port = parentPort!;
let open = false;
const waiting: (() => void)[] = [];

const channel = new BroadcastChannel(GATE_CHANNEL);
channel.onmessage = (e: MessageEvent) => {
  const m = e.data as GateMessage;
  if (!('open' in m)) return;
  open = m.open;
  if (open) for (const go of waiting.splice(0)) go();
};
channel.postMessage({ hello: true } satisfies GateMessage);

port.on('message', (m: TaskMessage) => {
  const pass = open ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve));
  void pass.then(() => runTask(m)).then(({ reply, transfer }) => port.postMessage(reply, transfer));
});
