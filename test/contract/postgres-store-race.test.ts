// Two servers on one PostgreSQL index and one storage directory receive *different content*
// for one SOP Instance UID at the same moment (two StoreServices in one process, each with its
// own index pool, as two pacs_server processes have). Without a cluster-wide lock the second
// took the first's placed, not yet indexed file for a crash leftover and wrote over it: the row
// then named a file holding the other content. With ArchiveIndex.withInstanceLock the decision
// is made one at a time: one row, its file holding exactly the bytes the row's checksum names,
// no stray file, and outcomes that agree with the duplicate policy.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isPacsError } from '../../src/core/errors.js';
import { EventBus } from '../../src/core/events.js';
import { HookList } from '../../src/core/hooks.js';
import { createLogger } from '../../src/core/logging.js';
import { parsePart10Prefix, readPart10Header } from '../../src/dicom/part10.js';
import type { PostgresIndex } from '../../src/index/postgres/postgres-index.js';
import type { ArchiveIndex, InstanceRecord } from '../../src/index/types.js';
import { type DuplicatePolicy, type IngestRequest, StoreService, type StoreResult } from '../../src/services/store.js';
import { FsObjectStore } from '../../src/storage/fs-store.js';
import { SAMPLES } from '../helpers/dcmtk.js';
import { freshSchema, openPostgres, withPostgres } from './backends.js';

// The same SOP Instance UID, other bytes.
const CONTENTS = ['pydicom__MR_small.dcm', 'pydicom__MR_small_implicit.dcm'];
const ROUNDS = 8;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const tmp = mkdtempSync(path.join(tmpdir(), 'pacs-store-race-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function load(file: string): Promise<{ request: IngestRequest; dataset: Buffer }> {
  const full = path.join(SAMPLES, file);
  const bytes = readFileSync(full);
  const prefix = parsePart10Prefix(bytes, true)!;
  const head = await readPart10Header(full);
  return {
    dataset: bytes.subarray(prefix.datasetOffset),
    request: {
      sopClassUID: head.sopClassUID!,
      sopInstanceUID: head.sopInstanceUID!,
      transferSyntaxUID: prefix.transferSyntaxUID,
      provenance: { callingAE: 'MOD', calledAE: 'PACS', remoteAddress: '127.0.0.1', source: 'dimse' },
    },
  };
}

/** The index as a slow server sees it: its row arrives 30 ms after the file is placed, which
 *  keeps the window the race needs open every time instead of now and then. */
const slowWrites = (index: PostgresIndex): ArchiveIndex =>
  new Proxy(index, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (key === 'storeInstance')
        return async (...args: Parameters<ArchiveIndex['storeInstance']>) => {
          await new Promise((r) => setTimeout(r, 30));
          return target.storeInstance(...args);
        };
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });

withPostgres('two stores racing different content for one SOP Instance UID', (url) => {
  describe('two stores racing different content for one SOP Instance UID (PostgreSQL)', () => {
    for (const policy of ['reject', 'overwrite'] as DuplicatePolicy[]) {
      test(`duplicate_policy ${policy}: one row, its file holds its bytes, nothing stray`, async () => {
        const samples = await Promise.all(CONTENTS.map(load));
        const schema = await freshSchema(url);
        const indexes = [await openPostgres(url, schema), await openPostgres(url, schema)];
        const dir = mkdtempSync(path.join(tmp, `${policy}-`));
        const objects = indexes.map(() => new FsObjectStore(dir, { fsync: false }));
        const services = indexes.map(
          (index, i) =>
            new StoreService({
              index: slowWrites(index),
              store: objects[i]!,
              events: new EventBus(),
              hooks: new HookList<{ record: InstanceRecord }>(),
              logger: createLogger({ level: 'silent' }),
              settings: () => ({ naming: 'hierarchical', duplicatePolicy: policy, minFreeBytes: 0, implementationClassUID: '1.2.3.999', implementationVersionName: 'TEST_1' }),
            }),
        );
        try {
          for (let round = 0; round < ROUNDS; round++) {
            await indexes[0]!.clear();
            for (const o of objects) for await (const p of o.list()) await o.remove(p);
            // Server i receives content i; both start at once.
            const results = await Promise.allSettled(
              services.map(async (svc, i) => {
                const s = samples[i]!;
                const session = svc.begin(s.request);
                session.write(s.dataset);
                return session.end();
              }),
            );
            const ok = results.filter((r): r is PromiseFulfilledResult<StoreResult> => r.status === 'fulfilled').map((r) => r.value.kind).sort();
            const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
            if (policy === 'reject') {
              assert.deepEqual(ok, ['stored'], `round ${round}: one stored, the other refused`);
              assert.ok(failed.length === 1 && isPacsError(failed[0], 'DUPLICATE_INSTANCE'), `round ${round}: ${String(failed[0])}`);
            } else {
              assert.deepEqual(failed, [], `round ${round}`);
              assert.deepEqual(ok, ['replaced', 'stored'], `round ${round}: one stored, then replaced by the other`);
            }

            const stats = await indexes[1]!.statistics();
            assert.equal(stats.instances, 1, `round ${round}: one row`);
            const row = await indexes[1]!.findInstance(samples[0]!.request.sopInstanceUID);
            assert.ok(row);
            const onDisk = readFileSync(objects[0]!.absolutePath(row.path));
            assert.equal(sha256(onDisk), row.checksum, `round ${round}: the row's file holds the row's content`);
            const paths: string[] = [];
            for await (const p of objects[0]!.list()) paths.push(p);
            assert.deepEqual(paths, [row.path], `round ${round}: no stray file`);
          }
        } finally {
          for (const o of objects) o.close();
          await Promise.all(indexes.map((i) => i.close()));
        }
      });
    }
  });
});
