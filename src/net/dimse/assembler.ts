// Reassembles DIMSE messages from PDVs (PS3.8 Annex E). Command fragments are small and
// buffered; dataset fragments go straight to the sink the command's handler returns, which
// may ask for the socket to pause (backpressure) while it writes them out.
import { type Command, CommandDecodeError, decodeCommand, hasDataset } from './command.js';
import type { Pdv } from '../pdu/types.js';

/** Where the dataset of one message goes, fragment by fragment, as it arrives. */
export interface DatasetSink {
  /** Returns false when the caller should stop reading until `onDrain` fires. */
  write(chunk: Buffer): boolean;
  onDrain(cb: () => void): void;
  /** The last fragment has arrived. */
  end(): void;
  /** The association went away before the last fragment. */
  abort(reason: Error): void;
}

export interface MessageHandler {
  /** A complete command; return the sink for its dataset (required when one follows). */
  onCommand(contextId: number, command: Command): DatasetSink | null;
}

export class DimseProtocolError extends Error {}

/** Largest command set we accept: real ones are a few hundred bytes. */
const MAX_COMMAND = 64 * 1024;
/**
 * Most fragments of one command set. The byte cap alone let a peer send empty fragments for
 * ever: each 6-byte PDV a Buffer kept (and the socket chunk behind it), the heap filled.
 */
const MAX_COMMAND_FRAGMENTS = 1024;

export class DimseAssembler {
  private commandParts: Buffer[] = [];
  private commandBytes = 0;
  private commandContext = -1;
  private sink: DatasetSink | null = null;
  private datasetContext = -1;
  private expectingDataset = false;

  /** Bytes of command and dataset fragments taken so far (the DIMSE timer's progress). */
  bytesFed = 0;

  constructor(private readonly handler: MessageHandler) {}

  /** True while a dataset is being received (an abort now must clean up its sink). */
  get busy(): boolean {
    return this.expectingDataset;
  }

  /** True between the first fragment of a message and its last (the DIMSE timeout runs). */
  get midMessage(): boolean {
    return this.expectingDataset || this.commandParts.length > 0;
  }

  /**
   * Feeds one PDV. Returns the sink that asked to pause (the caller stops reading until its
   * onDrain), or null. Throws DimseProtocolError for a message structure the standard forbids.
   */
  push(pdv: Pdv): DatasetSink | null {
    this.bytesFed += pdv.data.length;
    if (pdv.command) {
      if (this.expectingDataset) throw new DimseProtocolError('command fragment received while a dataset was expected');
      if (this.commandContext !== -1 && pdv.contextId !== this.commandContext)
        throw new DimseProtocolError('command fragments on different presentation contexts');
      this.commandContext = pdv.contextId;
      this.commandBytes += pdv.data.length;
      if (this.commandBytes > MAX_COMMAND) throw new DimseProtocolError(`command set longer than ${MAX_COMMAND} bytes`);
      if (!pdv.last && pdv.data.length === 0) throw new DimseProtocolError('an empty command fragment that is not the last');
      if (this.commandParts.length >= MAX_COMMAND_FRAGMENTS) throw new DimseProtocolError(`command set in more than ${MAX_COMMAND_FRAGMENTS} fragments`);
      this.commandParts.push(pdv.data);
      if (!pdv.last) return null;
      const buf = this.commandParts.length === 1 ? this.commandParts[0]! : Buffer.concat(this.commandParts);
      const ctx = this.commandContext;
      this.commandParts = [];
      this.commandBytes = 0;
      this.commandContext = -1;
      let command: Command;
      try {
        command = decodeCommand(buf);
      } catch (e) {
        throw new DimseProtocolError(e instanceof CommandDecodeError ? e.message : String(e));
      }
      const withData = hasDataset(command);
      const sink = this.handler.onCommand(ctx, command);
      // A handler that expected a dataset the command does not announce must let go of it.
      if (!withData && sink) sink.abort(new DimseProtocolError('the command announces no dataset'));
      if (withData) {
        this.expectingDataset = true;
        this.datasetContext = ctx;
        this.sink = sink ?? discardSink;
      }
      return null;
    }
    if (!this.expectingDataset) throw new DimseProtocolError('dataset fragment received without a command announcing it');
    if (pdv.contextId !== this.datasetContext) throw new DimseProtocolError('dataset fragment on another presentation context than its command');
    const sink = this.sink!;
    const more = pdv.data.length ? sink.write(pdv.data) : true;
    if (pdv.last) {
      this.expectingDataset = false;
      this.sink = null;
      sink.end();
    }
    return more ? null : sink;
  }

  /** The association ended: any dataset in flight is incomplete. */
  abort(reason: Error): void {
    if (this.sink) this.sink.abort(reason);
    this.sink = null;
    this.expectingDataset = false;
  }
}

const discardSink: DatasetSink = { write: () => true, onDrain: (cb) => cb(), end: () => {}, abort: () => {} };

/** A sink that keeps the whole dataset in memory, up to a limit (queries, N-* payloads). */
export class BufferSink implements DatasetSink {
  private parts: Buffer[] = [];
  private size = 0;
  private failed: Error | null = null;
  constructor(
    private readonly limit: number,
    private readonly done: (err: Error | null, data: Buffer) => void,
  ) {}
  write(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > this.limit) this.failed ??= new Error(`dataset larger than ${this.limit} bytes`);
    else this.parts.push(chunk);
    return true;
  }
  onDrain(cb: () => void): void {
    cb();
  }
  end(): void {
    this.done(this.failed, Buffer.concat(this.parts));
  }
  abort(reason: Error): void {
    this.done(reason, Buffer.alloc(0));
  }
}
