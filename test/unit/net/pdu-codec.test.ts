// The seven PDUs of PS3.8 9.3: encode → decode round trips with every user information
// sub-item, strict decoding of malformed input (with the A-ABORT reason it leads to), and the
// framer that cuts a byte stream into PDUs however the bytes are chunked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PduDecodeError, decodePdu, encodePDataFragments, encodePDataHeaders, encodePdu } from '../../../src/net/pdu/codec.js';
import { MAX_CONTROL_PDU, PduFramer, type RawPdu } from '../../../src/net/pdu/framer.js';
import {
  AbortReason,
  type AssociateAC,
  type AssociateRQ,
  DICOM_APPLICATION_CONTEXT,
  type PDataTF,
  type Pdu,
  PduType,
  emptyUserInformation,
} from '../../../src/net/pdu/types.js';

const VERIFICATION = '1.2.840.10008.1.1';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** A PDU's bytes split into its header fields and body, as the framer would hand them over. */
const split = (bytes: Buffer): { type: number; length: number; body: Buffer } => ({
  type: bytes[0]!,
  length: bytes.readUInt32BE(2),
  body: bytes.subarray(6),
});

const roundTrip = (pdu: Pdu): Pdu => {
  const bytes = encodePdu(pdu);
  const { type, length, body } = split(bytes);
  assert.equal(type, pdu.type, 'PDU type byte');
  assert.equal(length, bytes.length - 6, 'PDU length field counts the bytes after the header');
  return decodePdu(type, body);
};

/** Every sub-item of the user information item an A-ASSOCIATE-RQ can carry. */
function fullRQ(): AssociateRQ {
  const ui = emptyUserInformation();
  ui.maxPduLength = 65536;
  ui.implementationClassUID = '1.2.826.0.1.3680043.2.1143.107.104.103.115';
  ui.implementationVersionName = 'SCRIPTED_PEER_1';
  ui.asyncOpsWindow = { invoked: 5, performed: 3 };
  ui.roleSelections = [
    { sopClass: CT, scuRole: true, scpRole: true },
    { sopClass: '1.2.840.10008.5.1.4.1.2.2.3', scuRole: false, scpRole: true },
  ];
  ui.extendedNegotiation = [{ sopClass: '1.2.840.10008.5.1.4.1.2.1.1', info: Buffer.from([1, 1, 0, 1]) }];
  ui.commonExtendedNegotiation = [Buffer.from([0x00, 0x03, 0x31, 0x2e, 0x32, 0x00, 0x00])];
  ui.userIdentity = { type: 2, positiveResponseRequested: true, primaryField: Buffer.from('radiologist', 'utf8'), secondaryField: Buffer.from('s3cr3t!', 'utf8') };
  return {
    type: PduType.AssociateRQ,
    protocolVersion: 1,
    calledAETitle: 'PACS_SERVER',
    callingAETitle: 'MODALITY_01',
    applicationContext: DICOM_APPLICATION_CONTEXT,
    presentationContexts: [
      { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
      { id: 3, abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE, IMPLICIT_LE, '1.2.840.10008.1.2.4.70'] },
      { id: 255, abstractSyntax: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxes: [IMPLICIT_LE] },
    ],
    userInformation: ui,
  };
}

function fullAC(): AssociateAC {
  const ui = emptyUserInformation();
  ui.maxPduLength = 262144;
  ui.implementationClassUID = '2.25.160979331420063427405096327574440813707';
  ui.implementationVersionName = 'PACS_SERVER_010';
  ui.asyncOpsWindow = { invoked: 1, performed: 1 };
  ui.roleSelections = [{ sopClass: CT, scuRole: true, scpRole: false }];
  ui.extendedNegotiation = [{ sopClass: '1.2.840.10008.5.1.4.1.2.1.1', info: Buffer.from([1, 0]) }];
  ui.userIdentityResponse = Buffer.from('server-response-token');
  return {
    type: PduType.AssociateAC,
    protocolVersion: 1,
    calledAETitle: 'PACS_SERVER',
    callingAETitle: 'MODALITY_01',
    applicationContext: DICOM_APPLICATION_CONTEXT,
    presentationContexts: [
      { id: 1, result: 0, transferSyntax: IMPLICIT_LE },
      { id: 3, result: 0, transferSyntax: EXPLICIT_LE },
      { id: 5, result: 3, transferSyntax: '' },
      { id: 7, result: 4, transferSyntax: '' },
    ],
    userInformation: ui,
  };
}

/** The offset of the first item of `type` at the top level of an A-ASSOCIATE body. */
function itemOffset(body: Buffer, type: number): number {
  let off = 68;
  while (off < body.length) {
    if (body[off] === type) return off;
    off += 4 + body.readUInt16BE(off + 2);
  }
  throw new Error(`no item 0x${type.toString(16)}`);
}

/** Removes the top-level item at `off` from an A-ASSOCIATE body. */
const withoutItem = (body: Buffer, off: number): Buffer => Buffer.concat([body.subarray(0, off), body.subarray(off + 4 + body.readUInt16BE(off + 2))]);

const decodeError = (type: number, body: Buffer, abortReason: number, message?: RegExp): void => {
  assert.throws(
    () => decodePdu(type, body),
    (e: unknown) => {
      assert.ok(e instanceof PduDecodeError, `expected PduDecodeError, got ${String(e)}`);
      assert.equal(e.abortReason, abortReason, `abort reason for: ${e.message}`);
      if (message) assert.match(e.message, message);
      return true;
    },
  );
};

describe('PDU codec: round trips', () => {
  test('A-ASSOCIATE-RQ with every user information sub-item', () => {
    const rq = fullRQ();
    assert.deepEqual(roundTrip(rq), rq);
  });

  test('A-ASSOCIATE-RQ with a minimal user information item (max length only)', () => {
    const rq: AssociateRQ = { ...fullRQ(), userInformation: { ...emptyUserInformation(), maxPduLength: 0 } };
    assert.deepEqual(roundTrip(rq), rq);
  });

  test('A-ASSOCIATE-RQ: user identity of every type (username only, Kerberos, SAML, JWT)', () => {
    for (const [type, secondary] of [
      [1, ''],
      [3, ''],
      [4, ''],
      [5, ''],
      [2, 'pw'],
    ] as const) {
      const rq = fullRQ();
      rq.userInformation.userIdentity = { type, positiveResponseRequested: false, primaryField: Buffer.from(`primary-${type}`), secondaryField: Buffer.from(secondary) };
      assert.deepEqual(roundTrip(rq), rq, `user identity type ${type}`);
    }
  });

  test('A-ASSOCIATE-AC with every sub-item an acceptor sends, user identity response included', () => {
    const ac = fullAC();
    assert.deepEqual(roundTrip(ac), ac);
  });

  test('an A-ASSOCIATE-AC never carries RQ-only sub-items, an RQ never the AC-only one', () => {
    const ac = fullAC();
    ac.userInformation.userIdentity = fullRQ().userInformation.userIdentity;
    ac.userInformation.commonExtendedNegotiation = [Buffer.from([0, 0])];
    const back = roundTrip(ac) as AssociateAC;
    assert.equal(back.userInformation.userIdentity, null);
    assert.deepEqual(back.userInformation.commonExtendedNegotiation, []);
    const rq = fullRQ();
    rq.userInformation.userIdentityResponse = Buffer.from('x');
    assert.equal((roundTrip(rq) as AssociateRQ).userInformation.userIdentityResponse, null);
  });

  test('the sub-items are encoded with their PS3.7 D.3.3 item types, user information last', () => {
    const body = encodePdu(fullRQ()).subarray(6);
    const ui = itemOffset(body, 0x50);
    assert.equal(ui + 4 + body.readUInt16BE(ui + 2), body.length, 'user information is the last item');
    const seen: number[] = [];
    for (let off = ui + 4; off < body.length; off += 4 + body.readUInt16BE(off + 2)) seen.push(body[off]!);
    assert.deepEqual(seen, [0x51, 0x52, 0x53, 0x54, 0x54, 0x55, 0x56, 0x57, 0x58]);
    // maximum length: 4 bytes, big endian
    const max = ui + 4;
    assert.equal(body.readUInt16BE(max + 2), 4);
    assert.equal(body.readUInt32BE(max + 4), 65536);
    // fixed fields: protocol version, AE titles padded with spaces to 16
    assert.equal(body.readUInt16BE(0), 1);
    assert.equal(body.toString('latin1', 4, 20), 'PACS_SERVER     ');
    assert.equal(body.toString('latin1', 20, 36), 'MODALITY_01     ');
  });

  test('A-ASSOCIATE-RJ', () => {
    for (const [result, source, reason] of [
      [1, 1, 7],
      [1, 1, 3],
      [2, 3, 2],
      [1, 2, 2],
    ] as const) {
      const rj = { type: PduType.AssociateRJ, result, source, reason } as const;
      const bytes = encodePdu(rj);
      assert.equal(bytes.length, 10);
      assert.deepEqual(roundTrip(rj), rj);
    }
  });

  test('P-DATA-TF with several PDVs, command and dataset, last and not last', () => {
    const pdu: PDataTF = {
      type: PduType.PDataTF,
      pdvs: [
        { contextId: 1, command: true, last: true, data: Buffer.from([1, 2, 3, 4]) },
        { contextId: 3, command: false, last: false, data: Buffer.alloc(1000, 7) },
        { contextId: 3, command: false, last: true, data: Buffer.alloc(0) },
        { contextId: 255, command: true, last: false, data: Buffer.from('x') },
      ],
    };
    const bytes = encodePdu(pdu);
    // message control header: bit 0 command, bit 1 last (PS3.8 E.2)
    assert.equal(bytes[6 + 4], 1);
    assert.equal(bytes[6 + 5], 0b11);
    assert.deepEqual(roundTrip(pdu), pdu);
    assert.deepEqual(Buffer.concat(encodePDataHeaders(pdu.pdvs)), bytes, 'the zero-copy header form writes the same bytes');
  });

  test('P-DATA-TF fragments of one message: one PDU of one PDV each, only the final one marked last', () => {
    const fragments = [Buffer.alloc(16, 1), Buffer.alloc(16, 2), Buffer.alloc(6, 3)];
    for (const [command, lastIsLast] of [[false, true], [true, false]] as const) {
      const parts = encodePDataFragments(5, command, fragments, lastIsLast);
      assert.equal(parts.length, 6, 'a 12-byte header, then the fragment itself (not copied)');
      assert.equal(parts[1], fragments[0]);
      const expected = fragments.map((data, i) =>
        encodePdu({ type: PduType.PDataTF, pdvs: [{ contextId: 5, command, last: lastIsLast && i === fragments.length - 1, data }] }),
      );
      assert.deepEqual(Buffer.concat(parts), Buffer.concat(expected));
    }
    assert.deepEqual(encodePDataFragments(1, false, [], true), []);
  });

  test('A-RELEASE-RQ, A-RELEASE-RP', () => {
    for (const type of [PduType.ReleaseRQ, PduType.ReleaseRP] as const) {
      const bytes = encodePdu({ type });
      assert.deepEqual([...bytes], [type, 0, 0, 0, 0, 4, 0, 0, 0, 0]);
      assert.deepEqual(roundTrip({ type }), { type });
    }
  });

  test('A-ABORT', () => {
    for (const [source, reason] of [
      [0, 0],
      [2, AbortReason.UnrecognizedPdu],
      [2, AbortReason.UnexpectedPdu],
      [2, AbortReason.InvalidPduParameterValue],
    ] as const) {
      const abort = { type: PduType.Abort, source, reason } as const;
      assert.deepEqual([...encodePdu(abort)], [7, 0, 0, 0, 0, 4, 0, 0, source, reason]);
      assert.deepEqual(roundTrip(abort), abort);
    }
  });
});

describe('PDU codec: lenient where real peers are sloppy', () => {
  test('UIDs padded with NUL or space and AE titles padded with NUL decode trimmed', () => {
    const rq = fullRQ();
    rq.applicationContext = `${DICOM_APPLICATION_CONTEXT}\0`;
    rq.presentationContexts = [{ id: 1, abstractSyntax: `${VERIFICATION}\0`, transferSyntaxes: [`${IMPLICIT_LE} `] }];
    rq.userInformation.implementationClassUID = '1.2.3\0';
    const bytes = encodePdu(rq);
    bytes.fill(0, 6 + 4 + 11, 6 + 4 + 16); // "PACS_SERVER" then NULs
    const back = decodePdu(1, bytes.subarray(6)) as AssociateRQ;
    assert.equal(back.applicationContext, DICOM_APPLICATION_CONTEXT);
    assert.equal(back.calledAETitle, 'PACS_SERVER');
    assert.deepEqual(back.presentationContexts, [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }]);
    assert.equal(back.userInformation.implementationClassUID, '1.2.3');
  });

  test('unknown user information sub-items are ignored (PS3.7 D.3.3)', () => {
    const bytes = encodePdu(fullRQ());
    const body = Buffer.from(bytes.subarray(6));
    const ui = itemOffset(body, 0x50);
    const extra = Buffer.from([0x5f, 0, 0, 3, 9, 9, 9]);
    const uiLen = body.readUInt16BE(ui + 2);
    const patched = Buffer.concat([body, extra]);
    patched.writeUInt16BE(uiLen + extra.length, ui + 2);
    assert.deepEqual(decodePdu(1, patched), fullRQ());
  });
});

describe('PDU codec: malformed input', () => {
  const rqBody = (): Buffer => Buffer.from(encodePdu(fullRQ()).subarray(6));

  test('an item that overruns its PDU', () => {
    const body = rqBody();
    const pc = itemOffset(body, 0x20);
    body.writeUInt16BE(0xfff0, pc + 2);
    decodeError(1, body, AbortReason.InvalidPduParameterValue, /overruns/);
  });

  test('a sub-item that overruns its presentation context item', () => {
    const body = rqBody();
    const pc = itemOffset(body, 0x20);
    // the abstract syntax sub-item right after the 4 fixed bytes of the context
    body.writeUInt16BE(0x0400, pc + 8 + 2);
    decodeError(1, body, AbortReason.InvalidPduParameterValue, /overruns/);
  });

  test('a user information sub-item that overruns the user information item', () => {
    const body = rqBody();
    const ui = itemOffset(body, 0x50);
    body.writeUInt16BE(0x7000, ui + 4 + 2); // the maximum length sub-item
    decodeError(1, body, AbortReason.InvalidPduParameterValue, /overruns/);
  });

  test('an item header cut short', () => {
    const body = Buffer.concat([rqBody(), Buffer.from([0x20, 0])]);
    decodeError(1, body, AbortReason.InvalidPduParameterValue, /cut short/);
  });

  test('an A-ASSOCIATE without application context item', () => {
    const body = rqBody();
    decodeError(1, withoutItem(body, itemOffset(body, 0x10)), AbortReason.InvalidPduParameterValue, /application context/);
    const ac = Buffer.from(encodePdu(fullAC()).subarray(6));
    decodeError(2, withoutItem(ac, itemOffset(ac, 0x10)), AbortReason.InvalidPduParameterValue, /application context/);
  });

  test('an A-ASSOCIATE without user information item', () => {
    const body = rqBody();
    decodeError(1, withoutItem(body, itemOffset(body, 0x50)), AbortReason.InvalidPduParameterValue, /user information/);
  });

  test('an A-ASSOCIATE shorter than its fixed fields', () => {
    decodeError(1, Buffer.alloc(67), AbortReason.InvalidPduParameterValue);
    decodeError(2, Buffer.alloc(10), AbortReason.InvalidPduParameterValue);
  });

  test('an item of a known type out of place in an A-ASSOCIATE: unexpected PDU parameter', () => {
    // an AC's presentation context item (0x21) inside an RQ, a sub-item at the top level
    decodeError(1, Buffer.concat([rqBody(), Buffer.from([0x21, 0, 0, 4, 1, 0, 0, 0])]), AbortReason.UnexpectedPduParameter);
    decodeError(1, Buffer.concat([rqBody(), Buffer.from([0x30, 0, 0, 0])]), AbortReason.UnexpectedPduParameter);
  });

  test('an item of an unrecognized type in an A-ASSOCIATE-RQ or -AC is skipped (PS3.8 9.3.1)', () => {
    const rq = decodePdu(1, Buffer.concat([rqBody(), Buffer.from([0x60, 0, 0, 2, 0xab, 0xcd]), Buffer.from([0x33, 0, 0, 0])]));
    assert.equal(rq.type, PduType.AssociateRQ);
    assert.ok(rq.type === PduType.AssociateRQ && rq.presentationContexts.length > 0);
    const ac = decodePdu(2, Buffer.concat([Buffer.from(encodePdu(fullAC()).subarray(6)), Buffer.from([0x60, 0, 0, 0])]));
    assert.equal(ac.type, PduType.AssociateAC);
  });

  test('malformed user information sub-items', () => {
    const replaceSub = (type: number, content: Buffer): Buffer => {
      const body = rqBody();
      const ui = itemOffset(body, 0x50);
      const sub = Buffer.concat([Buffer.from([type, 0, content.length >> 8, content.length & 0xff]), content]);
      const head = body.subarray(0, ui);
      const uiItem = Buffer.concat([Buffer.from([0x50, 0, sub.length >> 8, sub.length & 0xff]), sub]);
      return Buffer.concat([head, uiItem]);
    };
    decodeError(1, replaceSub(0x51, Buffer.from([0, 0, 1])), AbortReason.InvalidPduParameterValue, /maximum length/);
    decodeError(1, replaceSub(0x53, Buffer.from([0, 1])), AbortReason.InvalidPduParameterValue, /asynchronous/);
    decodeError(1, replaceSub(0x54, Buffer.from([0, 9, 0x31])), AbortReason.InvalidPduParameterValue, /role selection/);
    decodeError(1, replaceSub(0x56, Buffer.from([0, 9, 0x31])), AbortReason.InvalidPduParameterValue, /extended negotiation/);
    decodeError(1, replaceSub(0x58, Buffer.from([2, 0, 0, 40, 0x61, 0x62])), AbortReason.InvalidPduParameterValue, /user identity/);
    decodeError(1, replaceSub(0x58, Buffer.from([2, 0, 0, 1, 0x61, 0, 9, 0x62])), AbortReason.InvalidPduParameterValue, /user identity/);
  });

  test('fixed-size PDUs of the wrong size', () => {
    decodeError(PduType.AssociateRJ, Buffer.alloc(5), AbortReason.InvalidPduParameterValue);
    decodeError(PduType.ReleaseRQ, Buffer.alloc(3), AbortReason.InvalidPduParameterValue);
    decodeError(PduType.ReleaseRP, Buffer.alloc(0), AbortReason.InvalidPduParameterValue);
    decodeError(PduType.Abort, Buffer.alloc(6), AbortReason.InvalidPduParameterValue);
  });

  test('P-DATA-TF: no PDV, a PDV shorter than its header, a PDV overrunning the PDU', () => {
    decodeError(PduType.PDataTF, Buffer.alloc(0), AbortReason.InvalidPduParameterValue, /without PDV/);
    decodeError(PduType.PDataTF, Buffer.from([0, 0, 0, 1, 1, 3]), AbortReason.InvalidPduParameterValue);
    decodeError(PduType.PDataTF, Buffer.from([0, 0, 0, 9, 1, 3, 0xaa]), AbortReason.InvalidPduParameterValue);
    decodeError(PduType.PDataTF, Buffer.from([0, 0, 0, 2, 1]), AbortReason.InvalidPduParameterValue, /cut short/);
  });

  test('an unknown PDU type: unrecognized PDU', () => {
    for (const type of [0x00, 0x08, 0x42, 0xff]) decodeError(type, Buffer.alloc(4), AbortReason.UnrecognizedPdu, /unrecognized/);
  });
});

// ---------------------------------------------------------------------------------------------

/** A deterministic PRNG (mulberry32), so a failing chunking can be reproduced. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('PduFramer', () => {
  const big = Buffer.alloc(70_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  const stream: Pdu[] = [
    fullRQ(),
    fullAC(),
    { type: PduType.AssociateRJ, result: 1, source: 1, reason: 7 },
    { type: PduType.PDataTF, pdvs: [{ contextId: 1, command: true, last: true, data: Buffer.from('command') }] },
    { type: PduType.PDataTF, pdvs: [{ contextId: 3, command: false, last: false, data: big }, { contextId: 3, command: false, last: true, data: Buffer.from([1]) }] },
    { type: PduType.ReleaseRQ },
    { type: PduType.ReleaseRP },
    { type: PduType.Abort, source: 2, reason: 1 },
  ];
  const encoded = stream.map(encodePdu);
  const all = Buffer.concat(encoded);
  const expected: RawPdu[] = encoded.map((b) => ({ type: b[0]!, body: b.subarray(6) }));

  const feed = (chunks: Buffer[]): RawPdu[] => {
    const framer = new PduFramer(0);
    const out: RawPdu[] = [];
    for (const c of chunks) assert.equal(framer.push(c, out), null);
    assert.equal(framer.pendingBytes, 0);
    return out;
  };
  const same = (got: RawPdu[]): void => {
    assert.equal(got.length, expected.length);
    got.forEach((g, i) => {
      assert.equal(g.type, expected[i]!.type, `PDU ${i} type`);
      assert.ok(g.body.equals(expected[i]!.body), `PDU ${i} body`);
      assert.deepEqual(decodePdu(g.type, g.body), stream[i], `PDU ${i} decodes to what was sent`);
    });
  };

  test('the whole stream at once', () => {
    same(feed([all]));
  });

  test('fed byte by byte', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < all.length; i++) chunks.push(all.subarray(i, i + 1));
    same(feed(chunks));
  });

  test('fed in random chunk sizes (several seeds)', () => {
    for (const seed of [1, 2, 3, 42, 2024, 99991]) {
      const rnd = prng(seed);
      const chunks: Buffer[] = [];
      for (let off = 0; off < all.length; ) {
        const n = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 20_000 : 40));
        chunks.push(all.subarray(off, off + n));
        off += n;
      }
      same(feed(chunks));
    }
  });

  test('split exactly at and around every PDU boundary', () => {
    let boundary = 0;
    for (const e of encoded) {
      for (const d of [-7, -6, -1, 0, 1, 5, 6]) {
        const at = Math.min(Math.max(boundary + d, 1), all.length - 1);
        same(feed([all.subarray(0, at), all.subarray(at)]));
      }
      boundary += e.length;
    }
  });

  test('a partial PDU is held until its last byte arrives', () => {
    const framer = new PduFramer(0);
    const out: RawPdu[] = [];
    const rq = encoded[0]!;
    assert.equal(framer.push(rq.subarray(0, rq.length - 1), out), null);
    assert.equal(out.length, 0);
    assert.equal(framer.pendingBytes, rq.length - 1);
    assert.equal(framer.push(rq.subarray(rq.length - 1), out), null);
    assert.equal(out.length, 1);
    assert.equal(framer.pendingBytes, 0);
  });

  test('a P-DATA-TF longer than the limit is too-long from its header alone', () => {
    const framer = new PduFramer(16384);
    const out: RawPdu[] = [];
    const header = Buffer.from([0x04, 0, 0, 0, 0x40, 0x01]); // 16385
    assert.deepEqual(framer.push(header.subarray(0, 3), out), null, 'half a header: nothing to say yet');
    assert.deepEqual(framer.push(header.subarray(3), out), { kind: 'too-long', type: 4, length: 16385, limit: 16384 });
    assert.equal(out.length, 0);
  });

  test('a P-DATA-TF of exactly the limit passes; the PDU before a too-long one is still delivered', () => {
    const pdv = { contextId: 1, command: false, last: true, data: Buffer.alloc(16384 - 6) };
    const exact = encodePdu({ type: PduType.PDataTF, pdvs: [pdv] });
    assert.equal(exact.readUInt32BE(2), 16384);
    const framer = new PduFramer(16384);
    const out: RawPdu[] = [];
    const tooLong = Buffer.from([0x04, 0, 0x7f, 0xff, 0xff, 0xff]);
    assert.deepEqual(framer.push(Buffer.concat([exact, tooLong]), out), { kind: 'too-long', type: 4, length: 0x7fffffff, limit: 16384 });
    assert.equal(out.length, 1);
    assert.equal(out[0]!.body.length, 16384);
  });

  test('a limit of 0 means P-DATA-TF of any length; other PDUs are bounded regardless', () => {
    const framer = new PduFramer(0);
    const out: RawPdu[] = [];
    assert.equal(framer.push(Buffer.from([0x04, 0, 0x10, 0, 0, 0]), out), null);
    const rq = new PduFramer(0);
    const header = Buffer.alloc(6);
    header[0] = 0x01;
    header.writeUInt32BE(MAX_CONTROL_PDU + 1, 2);
    assert.deepEqual(rq.push(header, out), { kind: 'too-long', type: 1, length: MAX_CONTROL_PDU + 1, limit: MAX_CONTROL_PDU });
  });

  test('an unknown PDU type is unrecognized', () => {
    for (const type of [0x00, 0x08, 0x10, 0xff]) {
      const framer = new PduFramer(0);
      const out: RawPdu[] = [];
      assert.deepEqual(framer.push(Buffer.from([type, 0, 0, 0, 0, 4, 0, 0, 0, 0]), out), { kind: 'unrecognized', type });
      assert.equal(out.length, 0);
    }
    const framer = new PduFramer(0);
    const out: RawPdu[] = [];
    assert.deepEqual(framer.push(Buffer.concat([encoded[5]!, Buffer.from('GET / HTTP/1.1\r\n')]), out), { kind: 'unrecognized', type: 0x47 });
    assert.equal(out.length, 1, 'the A-RELEASE-RQ before the garbage');
  });
});
