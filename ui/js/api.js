// Calls to the REST API; a problem+json answer becomes an Error with its detail.
export async function api(path, options = {}) {
  const init = { ...options, headers: { accept: 'application/json', ...(options.headers ?? {}) } };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    init.headers['content-type'] = 'application/json';
  }
  const r = await fetch(path, init);
  if (r.status === 204) return null;
  const type = r.headers.get('content-type') ?? '';
  const body = type.includes('json') ? await r.json() : await r.text();
  if (!r.ok) throw new Error(typeof body === 'object' ? `${body.title ?? r.status}: ${body.detail ?? ''}` : `${r.status} ${body}`);
  return body;
}

export const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};
