// DIMSE command sets (PS3.7 6.3, Annex E) and the reassembly of messages from PDVs (PS3.8
// Annex E): commands buffered, datasets streamed to the sink the command's handler returns.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BufferSink, type DatasetSink, DimseAssembler, DimseProtocolError } from '../../../src/net/dimse/assembler.js';
import { type Command, CommandDecodeError, CommandField, NO_DATASET, Priority, decodeCommand, encodeCommand, hasDataset } from '../../../src/net/dimse/command.js';
import type { Pdv } from '../../../src/net/pdu/types.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const STUDY_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const VERIFICATION = '1.2.840.10008.1.1';

interface Element {
  group: number;
  element: number;
  value: Buffer;
}

/** Walks an implicit VR little endian command set element by element. */
function elements(buf: Buffer): Element[] {
  const out: Element[] = [];
  for (let off = 0; off < buf.length; ) {
    const len = buf.readUInt32LE(off + 4);
    out.push({ group: buf.readUInt16LE(off), element: buf.readUInt16LE(off + 2), value: buf.subarray(off + 8, off + 8 + len) });
    off += 8 + len;
  }
  return out;
}

const element = (group: number, el: number, value: Buffer): Buffer => {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(el, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
};
const us = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};

/** Checks the group length element and returns the decoded command without it. */
function roundTrip(cmd: Command): Command {
  const bytes = encodeCommand(cmd);
  const els = elements(bytes);
  assert.deepEqual([els[0]!.group, els[0]!.element], [0, 0], 'Command Group Length comes first');
  assert.equal(els[0]!.value.length, 4);
  assert.equal(els[0]!.value.readUInt32LE(0), bytes.length - 12, 'group length counts every byte after it');
  for (const e of els) {
    assert.equal(e.group, 0, 'only group 0000');
    assert.equal(e.value.length % 2, 0, `(0000,${e.element.toString(16)}) has even length`);
  }
  const tags = els.map((e) => e.element);
  assert.deepEqual(tags, [...tags].sort((a, b) => a - b), 'elements in ascending tag order');
  const back = decodeCommand(bytes);
  assert.equal(back.CommandGroupLength, bytes.length - 12);
  const { CommandGroupLength: _gl, ...rest } = back;
  return rest as Command;
}

describe('DIMSE command sets', () => {
  test('C-STORE-RQ round trip, with a C-MOVE originator (AE and US)', () => {
    const rq: Command = {
      CommandField: CommandField.C_STORE_RQ,
      AffectedSOPClassUID: CT,
      MessageID: 7,
      Priority: Priority.Medium,
      CommandDataSetType: 0x0000,
      AffectedSOPInstanceUID: '1.2.826.0.1.3680043.8.498.12345678901234567890123',
      MoveOriginatorApplicationEntityTitle: 'MOVE_SCU',
      MoveOriginatorMessageID: 3,
    };
    assert.deepEqual(roundTrip(rq), rq);
    assert.ok(hasDataset(rq));
  });

  test('C-STORE-RSP round trip with a failure status, error comment and offending elements (AT)', () => {
    const rsp: Command = {
      CommandField: CommandField.C_STORE_RSP,
      AffectedSOPClassUID: CT,
      MessageIDBeingRespondedTo: 7,
      CommandDataSetType: NO_DATASET,
      Status: 0xa900,
      OffendingElement: [0x00080018, 0x00100010, 0x7fe00010],
      ErrorComment: 'SOP Instance UID differs',
      AffectedSOPInstanceUID: '1.2.3.4.5',
    };
    const back = roundTrip(rsp);
    assert.deepEqual(back, rsp);
    assert.ok(!hasDataset(rsp));
    // AT: group then element, each 16-bit little endian
    const at = elements(encodeCommand(rsp)).find((e) => e.element === 0x0901)!;
    assert.deepEqual([...at.value.subarray(0, 4)], [0x08, 0x00, 0x18, 0x00]);
  });

  test('C-ECHO-RQ and C-ECHO-RSP round trips', () => {
    const rq: Command = { CommandField: CommandField.C_ECHO_RQ, AffectedSOPClassUID: VERIFICATION, MessageID: 1, CommandDataSetType: NO_DATASET };
    const rsp: Command = { CommandField: CommandField.C_ECHO_RSP, AffectedSOPClassUID: VERIFICATION, MessageIDBeingRespondedTo: 1, CommandDataSetType: NO_DATASET, Status: 0 };
    assert.deepEqual(roundTrip(rq), rq);
    assert.deepEqual(roundTrip(rsp), rsp);
  });

  test('C-FIND-RQ and a C-FIND-RSP round trip; C-MOVE-RQ with its destination (AE)', () => {
    const find: Command = { CommandField: CommandField.C_FIND_RQ, AffectedSOPClassUID: STUDY_FIND, MessageID: 0xffff, Priority: Priority.High, CommandDataSetType: 0x0102 };
    assert.deepEqual(roundTrip(find), find);
    const pending: Command = {
      CommandField: CommandField.C_FIND_RSP,
      AffectedSOPClassUID: STUDY_FIND,
      MessageIDBeingRespondedTo: 0xffff,
      CommandDataSetType: 0x0102,
      Status: 0xff00,
      AttributeIdentifierList: [0x00100020],
    };
    assert.deepEqual(roundTrip(pending), pending);
    const move: Command = { CommandField: CommandField.C_MOVE_RQ, AffectedSOPClassUID: '1.2.840.10008.5.1.4.1.2.2.2', MessageID: 2, Priority: Priority.Low, CommandDataSetType: 0, MoveDestination: 'DEST1' };
    assert.deepEqual(roundTrip(move), move);
  });

  test('odd-length values are padded: UI with NUL, AE and LO with a space', () => {
    const cmd: Command = { CommandField: CommandField.C_MOVE_RQ, AffectedSOPClassUID: '1.2.3', MoveDestination: 'ABC', ErrorComment: 'odd' };
    const els = elements(encodeCommand(cmd));
    assert.equal(els.find((e) => e.element === 0x0002)!.value.toString('latin1'), '1.2.3\0');
    assert.equal(els.find((e) => e.element === 0x0600)!.value.toString('latin1'), 'ABC ');
    assert.equal(els.find((e) => e.element === 0x0902)!.value.toString('latin1'), 'odd ');
  });

  test('decode ignores unknown and retired group 0000 elements', () => {
    const known = encodeCommand({ CommandField: CommandField.C_ECHO_RQ, MessageID: 9, CommandDataSetType: NO_DATASET }).subarray(12);
    const bytes = Buffer.concat([
      element(0, 0x0001, Buffer.from([1, 2, 3, 4])), // Command Length to End (retired)
      known,
      element(0, 0x4000, Buffer.from('retired ')), // (0000,4000) Message Set ID
      element(0, 0x5010, Buffer.from('SET ')), // (0000,5010) Message Set ID (retired)
      element(0, 0x8888, us(1)), // not in the standard at all
    ]);
    assert.deepEqual(decodeCommand(bytes), { CommandField: CommandField.C_ECHO_RQ, MessageID: 9, CommandDataSetType: NO_DATASET });
  });

  test('decode rejects elements outside group 0000', () => {
    const good = encodeCommand({ CommandField: CommandField.C_ECHO_RQ, MessageID: 1 });
    assert.throws(() => decodeCommand(Buffer.concat([good, element(0x0008, 0x0016, Buffer.from('1.2\0'))])), CommandDecodeError);
    assert.throws(() => decodeCommand(Buffer.concat([element(0x0002, 0x0010, Buffer.from('1.2\0')), good])), CommandDecodeError);
  });

  test('decode rejects truncated command sets and one without Command Field', () => {
    const good = encodeCommand({ CommandField: CommandField.C_ECHO_RQ, MessageID: 1 });
    assert.throws(() => decodeCommand(good.subarray(0, good.length - 1)), CommandDecodeError);
    assert.throws(() => decodeCommand(good.subarray(0, 5)), CommandDecodeError);
    assert.throws(() => decodeCommand(element(0, 0x0110, us(1))), /Command Field/);
  });
});

// ---------------------------------------------------------------------------------------------

/** A sink that records what it receives; `slow` makes write() ask for a pause. */
class RecordingSink implements DatasetSink {
  chunks: Buffer[] = [];
  ended = 0;
  aborted: Error | null = null;
  drainCbs: (() => void)[] = [];
  constructor(private readonly slow = false) {}
  write(chunk: Buffer): boolean {
    assert.equal(this.ended, 0, 'no write after end');
    this.chunks.push(chunk);
    return !this.slow;
  }
  onDrain(cb: () => void): void {
    this.drainCbs.push(cb);
  }
  end(): void {
    this.ended++;
  }
  abort(reason: Error): void {
    this.aborted = reason;
  }
  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

function assembler(sinkFor: (cmd: Command) => DatasetSink | null = () => null): { asm: DimseAssembler; commands: { ctx: number; cmd: Command }[] } {
  const commands: { ctx: number; cmd: Command }[] = [];
  const asm = new DimseAssembler({
    onCommand: (ctx, cmd) => {
      commands.push({ ctx, cmd });
      return sinkFor(cmd);
    },
  });
  return { asm, commands };
}

const cmdPdvs = (ctx: number, cmd: Command, size: number): Pdv[] => {
  const bytes = encodeCommand(cmd);
  const out: Pdv[] = [];
  for (let off = 0; off < bytes.length; off += size) out.push({ contextId: ctx, command: true, last: off + size >= bytes.length, data: bytes.subarray(off, off + size) });
  return out;
};

const STORE: Command = { CommandField: CommandField.C_STORE_RQ, AffectedSOPClassUID: CT, AffectedSOPInstanceUID: '1.2.3.4', MessageID: 5, Priority: 0, CommandDataSetType: 0 };
const ECHO: Command = { CommandField: CommandField.C_ECHO_RQ, AffectedSOPClassUID: VERIFICATION, MessageID: 6, CommandDataSetType: NO_DATASET };
const ds = (ctx: number, data: Buffer, last: boolean): Pdv => ({ contextId: ctx, command: false, last, data });

describe('DimseAssembler', () => {
  test('a command split across many fragments is decoded once, after its last fragment', () => {
    const { asm, commands } = assembler();
    const pdvs = cmdPdvs(3, ECHO, 3);
    assert.ok(pdvs.length > 10);
    for (const p of pdvs.slice(0, -1)) {
      assert.equal(asm.push(p), null);
      assert.equal(commands.length, 0);
    }
    asm.push(pdvs.at(-1)!);
    assert.deepEqual(commands.map((c) => c.ctx), [3]);
    assert.equal(commands[0]!.cmd.MessageID, 6);
    assert.equal(asm.busy, false, 'C-ECHO has no dataset');
    // and again: the assembler is ready for the next message
    for (const p of cmdPdvs(3, ECHO, 1)) asm.push(p);
    assert.equal(commands.length, 2);
  });

  test('dataset fragments go to the returned sink in order, end() after the last', () => {
    const sink = new RecordingSink();
    const { asm, commands } = assembler(() => sink);
    for (const p of cmdPdvs(1, STORE, 16)) asm.push(p);
    assert.equal(commands.length, 1);
    assert.equal(asm.busy, true);
    const data = Buffer.alloc(5000);
    for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
    for (let off = 0; off < data.length; off += 700) {
      const last = off + 700 >= data.length;
      assert.equal(asm.push(ds(1, data.subarray(off, off + 700), last)), null);
      assert.equal(sink.ended, last ? 1 : 0);
    }
    assert.ok(sink.data.equals(data));
    assert.equal(asm.busy, false);
    // the next message may follow straight away
    for (const p of cmdPdvs(1, ECHO, 100)) asm.push(p);
    assert.equal(commands.length, 2);
    assert.equal(sink.ended, 1);
  });

  test('an empty last dataset fragment ends the dataset without writing', () => {
    const sink = new RecordingSink();
    const { asm } = assembler(() => sink);
    for (const p of cmdPdvs(1, STORE, 1000)) asm.push(p);
    asm.push(ds(1, Buffer.from([1, 2]), false));
    asm.push(ds(1, Buffer.alloc(0), true));
    assert.equal(sink.chunks.length, 1);
    assert.equal(sink.ended, 1);
  });

  test('a sink that falls behind is returned so the caller can pause', () => {
    const sink = new RecordingSink(true);
    const { asm } = assembler(() => sink);
    for (const p of cmdPdvs(1, STORE, 1000)) asm.push(p);
    assert.equal(asm.push(ds(1, Buffer.alloc(10), false)), sink);
  });

  test('a dataset nobody wants (handler returns null) is consumed and dropped', () => {
    const { asm, commands } = assembler(() => null);
    for (const p of cmdPdvs(1, STORE, 1000)) asm.push(p);
    assert.equal(asm.push(ds(1, Buffer.alloc(10), false)), null);
    assert.equal(asm.push(ds(1, Buffer.alloc(10), true)), null);
    for (const p of cmdPdvs(1, ECHO, 1000)) asm.push(p);
    assert.equal(commands.length, 2);
  });

  test('a dataset fragment without a command announcing it is a protocol error', () => {
    const { asm } = assembler();
    assert.throws(() => asm.push(ds(1, Buffer.alloc(4), true)), DimseProtocolError);
    // nor after a command that has no dataset
    const b = assembler();
    for (const p of cmdPdvs(1, ECHO, 1000)) b.asm.push(p);
    assert.throws(() => b.asm.push(ds(1, Buffer.alloc(4), true)), DimseProtocolError);
  });

  test('empty command fragments, or a command set in more than 1,024 fragments, are a protocol error (each held a buffer: the heap filled)', () => {
    const { asm } = assembler();
    assert.throws(() => asm.push({ contextId: 1, command: true, last: false, data: Buffer.alloc(0) }), /empty command fragment/);
    const b = assembler();
    const one = encodeCommand(ECHO).subarray(0, 1);
    for (let i = 0; i < 1024; i++) b.asm.push({ contextId: 1, command: true, last: false, data: one });
    assert.throws(() => b.asm.push({ contextId: 1, command: true, last: false, data: one }), /more than 1024 fragments/);
    // A command set in one-byte fragments is still taken.
    const c = assembler();
    for (const p of cmdPdvs(1, ECHO, 1)) c.asm.push(p);
    assert.equal(c.commands.length, 1);
  });

  test('a command fragment while a dataset is expected is a protocol error', () => {
    const sink = new RecordingSink();
    const { asm } = assembler(() => sink);
    for (const p of cmdPdvs(1, STORE, 1000)) asm.push(p);
    asm.push(ds(1, Buffer.alloc(4), false));
    assert.throws(() => asm.push(cmdPdvs(1, ECHO, 1000)[0]!), DimseProtocolError);
  });

  test('fragments of one message on different presentation contexts are a protocol error', () => {
    const { asm } = assembler(() => new RecordingSink());
    const pdvs = cmdPdvs(1, STORE, 10);
    asm.push(pdvs[0]!);
    assert.throws(() => asm.push({ ...pdvs[1]!, contextId: 3 }), DimseProtocolError);
    const b = assembler(() => new RecordingSink());
    for (const p of cmdPdvs(1, STORE, 1000)) b.asm.push(p);
    assert.throws(() => b.asm.push(ds(3, Buffer.alloc(2), true)), DimseProtocolError);
  });

  test('an undecodable command and an oversized one are protocol errors', () => {
    const { asm } = assembler();
    const bad = Buffer.concat([encodeCommand(ECHO), element(0x0008, 0x0016, Buffer.from('1.2\0'))]);
    assert.throws(() => asm.push({ contextId: 1, command: true, last: true, data: bad }), DimseProtocolError);
    const b = assembler();
    assert.throws(() => {
      for (let i = 0; i < 100; i++) b.asm.push({ contextId: 1, command: true, last: false, data: Buffer.alloc(1024) });
    }, DimseProtocolError);
  });

  test('abort() hands the reason to the sink of the dataset in flight', () => {
    const sink = new RecordingSink();
    const { asm } = assembler(() => sink);
    for (const p of cmdPdvs(1, STORE, 1000)) asm.push(p);
    asm.push(ds(1, Buffer.alloc(4), false));
    asm.abort(new Error('peer aborted'));
    assert.equal(sink.aborted?.message, 'peer aborted');
    assert.equal(sink.ended, 0);
    assert.equal(asm.busy, false);
  });
});

describe('BufferSink', () => {
  const collect = (limit: number): { sink: BufferSink; result: () => { err: Error | null; data: Buffer } | null } => {
    let r: { err: Error | null; data: Buffer } | null = null;
    const sink = new BufferSink(limit, (err, data) => {
      assert.equal(r, null, 'done called once');
      r = { err, data };
    });
    return { sink, result: () => r };
  };

  test('keeps a dataset within its limit', () => {
    const { sink, result } = collect(10);
    assert.equal(sink.write(Buffer.from([1, 2, 3])), true);
    sink.write(Buffer.from([4, 5, 6, 7, 8, 9, 10]));
    let drained = false;
    sink.onDrain(() => (drained = true));
    assert.ok(drained);
    assert.equal(result(), null);
    sink.end();
    assert.equal(result()!.err, null);
    assert.deepEqual([...result()!.data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('a dataset over the limit fails at end() and is not kept', () => {
    const { sink, result } = collect(10);
    sink.write(Buffer.alloc(6));
    sink.write(Buffer.alloc(6));
    sink.write(Buffer.alloc(6));
    sink.end();
    assert.match(result()!.err!.message, /larger than 10 bytes/);
    assert.ok(result()!.data.length <= 10);
  });

  test('abort() reports the reason', () => {
    const { sink, result } = collect(10);
    sink.write(Buffer.alloc(2));
    sink.abort(new Error('gone'));
    assert.equal(result()!.err!.message, 'gone');
    assert.equal(result()!.data.length, 0);
  });
});
