// A tiny element builder: text goes in as text nodes, never as HTML, so no attribute value of
// a DICOM file can inject markup into the page.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'className') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/**
 * Shows the current page again through the router (main.js), which aborts the page shown before
 * and shows a failure: calling a page function directly dropped both.
 */
export const reloadPage = () => window.dispatchEvent(new Event('pacs:reload'));

export function mount(...children) {
  const main = document.getElementById('main');
  main.replaceChildren(...children);
  return main;
}

/**
 * What the router gives each page it shows: `signal`, aborted when another page (or this one's
 * reload) replaces it, for the page's reads and timers; and `mount`, which shows the page's
 * content only while it is still the current one. Else a slow page left behind (its reads
 * still under way) replaced the page the user had moved on to when its answer came.
 */
export function pageContext(signal) {
  return {
    signal,
    mount: (...children) => {
      // Throwing ends the stale page's function there; the router ignores its error.
      signal.throwIfAborted();
      return mount(...children);
    },
  };
}

/** A page's offset from its URL parameter: a number of rows to skip, 0 when absent or not one. */
export const offsetParam = (params, name = 'offset') => Math.max(0, Math.floor(Number(params.get(name) ?? 0)) || 0);

/**
 * Previous / "51–100 of 312" / Next under a list of the API (its answer's `total`). `go` shows
 * the page at another offset.
 */
export function pager({ id, offset, size, shown, total, go }) {
  const text = shown ? `${offset + 1}–${offset + shown} of ${total}` : offset ? `nothing from ${offset + 1} on (${total} in all)` : '';
  return h('div', { className: 'pager', id },
    h('button', { type: 'button', disabled: offset === 0, onclick: () => go(Math.max(0, Math.min(offset - size, total - size))) }, '‹ Previous'),
    h('span', { className: 'count' }, text),
    h('button', { type: 'button', disabled: offset + shown >= total, onclick: () => go(offset + size) }, 'Next ›'));
}

/** The current page's URL with some parameters changed ('' or null: removed). */
export function hashWith(changes) {
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?');
  const q = new URLSearchParams(search);
  for (const [k, v] of Object.entries(changes)) {
    if (v === '' || v === null || v === undefined) q.delete(k);
    else q.set(k, String(v));
  }
  const s = q.toString();
  return `#${path || '/'}${s ? `?${s}` : ''}`;
}

let toastTimer = 0;
export function toast(message, kind = 'info') {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.className = kind;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), kind === 'error' ? 8000 : 4000);
}

/**
 * DICOM PN "Family^Given^Middle" as people write it, "Family, Given Middle" — the form the search
 * box takes back (the comma ends the family name, which may hold spaces). The first group that
 * holds a name: one given only in ideographic or phonetic form ("=山田^太郎") showed blank.
 */
export const personName = (pn) => {
  const group = pn ? String(pn).split('=').find((g) => g.replace(/\^/g, '').trim() !== '') : undefined;
  if (!group) return '';
  const [family = '', ...rest] = group.split('^');
  const given = rest.filter(Boolean).join(' ');
  return family && given ? `${family}, ${given}` : family || given;
};
/** DA "20240131" as 2024-01-31. */
export const date = (da) => (da && /^\d{8}$/.test(da) ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6)}` : da ?? '');
export const time = (tm) => (tm && /^\d{4}/.test(tm) ? `${tm.slice(0, 2)}:${tm.slice(2, 4)}` : '');
export const multi = (v) => (v ? String(v).split('\\').join(', ') : '');
export function bytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}
export const ago = (iso) => {
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : new Date(iso).toLocaleString();
};
