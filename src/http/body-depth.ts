// How deeply a parsed JSON body nests. JSON.parse takes 20,000 levels in a body well under
// http.max_json_kb; the code that walks a dataset afterwards (value checks, key normalising, the
// schema validator) recurses once a level and ran out of stack: a 500 for a bad request. A
// DICOM JSON dataset nests three levels per sequence (the element, its Value, the item).
import { Readable } from 'node:stream';

/** Deepest nesting a JSON body may have (a worklist item with sequences 30 deep fits). */
export const MAX_BODY_DEPTH = 100;

/** Whether `value` nests objects and arrays deeper than `max`; walked without recursion. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  if (value instanceof Readable) return false;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}
