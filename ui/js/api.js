// Calls to the REST API; a problem+json answer becomes an Error with its detail. Whatever comes
// back, a page gets JSON or an Error with a sentence a person can read: a 2xx that is not JSON
// (a proxy's login page) is an error, not a crash of the page reading it; an error answer that
// is not JSON (nginx's HTML 502 page) is its status line, not its markup; a network failure is
// "Cannot reach the server", not the browser's "Failed to fetch"; a call has a time limit.

/** Reads give up after this long; writes may take longer (a study of thousands of files to delete). */
const READ_TIMEOUT_MS = 60_000;
const WRITE_TIMEOUT_MS = 300_000;

/** An error answer or a failed call; `status` is 0 when no answer came. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** AbortSignal.any where the browser has it (Safari only since 17.4). */
function either(a, b) {
  if (AbortSignal.any) return AbortSignal.any([a, b]);
  const both = new AbortController();
  for (const s of [a, b]) {
    if (s.aborted) both.abort(s.reason);
    else s.addEventListener('abort', () => both.abort(s.reason), { once: true });
  }
  return both.signal;
}

/**
 * options: fetch's, plus `json` (a body to send as JSON) and `signal` (the page's: leaving the
 * page aborts the call, and the AbortError goes on unchanged for the router to ignore).
 */
export async function api(path, options = {}) {
  const { json, signal, ...rest } = options;
  const init = { ...rest, headers: { accept: 'application/json', ...(rest.headers ?? {}) } };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers['content-type'] = 'application/json';
  }
  const method = (init.method ?? 'GET').toUpperCase();
  const limit = method === 'GET' || method === 'HEAD' ? READ_TIMEOUT_MS : WRITE_TIMEOUT_MS;
  // AbortSignal.timeout, written with setTimeout: the same, and a test's fake clock can run it.
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(new DOMException('timed out', 'TimeoutError')), limit);
  init.signal = signal ? either(signal, timer.signal) : timer.signal;
  try {
    const r = await fetch(path, init);
    if (r.status === 204) return null;
    const type = r.headers.get('content-type') ?? '';
    const isJson = /\bjson\b/i.test(type);
    if (r.ok) {
      if (!isJson) throw new ApiError(`The server answered ${r.status} with ${type.split(';')[0] || 'no content type'} instead of JSON (a proxy or login page in between?)`, r.status);
      return await r.json().catch(() => {
        throw new ApiError(`The server's answer to ${path.split('?')[0]} is not valid JSON`, r.status);
      });
    }
    const body = isJson ? await r.json().catch(() => null) : null;
    if (body && typeof body === 'object') throw new ApiError(`${body.title ?? r.status}: ${body.detail ?? ''}`, r.status);
    throw new ApiError(`${r.status} ${r.statusText}`.trim(), r.status);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if (signal?.aborted) throw e;
    if (timer.signal.aborted) throw new ApiError(`No answer from the server within ${limit / 1000} s`, 0);
    // fetch rejects with a TypeError when no answer came at all (server down, network gone).
    if (e instanceof TypeError) throw new ApiError('Cannot reach the server', 0);
    throw e;
  } finally {
    clearTimeout(timeout);
  }
}

export const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    // An array is a repeated parameter (status=SCHEDULED&status=STARTED).
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
};
