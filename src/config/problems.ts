// Turns zod issues into one line per problem: "<key path>: <what is wrong>, got <value> (<where>)".
import type { z } from 'zod';
import { closest, keysAt } from './introspect.js';
import { isSecretKey, redactUrl } from './redact.js';

/** Says where the value at a key path came from ("pacs_server.yaml line 3", "PACS_SERVER__PORT"). */
export type OriginOf = (path: readonly PropertyKey[]) => string | undefined;

/** "known_nodes[1].ae_title" */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** A value as a person would recognise it in their file. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/** A value as showValue shows it, but never a secret: a password or token key's value, a URL's credentials. */
function shownValue(path: readonly PropertyKey[], value: unknown): string {
  if (path.some(isSecretKey)) return 'a value (not shown: a secret)';
  return showValue(typeof value === 'string' ? redactUrl(value) : value);
}

/** One line per problem. `input` is the merged, not yet validated configuration. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown, originOf: OriginOf): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const where = (path: readonly PropertyKey[]): string => {
      const origin = originOf(path);
      return origin === undefined ? '' : ` (${origin})`;
    };
    if (issue.code === 'unrecognized_keys') {
      const allowed = keysAt(issue.path);
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const guess = closest(key, allowed);
        const hint = guess === undefined ? '' : ` (did you mean "${guess}"?)`;
        lines.push(`${formatPath(path)}: unknown key${hint}${where(path)}`);
      }
      continue;
    }
    const value = valueAt(input, issue.path);
    const wantsValue = issue.code !== 'custom' || (issue.params as { got?: boolean } | undefined)?.got === true;
    let message = issue.message;
    if (wantsValue && value === undefined && issue.code === 'invalid_type') message = 'required';
    else if (wantsValue && value !== undefined) message = `${message}, got ${shownValue(issue.path, value)}`;
    lines.push(`${formatPath(issue.path)}: ${message}${where(issue.path)}`);
  }
  return lines;
}
