// The job queue: sends, pulls, the research rules' exports, forwards and commands, with progress, cancel, retry.
import { h, toast, ago, reloadPage, offsetParam, pager, hashWith } from './dom.js';
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

/** Shows a job's state in `el` until it ends. */
export function watchJob(id, el) {
  const tick = async () => {
    try {
      const j = await api(`/api/jobs/${id}`);
      el.textContent = `job ${id}: ${j.state} ${progressText(j.progress)}${j.lastError && j.state !== 'succeeded' ? ` — ${j.lastError}` : ''}`;
      el.className = `state-${j.state}`;
      if (j.state === 'queued' || j.state === 'running') setTimeout(tick, 500);
    } catch (e) {
      el.textContent = e.message;
    }
  };
  tick();
}

const PAGE = 50;

export async function jobsPage(params, page) {
  const state = params.get('state') ?? '';
  const offset = offsetParam(params);
  const res = await api(`/api/jobs${query({ state, limit: PAGE, offset })}`, { signal: page.signal });
  const filter = h('select', { 'aria-label': 'State', onchange: (e) => (location.hash = hashWith({ state: e.target.value, offset: '' })) },
    ['', 'queued', 'running', 'succeeded', 'failed', 'canceled'].map((s) => h('option', { value: s, selected: s === state }, s || 'all states')));
  const act = async (j, what) => {
    try {
      await api(`/api/jobs/${j.id}/${what}`, { method: 'POST' });
      reloadPage();
    } catch (e) {
      toast(e.message, 'error');
    }
  };
  page.mount(
    h('h1', {}, 'Jobs'),
    h('div', { className: 'actions' }, filter, h('span', { className: 'muted' }, `${res.total} jobs`)),
    h('table', { id: 'jobs' },
      h('thead', {}, h('tr', {}, ['#', 'What', 'State', 'Progress', 'Tries', 'Last error', 'Created', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, res.items.length ? res.items.map((j) =>
        h('tr', { dataset: { id: j.id } },
          h('td', {}, j.id), h('td', { title: describe(j) }, describe(j)), h('td', { className: `state-${j.state}` }, j.state),
          h('td', {}, j.progress?.total ? h('progress', { max: j.progress.total, value: (j.progress.completed ?? 0) + (j.progress.failed ?? 0) + (j.progress.warning ?? 0) }) : '', ' ', progressText(j.progress)),
          h('td', {}, `${j.attempts}/${j.maxAttempts}`), h('td', { title: j.lastError ?? '' }, j.state === 'succeeded' ? '' : (j.lastError ?? '')), h('td', {}, ago(j.createdAt)),
          h('td', {}, j.state === 'queued' || j.state === 'running' ? h('button', { onclick: () => act(j, 'cancel'), ...needs(roleToAct(j)) }, 'Cancel') : j.state === 'failed' || j.state === 'canceled' ? h('button', { onclick: () => act(j, 'retry'), ...needs(roleToAct(j)) }, 'Retry') : '')),
      ) : h('tr', {}, h('td', { colspan: 8, className: 'muted' }, 'No job.')))),
    pager({ id: 'jobs-pager', offset, size: PAGE, shown: res.items.length, total: res.total, go: (o) => (location.hash = hashWith({ offset: o || '' })) }),
  );
  if (res.items.some((j) => j.state === 'queued' || j.state === 'running')) return { refresh: 1000 };
}
