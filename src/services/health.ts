// Readiness for load balancers and orchestrators: can this server take work now? The index
// answers, the storage takes a write (a probe file written, synced and removed), and the disk
// has more free space than storage.min_free_mb. Each check has a time limit, so a hung disk or
// a locked database makes the probe answer "not ready" instead of hanging it.
import type { ArchiveIndex } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { errorMessage } from '../core/errors.js';

export interface ReadinessDeps {
  index: Pick<ArchiveIndex, 'statistics'>;
  objects: Pick<ObjectStore, 'stage' | 'freeBytes' | 'remove'>;
  minFreeBytes: () => number;
  /** Per check (default 5 s). */
  timeoutMs?: number;
}

export interface CheckResult {
  ok: boolean;
  detail?: string;
}

/** What is wrong, as a code that names no host, user or path: for callers without a role. */
export type ReadinessCode = 'index-unavailable' | 'storage-not-writable' | 'disk-below-minimum' | 'disk-unknown';

export interface Readiness {
  ready: boolean;
  checks: { index: CheckResult; storage: CheckResult; disk: CheckResult & { freeBytes?: number; minFreeBytes: number } };
  /** What is wrong, in words (with the errors' messages); empty when ready. */
  reasons: string[];
  codes: ReadinessCode[];
}

const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });

async function check(run: () => Promise<unknown>, ms: number, what: string): Promise<CheckResult> {
  try {
    await within(run(), ms, what);
    return { ok: true };
  } catch (e) {
    return { ok: false, detail: errorMessage(e) };
  }
}

/** Where the probe file is moved into the archive (a dot-folder at the top: never an instance). */
const PROBE = `.health/probe-${process.pid}`;

/**
 * The probe goes the whole path real instances take: written and synced in the store's staging,
 * moved into the archive's own tree, removed. Written only, it said ready while the archive
 * folder was read-only or its staging folder gone from under the spare files.
 */
async function probeWrite(objects: ReadinessDeps['objects']): Promise<void> {
  const staged = objects.stage();
  try {
    staged.write(Buffer.from('pacs-server readiness probe\n'));
    await staged.finish();
    const { durable } = await staged.commit(PROBE, 'replace');
    await durable;
    await objects.remove(PROBE);
  } finally {
    await staged.discard();
  }
}

export async function readiness(deps: ReadinessDeps): Promise<Readiness> {
  const ms = deps.timeoutMs ?? 5000;
  const minFreeBytes = deps.minFreeBytes();
  const [index, storage, disk] = await Promise.all([
    check(() => deps.index.statistics(), ms, 'the index'),
    check(() => probeWrite(deps.objects), ms, 'the storage'),
    (async (): Promise<Readiness['checks']['disk']> => {
      try {
        const freeBytes = await within(deps.objects.freeBytes(), ms, 'the disk');
        const ok = minFreeBytes === 0 || freeBytes >= minFreeBytes;
        return { ok, freeBytes, minFreeBytes, ...(ok ? {} : { detail: `${Math.floor(freeBytes / 1048576)} MB free, below storage.min_free_mb (${minFreeBytes / 1048576} MB)` }) };
      } catch (e) {
        return { ok: false, minFreeBytes, detail: errorMessage(e) };
      }
    })(),
  ]);
  const reasons = [
    ...(index.ok ? [] : [`index: ${index.detail}`]),
    ...(storage.ok ? [] : [`storage not writable: ${storage.detail}`]),
    ...(disk.ok ? [] : [`disk: ${disk.detail}`]),
  ];
  const codes: ReadinessCode[] = [
    ...(index.ok ? [] : ['index-unavailable' as const]),
    ...(storage.ok ? [] : ['storage-not-writable' as const]),
    ...(disk.ok ? [] : [disk.freeBytes === undefined ? ('disk-unknown' as const) : ('disk-below-minimum' as const)]),
  ];
  return { ready: reasons.length === 0, checks: { index, storage, disk }, reasons, codes };
}

/**
 * Readiness probed at most once per `ttlMs` (and once for callers asking at the same time): the
 * probe writes and syncs a file, and anyone may ask, as often as they like. A new `generation`
 * (the configuration object, replaced by a reload) probes again at once.
 */
export function cachedReadiness(deps: ReadinessDeps, ttlMs = 5000, now: () => number = Date.now): (generation?: object) => Promise<Readiness> {
  let last: { at: number; generation: object | undefined; result: Promise<Readiness> } | null = null;
  return (generation) => {
    if (last && last.generation === generation && now() - last.at < ttlMs) return last.result;
    const entry = { at: now(), generation, result: readiness(deps) };
    last = entry;
    // A probe that failed outright is not kept: the next caller tries again.
    entry.result.catch(() => {
      if (last === entry) last = null;
    });
    return entry.result;
  };
}
