// Files into the archive without the network (pacs import), and the index rebuilt from the
// files already in the archive (pacs reindex). Both read the file the way C-STORE reads a
// dataset: the same reader, the same record, the same index operation.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { readPart10Header } from '../dicom/part10.js';
import { DatasetStreamReader } from '../dicom/reader.js';
import { elementText } from '../dicom/charset.js';
import { Tag } from '../dicom/tags.js';
import { transferSyntaxInfo } from '../dicom/transfer-syntax.js';
import { PacsError } from '../core/errors.js';
import type { Provenance } from '../index/types.js';
import { COLLECTED_TAGS, buildInstanceRecord, filedAs } from './instance-record.js';
import type { StoreResult, StoreService } from './store.js';

async function pump(path: string, start: number, sink: { write(c: Buffer): boolean; onDrain(cb: () => void): void }): Promise<void> {
  const stream = fs.createReadStream(path, { start, highWaterMark: 256 * 1024 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (!sink.write(chunk)) await new Promise<void>((r) => sink.onDrain(r));
  }
}

/** Reads the whole dataset of a file through the header reader (for files without File Meta). */
async function scanDataset(path: string, offset: number, transferSyntaxUID: string): Promise<Map<number, import('../dicom/reader.js').ElementValue>> {
  const reader = new DatasetStreamReader({ transferSyntaxUID, collect: COLLECTED_TAGS });
  await pump(path, offset, { write: (c) => (reader.push(c), true), onDrain: (cb) => cb() });
  return (await reader.end()).values;
}

/** Stores one Part 10 file (or bare dataset) from disk through the store pipeline. */
export async function importFile(svc: StoreService, path: string, provenance: Provenance): Promise<StoreResult> {
  const head = await readPart10Header(path);
  let sopClassUID = head.sopClassUID;
  let sopInstanceUID = head.sopInstanceUID;
  if (!sopClassUID || !sopInstanceUID) {
    const values = await scanDataset(path, head.datasetOffset, head.transferSyntaxUID);
    sopClassUID = elementText(values.get(Tag.SOPClassUID), null) ?? undefined;
    sopInstanceUID = elementText(values.get(Tag.SOPInstanceUID), null) ?? undefined;
  }
  if (!sopClassUID || !sopInstanceUID) throw new PacsError('DICOM_MISSING_UID', 'file has no SOP Class UID or SOP Instance UID');
  const session = svc.begin({ sopClassUID, sopInstanceUID, transferSyntaxUID: head.transferSyntaxUID, provenance });
  try {
    await pump(path, head.datasetOffset, session);
  } catch (e) {
    await session.abort();
    throw new PacsError('STORAGE_FAILURE', `reading ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return session.end();
}

/**
 * Where pacs reindex keeps, under the storage directory, the studies to protect again until it
 * has set the marks: while it is there a reindex was cut short, and the index lacks them.
 */
export const REINDEX_PENDING = ['.reindex', 'protected-studies.json'] as const;

/** Indexes a file that is already in the archive, where it is (pacs reindex). */
export async function indexExistingFile(svc: StoreService, relPath: string): Promise<StoreResult> {
  const abs = svc.deps.store.absolutePath(relPath);
  const head = await readPart10Header(abs);
  const ts = transferSyntaxInfo(head.transferSyntaxUID);
  if (!ts) throw new PacsError('DICOM_PARSE', `unknown transfer syntax ${head.transferSyntaxUID}`);
  const reader = new DatasetStreamReader({ transferSyntaxUID: head.transferSyntaxUID, collect: COLLECTED_TAGS });
  const hash = createHash('sha256');
  let size = 0;
  let pos = 0;
  for await (const chunk of fs.createReadStream(abs, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    const end = pos + chunk.length;
    if (end > head.datasetOffset) reader.push(pos >= head.datasetOffset ? chunk : chunk.subarray(head.datasetOffset - pos));
    pos = end;
  }
  const summary = await reader.end();
  // When it was received, as near as the files can say: retention deletes the oldest first.
  const receivedAt = (await fs.promises.stat(abs)).mtime;
  const record = buildInstanceRecord(
    { values: summary.values, littleEndian: ts.littleEndian },
    { path: relPath, size, transferSyntaxUID: head.transferSyntaxUID, checksum: hash.digest('hex') },
    { callingAE: null, calledAE: null, remoteAddress: null, source: 'reindex' },
    receivedAt,
  );
  // Two files of one instance (an overwrite cut short by a crash leaves the old copy beside the
  // new): the one written last is the instance, whichever the walk meets first. It replaced the
  // other by name order before, the older copy winning when it sorted last.
  const indexed = await svc.deps.index.findInstance(record.instance.SOPInstanceUID);
  if (indexed && indexed.path !== relPath && indexed.receivedAt.getTime() >= receivedAt.getTime())
    return { kind: 'ignored', ...filedAs(record), path: indexed.path, size: indexed.size, olderCopy: relPath };
  const outcome = await svc.deps.index.storeInstance(record, 'replace');
  svc.deps.events.emit('instance.stored', { record, outcome: outcome.outcome, changeSeq: outcome.changeSeq });
  return { kind: outcome.outcome === 'inserted' ? 'stored' : 'replaced', ...filedAs(record), path: relPath, size, ...(indexed && indexed.path !== relPath ? { olderCopy: indexed.path } : {}) };
}
