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
 * Shows the current page again through the router (main.js), which keeps refreshing it when it
 * asks to (running jobs, the status) and shows its failure: calling a page function directly
 * dropped both.
 */
export const reloadPage = () => window.dispatchEvent(new Event('pacs:reload'));

export function mount(...children) {
  const main = document.getElementById('main');
  main.replaceChildren(...children);
  return main;
}

/**
 * What the router gives each page it shows: `signal`, aborted when another page (or this one's
 * refresh) replaces it, for the page's reads and timers; and `mount`, which shows the page's
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

let toastTimer = 0;
export function toast(message, kind = 'info') {
  const t = document.getElementById('toast');
  t.textContent = message;
  t.className = kind;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.hidden = true), kind === 'error' ? 8000 : 4000);
}

/** DICOM PN "Family^Given^Middle" as people write it. */
export const personName = (pn) => (pn ? String(pn).split('=')[0].split('^').filter(Boolean).join(' ') : '');
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
