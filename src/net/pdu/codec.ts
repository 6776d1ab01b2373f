// Encoding and decoding of whole PDUs (PS3.8 9.3). Decoding is strict about structure and
// lenient about padding (trailing NULs/spaces in UIDs), the way real peers behave.
import {
  type Abort,
  type AssociateAC,
  type AssociateRJ,
  type AssociateRQ,
  type PDataTF,
  type Pdu,
  type Pdv,
  type PresentationContextAC,
  type PresentationContextRQ,
  type UserInformation,
  AbortReason,
  PduType,
  emptyUserInformation,
} from './types.js';

/** A PDU that cannot be decoded; `abortReason` is what the A-ABORT we answer with carries. */
export class PduDecodeError extends Error {
  constructor(
    message: string,
    readonly abortReason: number = AbortReason.InvalidPduParameterValue,
  ) {
    super(message);
    this.name = 'PduDecodeError';
  }
}

const trimUid = (b: Buffer): string => b.toString('latin1').replace(/[\0 ]+$/, '');
const trimAe = (b: Buffer): string => b.toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');

function aeField(ae: string): Buffer {
  const b = Buffer.alloc(16, 0x20);
  b.write(ae.slice(0, 16), 'latin1');
  return b;
}

function item(type: number, content: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(content.length, 2);
  return Buffer.concat([h, content]);
}

const uidItem = (type: number, uid: string): Buffer => item(type, Buffer.from(uid, 'latin1'));

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function pduHeader(type: number, length: number): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(length, 2);
  return h;
}

function encodeUserInformation(ui: UserInformation, isAC: boolean): Buffer {
  const subs: Buffer[] = [];
  const max = Buffer.alloc(4);
  max.writeUInt32BE(ui.maxPduLength >>> 0);
  subs.push(item(0x51, max));
  if (ui.implementationClassUID) subs.push(uidItem(0x52, ui.implementationClassUID));
  if (ui.asyncOpsWindow) subs.push(item(0x53, Buffer.concat([u16(ui.asyncOpsWindow.invoked), u16(ui.asyncOpsWindow.performed)])));
  for (const r of ui.roleSelections) {
    const uid = Buffer.from(r.sopClass, 'latin1');
    subs.push(item(0x54, Buffer.concat([u16(uid.length), uid, Buffer.from([r.scuRole ? 1 : 0, r.scpRole ? 1 : 0])])));
  }
  if (ui.implementationVersionName) subs.push(item(0x55, Buffer.from(ui.implementationVersionName.slice(0, 16), 'latin1')));
  for (const x of ui.extendedNegotiation) {
    const uid = Buffer.from(x.sopClass, 'latin1');
    subs.push(item(0x56, Buffer.concat([u16(uid.length), uid, x.info])));
  }
  if (!isAC) for (const c of ui.commonExtendedNegotiation) subs.push(item(0x57, c));
  if (!isAC && ui.userIdentity) {
    const id = ui.userIdentity;
    subs.push(
      item(
        0x58,
        Buffer.concat([
          Buffer.from([id.type, id.positiveResponseRequested ? 1 : 0]),
          u16(id.primaryField.length),
          id.primaryField,
          u16(id.secondaryField.length),
          id.secondaryField,
        ]),
      ),
    );
  }
  if (isAC && ui.userIdentityResponse) subs.push(item(0x59, Buffer.concat([u16(ui.userIdentityResponse.length), ui.userIdentityResponse])));
  return item(0x50, Buffer.concat(subs));
}

function encodeAssociate(pdu: AssociateRQ | AssociateAC): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(pdu.protocolVersion, 0);
  aeField(pdu.calledAETitle).copy(fixed, 4);
  aeField(pdu.callingAETitle).copy(fixed, 20);
  const items: Buffer[] = [fixed, uidItem(0x10, pdu.applicationContext)];
  if (pdu.type === PduType.AssociateRQ) {
    for (const pc of pdu.presentationContexts) {
      const subs = [uidItem(0x30, pc.abstractSyntax), ...pc.transferSyntaxes.map((ts) => uidItem(0x40, ts))];
      items.push(item(0x20, Buffer.concat([Buffer.from([pc.id, 0, 0, 0]), ...subs])));
    }
  } else {
    for (const pc of pdu.presentationContexts) {
      items.push(item(0x21, Buffer.concat([Buffer.from([pc.id, 0, pc.result, 0]), uidItem(0x40, pc.transferSyntax)])));
    }
  }
  items.push(encodeUserInformation(pdu.userInformation, pdu.type === PduType.AssociateAC));
  const body = Buffer.concat(items);
  return Buffer.concat([pduHeader(pdu.type, body.length), body]);
}

/** The header of a P-DATA-TF PDU and of each PDV is written separately so data is never copied. */
export function encodePDataHeaders(pdvs: readonly Pdv[]): Buffer[] {
  let total = 0;
  for (const p of pdvs) total += 6 + p.data.length;
  // Headers from the small-buffer pool (allocUnsafe, every byte written): a fresh backing
  // store per 6-byte header cost more than the header is worth at thousands of PDUs a second.
  const headers = Buffer.allocUnsafe(6 + 6 * pdvs.length);
  headers[0] = PduType.PDataTF;
  headers[1] = 0;
  headers.writeUInt32BE(total, 2);
  const out: Buffer[] = [headers.subarray(0, 6)];
  pdvs.forEach((p, i) => {
    const h = headers.subarray(6 + 6 * i, 12 + 6 * i);
    writePdvHeader(h, 0, p.data.length, p.contextId, p.command, p.last);
    out.push(h, p.data);
  });
  return out;
}

/**
 * P-DATA-TF PDUs of one PDV each, for consecutive fragments of one message: the headers of all
 * (12 bytes a PDU: PDU header, PDV item header) in one buffer, each followed by its fragment —
 * an iovec list that goes out in one writev without copying the fragments.
 */
export function encodePDataFragments(contextId: number, command: boolean, fragments: readonly Buffer[], lastIsLast: boolean): Buffer[] {
  const headers = Buffer.allocUnsafe(12 * fragments.length);
  const out: Buffer[] = [];
  fragments.forEach((data, i) => {
    const at = 12 * i;
    headers[at] = PduType.PDataTF;
    headers[at + 1] = 0;
    headers.writeUInt32BE(6 + data.length, at + 2);
    writePdvHeader(headers, at + 6, data.length, contextId, command, lastIsLast && i === fragments.length - 1);
    out.push(headers.subarray(at, at + 12), data);
  });
  return out;
}

function writePdvHeader(h: Buffer, at: number, dataLength: number, contextId: number, command: boolean, last: boolean): void {
  h.writeUInt32BE(dataLength + 2, at);
  h[at + 4] = contextId;
  h[at + 5] = (command ? 1 : 0) | (last ? 2 : 0);
}

export function encodePdu(pdu: Pdu): Buffer {
  switch (pdu.type) {
    case PduType.AssociateRQ:
    case PduType.AssociateAC:
      return encodeAssociate(pdu);
    case PduType.AssociateRJ:
      return Buffer.concat([pduHeader(pdu.type, 4), Buffer.from([0, pdu.result, pdu.source, pdu.reason])]);
    case PduType.PDataTF:
      return Buffer.concat(encodePDataHeaders(pdu.pdvs));
    case PduType.ReleaseRQ:
    case PduType.ReleaseRP:
      return Buffer.concat([pduHeader(pdu.type, 4), Buffer.alloc(4)]);
    case PduType.Abort:
      return Buffer.concat([pduHeader(pdu.type, 4), Buffer.from([0, 0, pdu.source, pdu.reason])]);
  }
}

// ---------------------------------------------------------------------------------------------

/** Iterates the items of a variable field: [type, content] pairs. */
function* items(buf: Buffer, what: string): Generator<[number, Buffer]> {
  let off = 0;
  while (off < buf.length) {
    if (off + 4 > buf.length) throw new PduDecodeError(`${what}: item header cut short at offset ${off}`);
    const type = buf[off]!;
    const len = buf.readUInt16BE(off + 2);
    if (off + 4 + len > buf.length) throw new PduDecodeError(`${what}: item 0x${type.toString(16)} overruns its PDU`);
    yield [type, buf.subarray(off + 4, off + 4 + len)];
    off += 4 + len;
  }
}

function decodeUserInformation(buf: Buffer): UserInformation {
  const ui = emptyUserInformation();
  for (const [type, c] of items(buf, 'user information')) {
    switch (type) {
      case 0x51:
        if (c.length !== 4) throw new PduDecodeError('maximum length sub-item must be 4 bytes');
        ui.maxPduLength = c.readUInt32BE(0);
        break;
      case 0x52:
        ui.implementationClassUID = trimUid(c);
        break;
      case 0x53:
        if (c.length !== 4) throw new PduDecodeError('asynchronous operations window sub-item must be 4 bytes');
        ui.asyncOpsWindow = { invoked: c.readUInt16BE(0), performed: c.readUInt16BE(2) };
        break;
      case 0x54: {
        const n = c.length >= 2 ? c.readUInt16BE(0) : -1;
        if (n < 0 || c.length !== n + 4) throw new PduDecodeError('role selection sub-item is malformed');
        ui.roleSelections.push({ sopClass: trimUid(c.subarray(2, 2 + n)), scuRole: c[2 + n] === 1, scpRole: c[3 + n] === 1 });
        break;
      }
      case 0x55:
        ui.implementationVersionName = trimAe(c);
        break;
      case 0x56: {
        const n = c.length >= 2 ? c.readUInt16BE(0) : -1;
        if (n < 0 || c.length < n + 2) throw new PduDecodeError('SOP class extended negotiation sub-item is malformed');
        ui.extendedNegotiation.push({ sopClass: trimUid(c.subarray(2, 2 + n)), info: Buffer.from(c.subarray(2 + n)) });
        break;
      }
      case 0x57:
        ui.commonExtendedNegotiation.push(Buffer.from(c));
        break;
      case 0x58: {
        if (c.length < 6) throw new PduDecodeError('user identity sub-item is malformed');
        const pl = c.readUInt16BE(2);
        if (c.length < 6 + pl) throw new PduDecodeError('user identity primary field overruns the sub-item');
        const sl = c.readUInt16BE(4 + pl);
        if (c.length < 6 + pl + sl) throw new PduDecodeError('user identity secondary field overruns the sub-item');
        ui.userIdentity = {
          type: c[0]!,
          positiveResponseRequested: c[1] === 1,
          primaryField: Buffer.from(c.subarray(4, 4 + pl)),
          secondaryField: Buffer.from(c.subarray(6 + pl, 6 + pl + sl)),
        };
        break;
      }
      case 0x59: {
        const n = c.length >= 2 ? c.readUInt16BE(0) : 0;
        ui.userIdentityResponse = Buffer.from(c.subarray(2, 2 + n));
        break;
      }
      default:
        // PS3.7 D.3.3: unknown user information sub-items are ignored.
        break;
    }
  }
  return ui;
}

/** Item types of the A-ASSOCIATE PDUs and their sub-items (PS3.8 9.3.2–9.3.3). */
const KNOWN_ITEMS = new Set([0x10, 0x20, 0x21, 0x30, 0x40, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59]);

function decodeAssociate(type: 1 | 2, body: Buffer): AssociateRQ | AssociateAC {
  if (body.length < 68) throw new PduDecodeError('A-ASSOCIATE PDU shorter than its fixed fields');
  const protocolVersion = body.readUInt16BE(0);
  const calledAETitle = trimAe(body.subarray(4, 20));
  const callingAETitle = trimAe(body.subarray(20, 36));
  let applicationContext = '';
  const rqContexts: PresentationContextRQ[] = [];
  const acContexts: PresentationContextAC[] = [];
  let userInformation: UserInformation | null = null;
  for (const [itype, c] of items(body.subarray(68), 'A-ASSOCIATE')) {
    if (itype === 0x10) applicationContext = trimUid(c);
    else if (itype === 0x20 && type === 1) {
      if (c.length < 4) throw new PduDecodeError('presentation context item too short');
      const pc: PresentationContextRQ = { id: c[0]!, abstractSyntax: '', transferSyntaxes: [] };
      for (const [st, sc] of items(c.subarray(4), 'presentation context')) {
        if (st === 0x30) pc.abstractSyntax = trimUid(sc);
        else if (st === 0x40) pc.transferSyntaxes.push(trimUid(sc));
      }
      rqContexts.push(pc);
    } else if (itype === 0x21 && type === 2) {
      if (c.length < 4) throw new PduDecodeError('presentation context item too short');
      let ts = '';
      for (const [st, sc] of items(c.subarray(4), 'presentation context')) if (st === 0x40) ts = trimUid(sc);
      acContexts.push({ id: c[0]!, result: c[2]!, transferSyntax: ts });
    } else if (itype === 0x50) userInformation = decodeUserInformation(c);
    // PS3.8 9.3.1: items of unrecognized types are ignored and skipped (a later edition's, a
    // vendor's); one of a known type in the wrong PDU or place is a protocol error.
    else if (KNOWN_ITEMS.has(itype)) throw new PduDecodeError(`unexpected item 0x${itype.toString(16)} in A-ASSOCIATE`, AbortReason.UnexpectedPduParameter);
  }
  if (!applicationContext) throw new PduDecodeError('A-ASSOCIATE without application context item');
  if (!userInformation) throw new PduDecodeError('A-ASSOCIATE without user information item');
  const common = { protocolVersion, calledAETitle, callingAETitle, applicationContext, userInformation };
  return type === 1
    ? { type: PduType.AssociateRQ, ...common, presentationContexts: rqContexts }
    : { type: PduType.AssociateAC, ...common, presentationContexts: acContexts };
}

function decodePData(body: Buffer): PDataTF {
  const pdvs: Pdv[] = [];
  let off = 0;
  while (off < body.length) {
    if (off + 6 > body.length) throw new PduDecodeError('PDV item header cut short');
    const len = body.readUInt32BE(off);
    if (len < 2 || off + 4 + len > body.length) throw new PduDecodeError(`PDV item length ${len} does not fit its PDU`);
    const mch = body[off + 5]!;
    pdvs.push({ contextId: body[off + 4]!, command: (mch & 1) === 1, last: (mch & 2) === 2, data: body.subarray(off + 6, off + 4 + len) });
    off += 4 + len;
  }
  if (pdvs.length === 0) throw new PduDecodeError('P-DATA-TF PDU without PDV items');
  return { type: PduType.PDataTF, pdvs };
}

/** Decodes one whole PDU: `type` from its header, `body` the bytes after the 6-byte header. */
export function decodePdu(type: number, body: Buffer): Pdu {
  switch (type) {
    case PduType.AssociateRQ:
    case PduType.AssociateAC:
      return decodeAssociate(type, body);
    case PduType.AssociateRJ:
      if (body.length !== 4) throw new PduDecodeError('A-ASSOCIATE-RJ must have 4 bytes');
      return { type, result: body[1]!, source: body[2]!, reason: body[3]! } satisfies AssociateRJ;
    case PduType.PDataTF:
      return decodePData(body);
    case PduType.ReleaseRQ:
    case PduType.ReleaseRP:
      if (body.length !== 4) throw new PduDecodeError('A-RELEASE PDU must have 4 bytes');
      return { type };
    case PduType.Abort:
      if (body.length !== 4) throw new PduDecodeError('A-ABORT must have 4 bytes');
      return { type, source: body[2]!, reason: body[3]! } satisfies Abort;
    default:
      throw new PduDecodeError(`unrecognized PDU type 0x${type.toString(16)}`, AbortReason.UnrecognizedPdu);
  }
}
