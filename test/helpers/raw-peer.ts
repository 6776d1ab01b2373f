// A scripted DICOM peer over a bare net.Socket, for protocol tests: it writes whatever bytes or
// hand-built PDUs a test gives it and collects what the other side answers, PDU by PDU, so a
// test can drive the acceptor's state machine one event at a time.
import net from 'node:net';
import { buildAssociateRQ, type AssociateRequestOptions } from '../../src/net/acse.js';
import { decodePdu, encodePdu } from '../../src/net/pdu/codec.js';
import { PduFramer, type RawPdu } from '../../src/net/pdu/framer.js';
import { type AssociateAC, type AssociateRJ, type AssociateRQ, type Pdu, type Pdv, PduType } from '../../src/net/pdu/types.js';
import { type Command, decodeCommand, encodeCommand } from '../../src/net/dimse/command.js';

export const VERIFICATION = '1.2.840.10008.1.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

export class RawPeer {
  readonly socket: net.Socket;
  private readonly framer = new PduFramer(0);
  private readonly inbox: Pdu[] = [];
  private waiters: (() => void)[] = [];
  private closedAt: number | null = null;
  /** Set when the other side sent bytes that are not a PDU. */
  garbage: string | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const raw: RawPdu[] = [];
      const err = this.framer.push(chunk, raw);
      for (const r of raw) {
        try {
          this.inbox.push(decodePdu(r.type, r.body));
        } catch (e) {
          this.garbage = String(e);
        }
      }
      if (err) this.garbage = JSON.stringify(err);
      this.wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closedAt = Date.now();
      this.wake();
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host, noDelay: true });
      s.once('connect', () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedAt !== null;
  }

  /** When the other side closed the connection (Date.now() value), or null. */
  get closedTime(): number | null {
    return this.closedAt;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private waitForChange(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((f) => f !== done);
        resolve(false);
      }, ms);
      const done = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(new Error('socket already closed'));
      this.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  send(pdu: Pdu): Promise<void> {
    return this.write(encodePdu(pdu));
  }

  /** The next PDU the other side sends; null if it closes first or nothing comes within `ms`. */
  async next(ms = 5000): Promise<Pdu | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const pdu = this.inbox.shift();
      if (pdu) return pdu;
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await this.waitForChange(left);
    }
  }

  /** The next PDU, which must be of `type`. */
  async expect<T extends Pdu['type']>(type: T, ms = 5000): Promise<Extract<Pdu, { type: T }>> {
    const pdu = await this.next(ms);
    if (!pdu) throw new Error(`expected PDU type ${type}, got ${this.closed ? 'a closed connection' : 'nothing'}${this.garbage ? ` (${this.garbage})` : ''}`);
    if (pdu.type !== type) throw new Error(`expected PDU type ${type}, got ${JSON.stringify(pdu)}`);
    return pdu as Extract<Pdu, { type: T }>;
  }

  /** Resolves true once the other side has closed the connection, false after `ms`. */
  async waitClosed(ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.waitForChange(left);
    }
    return true;
  }

  /** PDUs received and not yet read. */
  get pending(): readonly Pdu[] {
    return this.inbox;
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Closes our side and waits until the socket is gone. */
  async end(): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 500).unref();
    });
  }

  // --- association and DIMSE helpers -------------------------------------------------------

  /** Sends an A-ASSOCIATE-RQ and returns the answer (AC or RJ). */
  async associate(rq: AssociateRQ): Promise<AssociateAC | AssociateRJ> {
    await this.send(rq);
    const answer = await this.next();
    if (!answer || (answer.type !== PduType.AssociateAC && answer.type !== PduType.AssociateRJ))
      throw new Error(`no A-ASSOCIATE-AC/RJ: ${answer ? JSON.stringify(answer) : this.closed ? 'connection closed' : 'timed out'}`);
    return answer;
  }

  /** Associates and requires acceptance. */
  async accepted(rq: AssociateRQ): Promise<AssociateAC> {
    const a = await this.associate(rq);
    if (a.type !== PduType.AssociateAC) throw new Error(`association rejected: ${JSON.stringify(a)}`);
    return a;
  }

  /** Sends one P-DATA-TF PDU with the given PDVs. */
  sendPdvs(pdvs: Pdv[]): Promise<void> {
    return this.send({ type: PduType.PDataTF, pdvs });
  }

  /** Sends a DIMSE command (one PDV) and, if given, its dataset in fragments of `maxPdv` bytes. */
  async sendMessage(contextId: number, command: Command, dataset?: Buffer, maxPdv = 16 * 1024): Promise<void> {
    await this.sendPdvs([{ contextId, command: true, last: true, data: encodeCommand(command) }]);
    if (!dataset) return;
    if (dataset.length === 0) return this.sendPdvs([{ contextId, command: false, last: true, data: dataset }]);
    for (let off = 0; off < dataset.length; off += maxPdv) {
      const data = dataset.subarray(off, off + maxPdv);
      await this.sendPdvs([{ contextId, command: false, last: off + maxPdv >= dataset.length, data }]);
    }
  }

  /** Reads P-DATA-TF PDUs until a whole command set has arrived; datasets are skipped. */
  async readCommand(ms = 5000): Promise<{ contextId: number; command: Command }> {
    const parts: Buffer[] = [];
    for (;;) {
      const pdu = await this.next(ms);
      if (!pdu) throw new Error(`no DIMSE command: ${this.closed ? 'connection closed' : 'timed out'}`);
      if (pdu.type !== PduType.PDataTF) throw new Error(`expected P-DATA-TF, got ${JSON.stringify(pdu)}`);
      for (const pdv of pdu.pdvs) {
        if (!pdv.command) continue;
        parts.push(pdv.data);
        if (pdv.last) return { contextId: pdv.contextId, command: decodeCommand(Buffer.concat(parts)) };
      }
    }
  }
}

/** An A-ASSOCIATE-RQ with our defaults; `patch` adjusts the PDU after it is built. */
export function associateRQ(
  o: Partial<AssociateRequestOptions> & { contexts?: AssociateRequestOptions['contexts'] } = {},
  patch: (rq: AssociateRQ) => void = () => {},
): AssociateRQ {
  const rq = buildAssociateRQ({
    callingAETitle: 'SCRIPTED',
    calledAETitle: 'PACS_SERVER',
    maxPduLength: 16384,
    contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    ...o,
  });
  patch(rq);
  return rq;
}
