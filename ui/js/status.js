// What the server is doing: associations now, instances per second over the last minute,
// disk, jobs, the latest stores and errors. Refreshes itself every two seconds.
import { h, bytes, ago, personName } from './dom.js';
import { api } from './api.js';

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

const stat = (label, value, extra) => h('div', { className: 'stat' }, h('span', { className: 'muted' }, label), h('b', {}, value), extra ?? '');

export async function statusPage(page) {
  const s = await api('/api/status', { signal: page.signal });
  const usedPct = s.disk.total ? Math.round((1 - s.disk.free / s.disk.total) * 100) : null;
  page.mount(
    h('h1', {}, `Status — ${s.aeTitle} on DICOM port ${s.dicomPort}`),
    h('div', { className: 'cards', id: 'status-cards' },
      stat('Studies / instances', `${s.statistics.studies} / ${s.statistics.instances}`, h('span', { className: 'muted' }, bytes(s.statistics.bytes))),
      stat('Associations now', s.associations.length),
      stat('Received, last minute', `${s.throughput.lastMinute.instances} instances`, spark(s.throughput.perSecond)),
      stat('Disk free', bytes(s.disk.free), h('span', { className: 'muted' }, usedPct === null ? '' : `${usedPct}% used`)),
      stat('Jobs', `${s.jobs.running} running, ${s.jobs.queued} queued`, h('span', { className: s.jobs.failed ? 'error' : 'muted' }, `${s.jobs.failed} failed`)),
      stat('Up since', new Date(s.startedAt).toLocaleString(), h('span', { className: 'muted' }, `version ${s.version}`)),
    ),
    h('h2', {}, 'Associations now'),
    h('table', { id: 'associations' }, h('thead', {}, h('tr', {}, ['Calling AE', 'Called AE', 'Address', 'Since', 'Received'].map((t) => h('th', {}, t)))),
      h('tbody', {}, s.associations.length ? s.associations.map((a) => h('tr', {}, h('td', {}, a.callingAE), h('td', {}, a.calledAE), h('td', {}, a.remoteAddress), h('td', {}, ago(a.startedAt)), h('td', {}, bytes(a.bytesIn))))
        : h('tr', {}, h('td', { colspan: 5, className: 'muted' }, 'None.')))),
    h('h2', {}, 'Recent errors'),
    h('table', { id: 'errors' }, h('thead', {}, h('tr', {}, ['When', 'What', 'From', 'Detail'].map((t) => h('th', {}, t)))),
      h('tbody', {}, s.recentErrors.length ? s.recentErrors.map((e) => h('tr', {}, h('td', {}, ago(e.at)), h('td', {}, e.kind), h('td', {}, e.callingAE ?? ''), h('td', { className: 'error', title: e.message }, e.message)))
        : h('tr', {}, h('td', { colspan: 4, className: 'muted' }, 'None.')))),
    h('h2', {}, 'Recent stores'),
    h('table', { id: 'stores' }, h('thead', {}, h('tr', {}, ['When', 'Patient', 'Modality', 'From', 'Via', 'Size'].map((t) => h('th', {}, t)))),
      h('tbody', {}, s.recentStores.length ? s.recentStores.map((r) => h('tr', { className: 'link', onclick: () => (location.hash = `#/study/${r.studyInstanceUID}`) }, h('td', {}, ago(r.at)), h('td', {}, personName(r.patientName)), h('td', {}, r.modality ?? ''), h('td', {}, r.callingAE ?? ''), h('td', {}, r.source), h('td', {}, bytes(r.size))))
        : h('tr', {}, h('td', { colspan: 6, className: 'muted' }, 'Nothing received since the start.')))),
  );
  return { refresh: 2000 };
}
