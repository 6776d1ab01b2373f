// One study: its main attributes, a thumbnail per series, and what can be done with it: open
// in the viewer, send to a known node (a job, with its progress), delete (after confirming).
import { h, toast, personName, date, time, multi, bytes } from './dom.js';
import { api } from './api.js';
import { watchJob } from './jobs.js';
import { needs } from './me.js';

export async function studyPage(uid, page) {
  page.mount(h('p', { className: 'muted' }, 'Loading…'));
  // The nodes' failure is kept to be said: taken for "no node", it had the user told to add one.
  const [s, nodes] = await Promise.all([
    api(`/api/studies/${encodeURIComponent(uid)}`, { signal: page.signal }),
    api('/api/nodes', { signal: page.signal }).then((list) => ({ list }), (error) => ({ list: [], error })),
  ]);
  const attrs = [
    ['Patient', `${personName(s.PatientName)} (${s.PatientID || 'no ID'})`],
    ['Birth date / sex', `${date(s.PatientBirthDate)} ${s.PatientSex ?? ''}`],
    ['Study date', `${date(s.StudyDate)} ${time(s.StudyTime)}`],
    ['Description', s.StudyDescription ?? ''],
    ['Accession number', s.AccessionNumber ?? ''],
    ['Referring physician', personName(s.ReferringPhysicianName)],
    ['Modalities', multi(s.ModalitiesInStudy)],
    ['Series / instances', `${s.NumberOfStudyRelatedSeries} / ${s.NumberOfStudyRelatedInstances}`],
    ['Study Instance UID', s.StudyInstanceUID],
  ];
  const node = h('select', { id: 'send-node', 'aria-label': 'Node to send to' },
    nodes.list.length ? nodes.list.map((n) => h('option', { value: n.ae_title }, `${n.ae_title} (${n.host}:${n.port})`)) : h('option', { value: '' }, nodes.error ? 'nodes not available' : 'no known node'));
  const sendState = h('span', { id: 'send-state', className: nodes.error ? 'error' : 'muted' }, nodes.error ? `Cannot list the known nodes: ${nodes.error.message}` : '');
  const sendButton = h('button', { id: 'send', ...(nodes.error ? { disabled: true, title: 'The known nodes could not be listed' } : needs('write')) }, 'Send');
  /** Runs `act` with `button` disabled: a second click while the first is under way made a second job. */
  const once = (button, act) => async () => {
    button.disabled = true;
    try {
      await act();
    } finally {
      button.disabled = false;
    }
  };
  sendButton.addEventListener('click', once(sendButton, async () => {
    if (!node.value) return toast('Add a node first (Nodes page).', 'error');
    try {
      const job = await api('/api/send', { method: 'POST', json: { destination: node.value, level: 'STUDY', uids: [uid] } });
      watchJob(job.id, sendState, page.signal);
    } catch (e) {
      toast(e.message, 'error');
    }
  }));
  const deleteButton = h('button', { id: 'delete', className: 'danger', ...needs('admin') }, 'Delete study');
  deleteButton.addEventListener('click', once(deleteButton, async () => {
    if (!confirm(`Delete this study (${s.NumberOfStudyRelatedInstances} instances of ${personName(s.PatientName) || s.PatientID})? This cannot be undone.`)) return;
    try {
      const r = await api(`/api/studies/${encodeURIComponent(uid)}`, { method: 'DELETE' });
      // Files whose rows are gone but that could not be unlinked: the server removes them at
      // its next start. Said, not reported as a clean delete.
      const left = r.leftFiles?.length ?? 0;
      const them = left === 1 ? 'it' : 'them';
      toast(`Deleted ${r.deleted} instances (${bytes(r.bytes)}).${left ? ` ${left} file${left === 1 ? '' : 's'} could not be removed from the storage: the server removes ${them} at its next start (its log names ${them}).` : ''}`, left ? 'error' : 'info');
      location.hash = '#/';
    } catch (e) {
      toast(e.message, 'error');
    }
  }));
  page.mount(
    h('h1', {}, personName(s.PatientName) || s.PatientID || 'Study', h('span', { className: 'muted' }, ` — ${s.StudyDescription ?? ''} ${date(s.StudyDate)}`)),
    h('div', { className: 'actions' },
      h('a', { href: `/viewer/viewer?StudyInstanceUIDs=${encodeURIComponent(uid)}`, target: '_blank', rel: 'noopener', id: 'open-viewer' }, h('button', { className: 'primary', type: 'button' }, 'Open in viewer')),
      node, sendButton, sendState, deleteButton),
    h('dl', { className: 'attrs' }, attrs.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('h2', {}, 'Series'),
    h('div', { className: 'grid', id: 'series' },
      s.series.map((se) => {
        const thumb = `/dicom-web/studies/${encodeURIComponent(uid)}/series/${encodeURIComponent(se.SeriesInstanceUID)}/thumbnail?viewport=256,256`;
        const img = h('img', { src: thumb, alt: `Series ${se.SeriesNumber ?? ''} ${se.SeriesDescription ?? ''}`, loading: 'lazy' });
        img.addEventListener('error', () => img.replaceWith(h('div', { className: 'noimg' }, se.Modality === 'SR' ? 'report' : 'no preview')));
        return h('div', { className: 'card', dataset: { uid: se.SeriesInstanceUID } },
          h('a', { href: `/viewer/viewer?StudyInstanceUIDs=${encodeURIComponent(uid)}&SeriesInstanceUIDs=${encodeURIComponent(se.SeriesInstanceUID)}`, target: '_blank', rel: 'noopener' }, img),
          h('div', { className: 'title', title: se.SeriesDescription ?? '' }, `${se.SeriesNumber ?? '–'} · ${se.SeriesDescription ?? se.Modality ?? ''}`),
          h('div', { className: 'muted' }, `${se.Modality ?? ''} · ${se.NumberOfSeriesRelatedInstances} instances`));
      })),
  );
}
