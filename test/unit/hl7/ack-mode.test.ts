// Original and enhanced acknowledgment mode (MSH-15, MSH-16) as the HL7 service answers them:
// which ACK, if any, for a message applied, one refused for its content, one rejected for its
// type; and that what the message does is done whatever is answered.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/logging.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { WorklistService } from '../../../src/services/worklist.js';
import { Hl7Service } from '../../../src/hl7/service.js';
import { Hl7Message } from '../../../src/hl7/message.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-hl7-ack-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function service(processingIds: readonly string[] = ['P']) {
  const index = SqliteIndex.open({ path: join(dir, `${Math.random().toString(36).slice(2)}.db`), walMode: true });
  await index.migrate();
  after(() => index.close());
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: false }));
  const hl7 = new Hl7Service({ worklist, index, logger: createLogger({ level: 'silent' }), settings: () => ({ charset: 'UTF-8', stationAE: {}, processingIds, maxOrders: 100 }) });
  /** The ACK's MSA and ERR, or null when nothing is answered. */
  const send = async (message: string) => {
    const bytes = await hl7.handle(Buffer.from(message, 'utf8'));
    if (!bytes) return null;
    const ack = Hl7Message.parse(bytes.toString('utf8'));
    const msa = ack.segment('MSA');
    return { code: ack.get(msa, 1), control: ack.get(msa, 2), text: ack.get(msa, 3), err: ack.get(ack.segment('ERR'), 3), ack };
  };
  return { worklist, send };
}

/** An ORM^O01 with one order, MSH-15 and MSH-16 as given. */
function orm(placer: string, accept: string, application: string, o: { type?: string; modality?: string; processing?: string } = {}): string {
  const obr = ['OBR', '1', placer, `F${placer}`, 'CTHEAD^CT Head^LOCAL', ...Array<string>(13).fill(''), `ACC${placer}`, '', '', '', '', '', o.modality ?? 'CT'];
  return [
    `MSH|^~\\&|RIS|HOSP|PACS|RAD|20260312083000||${o.type ?? 'ORM^O01'}|C-${placer}|${o.processing ?? 'P'}|2.5.1|||${accept}|${application}|`,
    'PID|1||H1^^^HOSP||DOE^JANE||19800102|F',
    `ORC|NW|${placer}|F${placer}`,
    'TQ1|1||||||202603120930',
    obr.join('|'),
  ].join('\r');
}

// What is answered (MSA-1, '-' for nothing) for a message applied, one with an error in its
// content (OBR-24 naming no modality: AE 103) and one rejected (ORU^R01: AR 200), by MSH-15/MSH-16.
// Written out, not computed: HL7 v2.5.1 2.9.3 with the choices of src/hl7/ack-mode.ts.
const EXPECTED: ReadonlyArray<[string, string, string, string, string]> = [
  // MSH-15, MSH-16, success, error, reject
  ['', '', 'AA', 'AE', 'AR'], // original mode, as before
  ['AL', 'AL', 'CA', 'CE', 'CR'],
  ['AL', 'NE', 'CA', 'CE', 'CR'],
  ['AL', 'ER', 'CA', 'CE', 'CR'],
  ['AL', 'SU', 'CA', 'CE', 'CR'],
  ['NE', 'AL', 'AA', 'AE', 'AR'],
  ['NE', 'NE', '-', '-', '-'],
  ['NE', 'ER', '-', 'AE', 'AR'],
  ['NE', 'SU', 'AA', '-', '-'],
  ['ER', 'AL', 'AA', 'CE', 'CR'],
  ['ER', 'NE', '-', 'CE', 'CR'],
  ['ER', 'ER', '-', 'CE', 'CR'],
  ['ER', 'SU', 'AA', 'CE', 'CR'],
  ['SU', 'AL', 'CA', 'AE', 'AR'],
  ['SU', 'NE', 'CA', '-', '-'],
  ['SU', 'ER', 'CA', 'AE', 'AR'],
  ['SU', 'SU', 'CA', '-', '-'],
  // One field valued is enhanced mode. An empty MSH-16 asks for no application ACK; an empty
  // MSH-15 leaves no message unanswered: the accept ACK when the application ACK is not sent.
  ['AL', '', 'CA', 'CE', 'CR'],
  ['NE', '', '-', '-', '-'],
  ['ER', '', '-', 'CE', 'CR'],
  ['SU', '', 'CA', '-', '-'],
  ['', 'AL', 'AA', 'AE', 'AR'],
  ['', 'NE', 'CA', 'CE', 'CR'],
  ['', 'ER', 'CA', 'AE', 'AR'],
  ['', 'SU', 'AA', 'CE', 'CR'],
  // Lower case is read as upper case; a value not in Table 0155 as AL (whoever asks is answered).
  ['ne', 'al', 'AA', 'AE', 'AR'],
  ['XX', 'NE', 'CA', 'CE', 'CR'],
];

test('MSH-15 / MSH-16: each combination answers one ACK or none, as the table says; the message is applied or not whatever is answered', async () => {
  const { send, worklist } = await service();
  let n = 0;
  for (const [accept, application, success, error, reject] of EXPECTED) {
    const mode = `${accept || '∅'}/${application || '∅'}`;
    const ok = `OK${++n}`;
    const applied = await send(orm(ok, accept, application));
    assert.equal(applied?.code ?? '-', success, `${mode} success`);
    assert.notEqual(await worklist.bySourceKey('hl7', ok), null, `${mode}: applied, answered or not`);
    if (applied) assert.deepEqual([applied.control, applied.text, applied.err], [`C-${ok}`, `order ${ok} scheduled`, ''], `${mode} success`);

    const bad = `BAD${n}`;
    const refused = await send(orm(bad, accept, application, { modality: 'XYZ' }));
    assert.equal(refused?.code ?? '-', error, `${mode} error`);
    assert.equal(await worklist.bySourceKey('hl7', bad), null, `${mode}: an error applies nothing`);
    if (refused) assert.deepEqual([refused.control, refused.err, refused.ack.get(refused.ack.segment('ERR'), 2)], [`C-${bad}`, '103', 'OBR'], `${mode} error`);
    if (refused) assert.match(refused.text, /OBR-24 "XYZ"/, `${mode} error`);

    const other = `ORU${n}`;
    const rejected = await send(orm(other, accept, application, { type: 'ORU^R01' }));
    assert.equal(rejected?.code ?? '-', reject, `${mode} reject`);
    assert.equal(await worklist.bySourceKey('hl7', other), null, `${mode}: a rejected message applies nothing`);
    if (rejected) assert.deepEqual([rejected.control, rejected.err], [`C-${other}`, '200'], `${mode} reject`);
  }
});

test('enhanced mode: CR for an event or processing ID not ours (AR 201, 202); CE for what is not taken otherwise (a malformed segment, an unknown character set)', async () => {
  const { send, worklist } = await service();
  const cases: Array<[string, string, string]> = [
    ['event', orm('E1', 'AL', 'NE', { type: 'ORM^O02' }), 'CR 201'],
    ['training message', orm('E2', 'AL', 'NE', { processing: 'T' }), 'CR 202'],
    ['processing ID', orm('E3', 'AL', 'NE', { processing: 'X' }), 'CR 202'],
    ['segment name', `${orm('E4', 'AL', 'NE')}\rn t e|1`, 'CE 100'],
    ['character set', orm('E5', 'AL', 'NE').replace(/^(MSH.*)$/m, '$1|8859/7'), 'CE 103'],
    ['MSH-10 empty', orm('E6', 'AL', 'NE').replace('|C-E6|', '||'), 'CE 101'],
  ];
  for (const [what, message, expected] of cases) {
    const ack = await send(message);
    assert.equal(`${ack?.code} ${ack?.err}`, expected, what);
  }
  for (const key of ['E1', 'E2', 'E3', 'E4', 'E5', 'E6']) assert.equal(await worklist.bySourceKey('hl7', key), null, key);
  // Not even enhanced mode helps a message without a readable MSH: nothing says what it asked for.
  assert.equal((await send('not HL7'))?.code, 'AR');
});
