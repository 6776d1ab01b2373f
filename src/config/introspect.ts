// Walks the zod schema by key path, so that strings from the environment and the command line
// can be coerced to the type the schema wants, and unknown keys can get a "did you mean".
import type { z } from 'zod';
import { configSchema } from './schema.js';

type Def = { type: string; innerType?: Schema; in?: Schema; element?: Schema; shape?: Record<string, Schema>; options?: Schema[] };
type Schema = z.core.$ZodType;

const def = (s: Schema): Def => s._zod.def as unknown as Def;

/** Strips defaults, optionals and pipes down to the schema that decides the value's type. */
function unwrap(s: Schema): Schema {
  for (;;) {
    const d = def(s);
    const next = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
    if (next === undefined) return s;
    s = next;
  }
}

/** The schema at a key path (numbers index arrays), or undefined when no such key exists. */
export function schemaAt(path: readonly PropertyKey[], root: Schema = configSchema): Schema | undefined {
  let s: Schema | undefined = unwrap(root);
  for (const key of path) {
    if (s === undefined) return undefined;
    const d = def(s);
    if (d.type === 'object' && typeof key === 'string') s = d.shape?.[key];
    else if (d.type === 'array' && typeof key === 'number') s = d.element;
    else return undefined;
    if (s !== undefined) s = unwrap(s);
  }
  return s;
}

/** The keys an object schema allows at a path (for "did you mean"). */
export function keysAt(path: readonly PropertyKey[]): string[] {
  const s = schemaAt(path);
  return s !== undefined && def(s).type === 'object' ? Object.keys(def(s).shape ?? {}) : [];
}

export type ValueKind = 'string' | 'number' | 'boolean' | 'string-list' | 'structured' | 'unknown';

/** What a string from the environment or a flag must become to fit the schema. */
export function kindAt(path: readonly PropertyKey[]): ValueKind {
  const s = schemaAt(path);
  if (s === undefined) return 'unknown';
  const d = def(s);
  switch (d.type) {
    case 'string':
    case 'enum':
      return 'string';
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array': {
      const el = d.element === undefined ? undefined : def(unwrap(d.element)).type;
      return el === 'string' || el === 'enum' ? 'string-list' : 'structured';
    }
    case 'object':
    case 'record':
      return 'structured';
    default:
      return 'unknown';
  }
}

/** The closest of `candidates` to `word`, if it is close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
