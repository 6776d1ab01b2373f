// Walking the files and directories given on a command line.
import fsp from 'node:fs/promises';
import path from 'node:path';

/** Every regular file under the given paths, recursively, in a stable order. */
export async function collectFiles(inputs: readonly string[]): Promise<{ files: string[]; missing: string[] }> {
  const files: string[] = [];
  const missing: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const st = await fsp.stat(p).catch(() => null);
    if (!st) return void missing.push(p);
    if (st.isFile()) return void files.push(p);
    if (!st.isDirectory()) return;
    const names = (await fsp.readdir(p)).sort();
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
