// What the server is doing: associations now, instances per second over the last minute,
// disk, jobs, the latest stores and errors. Refreshed in place every two seconds: the page is
// built once and its values and rows change under it (rebuilt whole, it lost the scroll
// position, a text being selected and a click on a row between two polls).
import { h, bytes, ago, personName, toast } from './dom.js';
import { api } from './api.js';

const EVERY_MS = 2000;

function spark(samples) {
  const max = Math.max(1, ...samples.map((s) => s.instances));
  const w = 300;
  const hgt = 40;
  const pts = samples.map((s, i) => `${((i / Math.max(1, samples.length - 1)) * w).toFixed(1)},${(hgt - (s.instances / max) * (hgt - 2)).toFixed(1)}`).join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('class', 'spark');
  svg.setAttribute('preserveAspectRatio', 'none');
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', pts);
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', '#1f6feb');
  line.setAttribute('stroke-width', '1.5');
  svg.append(line);
  return svg;
}

/** A card whose value and note change in place. */
function card(label) {
  const value = h('b');
  const extra = h('span', { className: 'muted' });
  return { el: h('div', { className: 'stat' }, h('span', { className: 'muted' }, label), value, extra), value, extra };
}

/** Sets a node's text only when it changed (no needless DOM work, a selection in it kept). */
const text = (el, t) => {
  const s = String(t);
  if (el.textContent !== s) el.textContent = s;
};

/** A table body whose rows are rebuilt only when what they show changed. */
function rows(tbody, items, sig, row, empty, columns) {
  const now = JSON.stringify(items.map(sig));
  if (tbody.dataset.sig === now) return false;
  tbody.dataset.sig = now;
  tbody.replaceChildren(...(items.length ? items.map(row) : [h('tr', {}, h('td', { colspan: columns, className: 'muted' }, empty))]));
  return true;
}

export async function statusPage(page) {
  const first = await api('/api/status', { signal: page.signal });
  const title = h('h1');
  const cards = {
    archive: card('Studies / instances'),
    associations: card('Associations now'),
    received: card('Received, last minute'),
    disk: card('Disk free'),
    jobs: card('Jobs'),
    up: card('Up since'),
  };
  // Rules on received instances waiting for one they cannot act on: said until it is mended.
  const held = h('p', { id: 'rules-held', className: 'error', hidden: true });
  const associations = h('tbody');
  const errors = h('tbody');
  const stores = h('tbody');
  // "5 s ago" moves on although the rows do not: those cells are updated on every poll.
  const agoCells = [];
  const when = (at) => {
    const td = h('td', { dataset: { at } }, ago(at));
    agoCells.push(td);
    return td;
  };

  const show = (s) => {
    text(title, `Status — ${s.aeTitle} on DICOM port ${s.dicomPort}`);
    text(cards.archive.value, `${s.statistics.studies} / ${s.statistics.instances}`);
    text(cards.archive.extra, bytes(s.statistics.bytes));
    text(cards.associations.value, s.associations.length);
    text(cards.received.value, `${s.throughput.lastMinute.instances} instances`);
    cards.received.extra.replaceChildren(spark(s.throughput.perSecond));
    const usedPct = s.disk.total ? Math.round((1 - s.disk.free / s.disk.total) * 100) : null;
    text(cards.disk.value, bytes(s.disk.free));
    text(cards.disk.extra, usedPct === null ? '' : `${usedPct}% used`);
    text(cards.jobs.value, `${s.jobs.running} running, ${s.jobs.queued} queued`);
    text(cards.jobs.extra, `${s.jobs.failed} failed`);
    cards.jobs.extra.className = s.jobs.failed ? 'error' : 'muted';
    const hb = s.rulesHeldBack;
    held.hidden = !hb;
    text(held, hb ? `Rules on received instances are held back since ${new Date(hb.since).toLocaleString()}${hb.sopInstanceUID ? ` by instance ${hb.sopInstanceUID}` : ''}: ${hb.reason}. They run again once it is readable or deleted.` : '');
    text(cards.up.value, new Date(s.startedAt).toLocaleString());
    text(cards.up.extra, `version ${s.version}`);

    const rebuilt = [
      rows(associations, s.associations, (a) => [a.callingAE, a.calledAE, a.remoteAddress, a.startedAt, a.bytesIn],
        (a) => h('tr', {}, h('td', {}, a.callingAE), h('td', {}, a.calledAE), h('td', {}, a.remoteAddress), when(a.startedAt), h('td', {}, bytes(a.bytesIn))), 'None.', 5),
      rows(errors, s.recentErrors, (e) => [e.at, e.kind, e.callingAE, e.message],
        (e) => h('tr', {}, when(e.at), h('td', {}, e.kind), h('td', {}, e.callingAE ?? ''), h('td', { className: 'error', title: e.message }, e.message)), 'None.', 4),
      rows(stores, s.recentStores, (r) => [r.at, r.studyInstanceUID, r.patientName, r.size],
        (r) => h('tr', { className: 'link', onclick: () => (location.hash = `#/study/${r.studyInstanceUID}`) }, when(r.at), h('td', {}, h('a', { href: `#/study/${r.studyInstanceUID}` }, personName(r.patientName) || '(no name)')), h('td', {}, r.modality ?? ''), h('td', {}, r.callingAE ?? ''), h('td', {}, r.source), h('td', {}, bytes(r.size))),
        'Nothing received since the start.', 6),
    ];
    // Cells of rows rebuilt are gone; the others' "ago" moves on.
    if (rebuilt.some(Boolean)) agoCells.splice(0, agoCells.length, ...agoCells.filter((td) => td.isConnected));
    for (const td of agoCells) text(td, ago(td.dataset.at));
  };

  page.mount(
    title,
    held,
    h('div', { className: 'cards', id: 'status-cards' }, ...Object.values(cards).map((c) => c.el)),
    h('h2', {}, 'Associations now'),
    h('table', { id: 'associations' }, h('thead', {}, h('tr', {}, ['Calling AE', 'Called AE', 'Address', 'Since', 'Received'].map((t) => h('th', {}, t)))), associations),
    h('h2', {}, 'Recent errors'),
    h('table', { id: 'errors' }, h('thead', {}, h('tr', {}, ['When', 'What', 'From', 'Detail'].map((t) => h('th', {}, t)))), errors),
    h('h2', {}, 'Recent stores'),
    h('table', { id: 'stores' }, h('thead', {}, h('tr', {}, ['When', 'Patient', 'Modality', 'From', 'Via', 'Size'].map((t) => h('th', {}, t)))), stores),
  );
  show(first);

  // A failed poll (a restart, a network hiccup) is said; what is shown stays, and polling goes on.
  let timer = 0;
  const poll = async () => {
    try {
      show(await api('/api/status', { signal: page.signal }));
    } catch (e) {
      if (page.signal.aborted) return;
      toast(`Could not refresh: ${e.message}`, 'error');
    }
    if (!page.signal.aborted) timer = setTimeout(poll, EVERY_MS);
  };
  page.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  timer = setTimeout(poll, EVERY_MS);
}
