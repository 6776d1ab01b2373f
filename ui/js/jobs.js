// The job queue: sends, pulls, the research rules' exports, forwards and commands, with progress, cancel, retry.
import { h, toast, ago, offsetParam, pager, hashWith } from './dom.js';
import { api, query } from './api.js';
import { needs, roleToAct } from './me.js';

const describe = (j) => {
  const p = j.payload ?? {};
  const rule = p.rule ? ` (rule ${p.rule})` : '';
  if (j.type === 'send') return `${p.rule ? 'forward' : 'send'} ${p.level ?? ''} ${(p.uids ?? []).length > 1 ? `${p.uids.length} items` : (p.uids ?? [''])[0]} → ${p.destination}${rule}`;
  if (j.type === 'stow') return `forward ${p.level ?? ''} ${(p.uids ?? [''])[0]} → ${p.server} (STOW-RS)${rule}`;
  if (j.type === 'export') return `export ${p.level ?? ''} ${p.uid ?? ''} → ${p.to ?? ''} (${p.mode ?? 'copy'})${rule}`;
  if (j.type === 'command') return `run ${(p.argv ?? []).join(' ')} for ${p.level ?? ''} ${p.uid ?? ''}${rule}`;
  if (j.type === 'pull') return `pull ${p.level ?? ''} ${(p.uids ?? [''])[0]} ← ${p.source} (C-${String(p.method ?? 'move').toUpperCase()})`;
  return j.type;
};

const progressText = (p) => (p && p.total !== undefined ? `${(p.completed ?? 0) + (p.warning ?? 0)}/${p.total}${p.failed ? `, ${p.failed} failed` : ''}` : '');

/**
 * Shows a job's state in `el` until it ends or the page is left (`signal`, the page's). A failed
 * poll is said, and the next comes all the same, a little later (a restart, a network hiccup):
 * one failure ended the watching for good, and leaving the page did not end it at all.
 */
export function watchJob(id, el, signal) {
  let timer = 0;
  const tick = async () => {
    let next = 500;
    try {
      const j = await api(`/api/jobs/${id}`, { signal });
      el.textContent = `job ${id}: ${j.state} ${progressText(j.progress)}${j.lastError && j.state !== 'succeeded' ? ` — ${j.lastError}` : ''}`;
      el.className = `state-${j.state}`;
      if (j.state !== 'queued' && j.state !== 'running') return;
      // Waiting out a back-off: no need to ask twice a second.
      if (j.state === 'queued' && Date.parse(j.runAfter) > Date.now() + 5000) next = 5000;
    } catch (e) {
      if (signal.aborted) return;
      el.textContent = `job ${id}: its state could not be read (${e.message}); trying again`;
      el.className = 'error';
      next = 3000;
    }
    if (!signal.aborted) timer = setTimeout(tick, next);
  };
  signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  tick();
}

const PAGE = 50;
/** Polls while a job runs or is due; else slowly (new jobs, a back-off ending still show). */
const FAST_MS = 1000;
const SLOW_MS = 10_000;

/**
 * Worth a look every second: running, or queued and due (by this browser's clock; a skewed one
 * polls slowly, no worse). A job waiting out an hour's back-off is not.
 */
const busy = (j, now) => j.state === 'running' || (j.state === 'queued' && Date.parse(j.runAfter) <= now + FAST_MS);

/** What a row shows but its age (which changes every second and is updated by itself). */
const signature = (j) => JSON.stringify([j.state, j.progress, j.attempts, j.maxAttempts, j.lastError, describe(j)]);

function jobRow(j, act) {
  const button = j.state === 'queued' || j.state === 'running' ? h('button', { onclick: () => act(j, 'cancel'), ...needs(roleToAct(j)) }, 'Cancel')
    : j.state === 'failed' || j.state === 'canceled' ? h('button', { onclick: () => act(j, 'retry'), ...needs(roleToAct(j)) }, 'Retry') : '';
  return h('tr', { dataset: { id: j.id, sig: signature(j) } },
    h('td', {}, j.id), h('td', { title: describe(j) }, describe(j)), h('td', { className: `state-${j.state}` }, j.state),
    h('td', {}, j.progress?.total ? h('progress', { max: j.progress.total, value: (j.progress.completed ?? 0) + (j.progress.failed ?? 0) + (j.progress.warning ?? 0) }) : '', ' ', progressText(j.progress)),
    h('td', {}, `${j.attempts}/${j.maxAttempts}`), h('td', { title: j.lastError ?? '' }, j.state === 'succeeded' ? '' : (j.lastError ?? '')), h('td', { className: 'created' }, ago(j.createdAt)),
    h('td', {}, button));
}

/**
 * The list, refreshed in place: a row is rebuilt only when its job changed, and rows stay where
 * they are when their place did not change. Rebuilding the whole table every second (while any
 * job was queued, even one waiting out a back-off) closed what was open and lost clicks.
 */
export async function jobsPage(params, page) {
  const state = params.get('state') ?? '';
  const offset = offsetParam(params);
  const load = () => api(`/api/jobs${query({ state, limit: PAGE, offset })}`, { signal: page.signal });
  const first = await load();
  const filter = h('select', { 'aria-label': 'State', onchange: (e) => (location.hash = hashWith({ state: e.target.value, offset: '' })) },
    ['', 'queued', 'running', 'succeeded', 'failed', 'canceled'].map((s) => h('option', { value: s, selected: s === state }, s || 'all states')));
  const tbody = h('tbody');
  const none = h('tr', {}, h('td', { colspan: 8, className: 'muted' }, 'No job.'));
  const count = h('span', { className: 'muted' });
  const every = h('span', { className: 'muted', id: 'jobs-refresh' });
  const pagerBox = h('div');
  let ms = SLOW_MS;
  let timer = 0;
  let inFlight = false;
  let again = false;
  const show = (res) => {
    const had = new Map([...tbody.querySelectorAll('tr[data-id]')].map((tr) => [tr.dataset.id, tr]));
    const rows = res.items.map((j) => {
      const old = had.get(String(j.id));
      if (!old || old.dataset.sig !== signature(j)) return jobRow(j, act);
      const created = old.querySelector('td.created');
      if (created.textContent !== ago(j.createdAt)) created.textContent = ago(j.createdAt);
      return old;
    });
    if (!rows.length) rows.push(none);
    for (const [i, tr] of rows.entries()) if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
    while (tbody.children.length > rows.length) tbody.lastElementChild.remove();
    count.textContent = `${res.total} jobs, newest first`;
    const shape = `${res.items.length}/${res.total}`;
    if (pagerBox.dataset.shape !== shape) {
      pagerBox.dataset.shape = shape;
      pagerBox.replaceChildren(pager({ id: 'jobs-pager', offset, size: PAGE, shown: res.items.length, total: res.total, go: (o) => (location.hash = hashWith({ offset: o || '' })) }));
    }
    const now = Date.now();
    ms = res.items.some((j) => busy(j, now)) ? FAST_MS : SLOW_MS;
    every.textContent = `refreshed every ${ms / 1000} s`;
  };
  // One poll at a time: an action's refresh during a poll runs right after it.
  const refresh = async () => {
    clearTimeout(timer);
    if (inFlight) return void (again = true);
    inFlight = true;
    try {
      show(await load());
    } catch (e) {
      if (!page.signal.aborted) toast(`Could not refresh: ${e.message}`, 'error');
    }
    inFlight = false;
    if (page.signal.aborted) return;
    if (again) {
      again = false;
      return refresh();
    }
    timer = setTimeout(refresh, ms);
  };
  const act = async (j, what) => {
    try {
      await api(`/api/jobs/${j.id}/${what}`, { method: 'POST' });
      refresh();
    } catch (e) {
      toast(e.message, 'error');
    }
  };
  page.mount(
    h('h1', {}, 'Jobs'),
    h('div', { className: 'actions' }, filter, count, every),
    h('table', { id: 'jobs' }, h('thead', {}, h('tr', {}, ['#', 'What', 'State', 'Progress', 'Tries', 'Last error', 'Created', ''].map((t) => h('th', {}, t)))), tbody),
    pagerBox,
  );
  show(first);
  page.signal.addEventListener('abort', () => clearTimeout(timer));
  timer = setTimeout(refresh, ms);
}
