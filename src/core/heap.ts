// The JavaScript heap sized for a long-running server rather than for peak throughput.
//
// V8's defaults let the young generation grow to 16 MB per semi-space (32 MB committed) under a
// high allocation rate, and the old generation to several times its live size before a full
// collection. A PACS lives for weeks with a live heap of ~25 MB: receiving 8,000 small instances
// took its resident size from 100 MB idle to ~195 MB with the defaults, and to ~107 MB with the
// young generation kept at its initial size and the old one grown by a fixed share between
// collections (docs/benchmarks.md, "Memory"). That share was 30 % until measured on 0.5 MB
// instances: a full collection every ~90 ms, twice the server's CPU per CT instance (11 vs 5.5 ms
// over four associations). At 100 % (the old generation may double its live size, ~25 → 50 MB)
// the CPU is V8's defaults' and the resident size still compact_heap's (docs/benchmarks.md,
// "Session 12"). Fixed sizes are read at start-up, so
// `--max-semi-space-size` would need a re-exec; these two are read at each collection and take
// effect when set from inside the process — before the modules load, or the young generation has
// grown already (bin/pacs_server applies them first, then loads the server).
import v8 from 'node:v8';

export const COMPACT_HEAP_FLAGS = ['--semi-space-growth-factor=1', '--heap-growing-percent=100'] as const;

/** What V8 does without COMPACT_HEAP_FLAGS (its defaults in Node 20 and 22). */
const DEFAULT_HEAP_FLAGS = ['--semi-space-growth-factor=2', '--heap-growing-percent=0'] as const;

/** V8 flags the user gave the process (node options or NODE_OPTIONS) that our own would override. */
export function userHeapFlags(execArgv: readonly string[], nodeOptions: string): boolean {
  const given = [...execArgv, ...nodeOptions.split(/\s+/)];
  return given.some((f) => /^--(max-semi-space-size|min-semi-space-size|semi-space-growth-factor|heap-growing-percent)\b/.test(f.replace(/_/g, '-')));
}

/**
 * Applies COMPACT_HEAP_FLAGS unless the process was started with heap flags of its own (those win).
 * Returns the flags set, for the start-up log.
 */
export function applyCompactHeap(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): readonly string[] {
  if (userHeapFlags(execArgv, nodeOptions)) return [];
  v8.setFlagsFromString(COMPACT_HEAP_FLAGS.join(' '));
  applied = COMPACT_HEAP_FLAGS;
  return applied;
}

let applied: readonly string[] = [];

/**
 * Whether a server keeps the compact heap: as configured, else on with the SQLite index (a small
 * machine, where memory is what runs out) and off with PostgreSQL (a large archive, where users
 * list thousands of studies at once: with a 1 MB young generation the rows of such an answer are
 * promoted and collected again, its p99 about doubled — docs/benchmarks.md).
 */
export function wantsCompactHeap(config: { server: { compact_heap?: boolean | undefined }; database: { url?: string | undefined } }): boolean {
  return config.server.compact_heap ?? config.database.url === undefined;
}

/** Undoes applyCompactHeap (server.compact_heap: false): V8's own sizing from here on. */
export function restoreDefaultHeap(): void {
  if (applied.length) v8.setFlagsFromString(DEFAULT_HEAP_FLAGS.join(' '));
  applied = [];
}

/** The flags in force from applyCompactHeap, for the start-up log. */
export const compactHeapFlags = (): readonly string[] => applied;
