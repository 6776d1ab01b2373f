// DIMSE command sets (PS3.7 section 9.3, 10.3, Annex E): always implicit VR little endian,
// group 0000 only. A command is a plain object keyed by the standard's keywords.

export const CommandField = {
  C_STORE_RQ: 0x0001,
  C_STORE_RSP: 0x8001,
  C_GET_RQ: 0x0010,
  C_GET_RSP: 0x8010,
  C_FIND_RQ: 0x0020,
  C_FIND_RSP: 0x8020,
  C_MOVE_RQ: 0x0021,
  C_MOVE_RSP: 0x8021,
  C_ECHO_RQ: 0x0030,
  C_ECHO_RSP: 0x8030,
  N_EVENT_REPORT_RQ: 0x0100,
  N_EVENT_REPORT_RSP: 0x8100,
  N_GET_RQ: 0x0110,
  N_GET_RSP: 0x8110,
  N_SET_RQ: 0x0120,
  N_SET_RSP: 0x8120,
  N_ACTION_RQ: 0x0130,
  N_ACTION_RSP: 0x8130,
  N_CREATE_RQ: 0x0140,
  N_CREATE_RSP: 0x8140,
  N_DELETE_RQ: 0x0150,
  N_DELETE_RSP: 0x8150,
  C_CANCEL_RQ: 0x0fff,
} as const;

/** C-STORE-RQ, N-ACTION-RSP… by Command Field, made once (it is asked for every request). */
const COMMAND_NAMES = new Map<number, string>(Object.entries(CommandField).map(([name, field]) => [field, name.replace(/_/g, '-')]));

export const commandName = (field: number): string => COMMAND_NAMES.get(field) ?? `0x${field.toString(16)}`;

/** Command Data Set Type (0000,0800): this value means "no dataset follows". */
export const NO_DATASET = 0x0101;

export const Priority = { Medium: 0x0000, High: 0x0001, Low: 0x0002 } as const;

type CommandVR = 'UL' | 'US' | 'UI' | 'AE' | 'LO' | 'AT';

/** The command elements of PS3.7 Annex E, in tag order. */
const ELEMENTS = [
  [0x00000000, 'CommandGroupLength', 'UL'],
  [0x00000002, 'AffectedSOPClassUID', 'UI'],
  [0x00000003, 'RequestedSOPClassUID', 'UI'],
  [0x00000100, 'CommandField', 'US'],
  [0x00000110, 'MessageID', 'US'],
  [0x00000120, 'MessageIDBeingRespondedTo', 'US'],
  [0x00000600, 'MoveDestination', 'AE'],
  [0x00000700, 'Priority', 'US'],
  [0x00000800, 'CommandDataSetType', 'US'],
  [0x00000900, 'Status', 'US'],
  [0x00000901, 'OffendingElement', 'AT'],
  [0x00000902, 'ErrorComment', 'LO'],
  [0x00000903, 'ErrorID', 'US'],
  [0x00001000, 'AffectedSOPInstanceUID', 'UI'],
  [0x00001001, 'RequestedSOPInstanceUID', 'UI'],
  [0x00001002, 'EventTypeID', 'US'],
  [0x00001005, 'AttributeIdentifierList', 'AT'],
  [0x00001008, 'ActionTypeID', 'US'],
  [0x00001020, 'NumberOfRemainingSuboperations', 'US'],
  [0x00001021, 'NumberOfCompletedSuboperations', 'US'],
  [0x00001022, 'NumberOfFailedSuboperations', 'US'],
  [0x00001023, 'NumberOfWarningSuboperations', 'US'],
  [0x00001030, 'MoveOriginatorApplicationEntityTitle', 'AE'],
  [0x00001031, 'MoveOriginatorMessageID', 'US'],
] as const satisfies readonly (readonly [number, string, CommandVR])[];

type Keyword = (typeof ELEMENTS)[number][1];
type ValueOf<V> = V extends 'UL' | 'US' ? number : V extends 'AT' ? number[] : string;
export type Command = {
  CommandField: number;
} & Partial<{ [E in (typeof ELEMENTS)[number] as E[1]]: ValueOf<E[2]> }>;

const BY_TAG = new Map<number, readonly [number, Keyword, CommandVR]>(ELEMENTS.map((e) => [e[0], e]));

export class CommandDecodeError extends Error {}

function encodeValue(vr: CommandVR, v: string | number | number[]): Buffer {
  switch (vr) {
    case 'UL': {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(v as number);
      return b;
    }
    case 'US': {
      const b = Buffer.alloc(2);
      b.writeUInt16LE(v as number);
      return b;
    }
    case 'AT': {
      const tags = v as number[];
      const b = Buffer.alloc(tags.length * 4);
      tags.forEach((t, i) => {
        b.writeUInt16LE(t >>> 16, i * 4);
        b.writeUInt16LE(t & 0xffff, i * 4 + 2);
      });
      return b;
    }
    default: {
      let s = String(v);
      if (s.length % 2) s += vr === 'UI' ? '\0' : ' ';
      return Buffer.from(s, 'latin1');
    }
  }
}

/** Encodes a command set, group length first, as PS3.7 6.3.1 requires. */
export function encodeCommand(cmd: Command): Buffer {
  const parts: Buffer[] = [];
  for (const [tag, keyword, vr] of ELEMENTS) {
    if (keyword === 'CommandGroupLength') continue;
    const v = (cmd as Record<string, string | number | number[] | undefined>)[keyword];
    if (v === undefined) continue;
    const value = encodeValue(vr, v);
    const h = Buffer.alloc(8);
    h.writeUInt16LE(0, 0);
    h.writeUInt16LE(tag & 0xffff, 2);
    h.writeUInt32LE(value.length, 4);
    parts.push(h, value);
  }
  const body = Buffer.concat(parts);
  const gl = Buffer.alloc(12);
  gl.writeUInt32LE(0x00000000, 0);
  gl.writeUInt32LE(4, 4);
  gl.writeUInt32LE(body.length, 8);
  return Buffer.concat([gl, body]);
}

export function decodeCommand(buf: Buffer): Command {
  const out: Record<string, string | number | number[]> = {};
  let off = 0;
  while (off < buf.length) {
    if (off + 8 > buf.length) throw new CommandDecodeError('command set element header cut short');
    const group = buf.readUInt16LE(off);
    const tag = ((group << 16) | buf.readUInt16LE(off + 2)) >>> 0;
    const len = buf.readUInt32LE(off + 4);
    off += 8;
    if (group !== 0) throw new CommandDecodeError(`element (${group.toString(16).padStart(4, '0')},…) outside group 0000 in command set`);
    if (len > buf.length - off) throw new CommandDecodeError('command set element overruns the command');
    const v = buf.subarray(off, off + len);
    off += len;
    const def = BY_TAG.get(tag);
    if (!def) continue; // retired or unknown command elements carry nothing we act on
    const [, keyword, vr] = def;
    if (vr === 'US') out[keyword] = len >= 2 ? v.readUInt16LE(0) : 0;
    else if (vr === 'UL') out[keyword] = len >= 4 ? v.readUInt32LE(0) : 0;
    else if (vr === 'AT') {
      const tags: number[] = [];
      for (let i = 0; i + 4 <= len; i += 4) tags.push(((v.readUInt16LE(i) << 16) | v.readUInt16LE(i + 2)) >>> 0);
      out[keyword] = tags;
    } else out[keyword] = v.toString('latin1').replace(/^[ ]+|[\0 ]+$/g, '');
  }
  if (typeof out.CommandField !== 'number') throw new CommandDecodeError('command set without Command Field (0000,0100)');
  return out as Command;
}

export const hasDataset = (cmd: Command): boolean => cmd.CommandDataSetType !== undefined && cmd.CommandDataSetType !== NO_DATASET;

/** The C-STORE-RSP to a C-STORE-RQ (PS3.7 9.3.1.2): the same SOP class and instance. */
export function storeResponse(rq: Command, status: number, errorComment?: string): Command {
  return {
    CommandField: CommandField.C_STORE_RSP,
    AffectedSOPClassUID: rq.AffectedSOPClassUID ?? '',
    AffectedSOPInstanceUID: rq.AffectedSOPInstanceUID ?? '',
    MessageIDBeingRespondedTo: rq.MessageID ?? 0,
    CommandDataSetType: NO_DATASET,
    Status: status,
    ...(errorComment ? { ErrorComment: errorComment } : {}),
  };
}
