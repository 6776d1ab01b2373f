// Walking the files and directories given on a command line.
import fsp from 'node:fs/promises';
import path from 'node:path';

/**
 * Every regular file under the given paths, recursively, in a stable order. What cannot be
 * read is listed with why (a missing path, a directory without permission) and the walk goes
 * on: one unreadable folder must not stop the import or the send of all the others. A directory
 * is walked once, however many links lead to it (a link to a parent looped for ever), and
 * `exclude` (real paths: the archive's own storage, for pacs import) is not walked at all.
 */
export async function collectFiles(inputs: readonly string[], exclude: readonly string[] = []): Promise<{ files: string[]; missing: { path: string; reason: string }[] }> {
  const files: string[] = [];
  const missing: { path: string; reason: string }[] = [];
  const seen = new Set<string>();
  const excluded = await Promise.all(exclude.map((e) => fsp.realpath(e).catch(() => path.resolve(e))));
  const inside = (real: string): string | undefined => excluded.find((e) => real === e || real.startsWith(e + path.sep));
  const walk = async (p: string): Promise<void> => {
    const st = await fsp.stat(p).catch((e: NodeJS.ErrnoException) => e);
    if (st instanceof Error) return void missing.push({ path: p, reason: st.code === 'ENOENT' ? 'no such file or directory' : `cannot be read (${st.code ?? st.message})` });
    if (excluded.length && (st.isFile() || st.isDirectory())) {
      const real = await fsp.realpath(p).catch(() => path.resolve(p));
      // A folder holding the archive is walked, the archive in it is not.
      const archive = inside(real);
      if (archive) return void missing.push({ path: p, reason: `is in the archive's own storage (${archive}): not imported into itself` });
    }
    if (st.isFile()) return void files.push(p);
    if (!st.isDirectory()) return;
    const id = `${st.dev}:${st.ino}`;
    if (seen.has(id)) return; // reached again through a link
    seen.add(id);
    let names: string[];
    try {
      names = (await fsp.readdir(p)).sort();
    } catch (e) {
      return void missing.push({ path: p, reason: `directory cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})` });
    }
    for (const n of names) await walk(path.join(p, n));
  };
  for (const i of inputs) await walk(i);
  return { files, missing };
}

/** Runs `fn` over items with at most `n` at once. */
export async function eachLimit<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}
