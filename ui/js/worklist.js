// The modality worklist: scheduled steps (filter by status, schedule one, cancel one) and the
// performed procedure steps modalities reported (MPPS). Both newest first, a page at a time:
// one list of the first 200, oldest first, never showed what came after them.
import { h, toast, personName, date, time, ago, reloadPage, offsetParam, pager, hashWith } from './dom.js';
import { api, query } from './api.js';
import { needs } from './me.js';

const PAGE = 50;
/** The steps still to be done, shown unless another status is chosen: what a person looks for. */
const OPEN = ['SCHEDULED', 'ARRIVED', 'READY', 'STARTED'];
const STATUSES = ['SCHEDULED', 'ARRIVED', 'READY', 'STARTED', 'DEPARTED', 'COMPLETED', 'DISCONTINUED', 'CANCELED'];

export async function worklistPage(params, page) {
  // status: absent for the open steps, "all", or one status.
  const status = params.get('status') ?? '';
  const offset = offsetParam(params);
  const mppsOffset = offsetParam(params, 'mppsOffset');
  const [entries, mpps] = await Promise.all([
    api(`/api/worklist${query({ status: status === 'all' ? '' : status || OPEN, limit: PAGE, offset })}`, { signal: page.signal }),
    api(`/api/mpps${query({ limit: PAGE, offset: mppsOffset })}`, { signal: page.signal }),
  ]);
  const filter = h('select', { id: 'worklist-status', 'aria-label': 'Status', onchange: (e) => (location.hash = hashWith({ status: e.target.value, offset: '' })) },
    h('option', { value: '', selected: status === '' }, 'to be done (scheduled, arrived, ready, started)'),
    h('option', { value: 'all', selected: status === 'all' }, 'all statuses'),
    STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)));
  const field = (label, name, extra = {}) => h('label', {}, label, h('input', { name, size: 12, ...extra }));
  const form = h('form', { className: 'search', id: 'worklist-form' },
    field('Patient ID', 'PatientID', { required: true }), field('Patient name', 'PatientName', { placeholder: 'FAMILY^GIVEN' }),
    field('Accession', 'AccessionNumber'), field('Modality', 'Modality', { required: true, size: 4, value: 'CT' }),
    field('Station AE', 'ScheduledStationAETitle', { maxlength: 16 }), field('Date', 'ScheduledProcedureStepStartDate', { required: true, placeholder: 'YYYYMMDD', pattern: '\\d{8}' }),
    field('Time', 'ScheduledProcedureStepStartTime', { placeholder: 'HHMM', size: 6 }), field('Description', 'RequestedProcedureDescription', { size: 20 }),
    h('button', { className: 'primary', type: 'submit', ...needs('write') }, 'Schedule'));
  // One step per submit: a second click (or Enter) while the first is under way scheduled it twice.
  let scheduling = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (scheduling) return;
    scheduling = true;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    const f = Object.fromEntries([...new FormData(form)].filter(([, v]) => v !== ''));
    try {
      await api('/api/worklist', { method: 'POST', json: f });
      toast('Scheduled');
      reloadPage();
    } catch (err) {
      toast(err.message, 'error');
    } finally {
      scheduling = false;
      button.disabled = false;
    }
  });
  const cancel = async (e) => {
    // Canceling tells the modalities the step is off; it cannot be undone from here.
    if (!confirm(`Cancel the step of ${personName(e.PatientName) || e.PatientID} (${e.Modality ?? ''} ${date(e.ScheduledProcedureStepStartDate)})? It leaves the worklist.`)) return;
    try {
      await api(`/api/worklist/${e.id}`, { method: 'DELETE' });
      reloadPage();
    } catch (err) {
      toast(err.message, 'error');
    }
  };
  const open = (s) => OPEN.includes(s);
  page.mount(
    h('h1', {}, 'Worklist'),
    h('div', { className: 'actions' }, filter, h('span', { className: 'muted' }, `${entries.total} entries, newest first`)),
    h('table', { id: 'worklist' },
      h('thead', {}, h('tr', {}, ['Patient', 'ID', 'Accession', 'Modality', 'Station', 'Scheduled', 'Description', 'Status', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, entries.items.length ? entries.items.map((e) =>
        h('tr', { dataset: { id: e.id } },
          h('td', {}, personName(e.PatientName)), h('td', {}, e.PatientID ?? ''), h('td', {}, e.AccessionNumber ?? ''), h('td', {}, e.Modality ?? ''),
          h('td', {}, e.ScheduledStationAETitle ?? ''), h('td', {}, `${date(e.ScheduledProcedureStepStartDate)} ${time(e.ScheduledProcedureStepStartTime)}`),
          h('td', {}, e.RequestedProcedureDescription ?? ''), h('td', { className: `state-${e.status.toLowerCase()}` }, e.status),
          h('td', {}, open(e.status) ? h('button', { onclick: () => cancel(e), ...needs('write') }, 'Cancel') : '')),
      ) : h('tr', {}, h('td', { colspan: 9, className: 'muted' }, 'No entry.')))),
    pager({ id: 'worklist-pager', offset, size: PAGE, shown: entries.items.length, total: entries.total, go: (o) => (location.hash = hashWith({ offset: o || '' })) }),
    h('h2', {}, 'Schedule a procedure step'), form,
    h('h2', {}, 'Performed procedure steps (MPPS)', h('span', { className: 'muted' }, ` — ${mpps.total}, latest change first`)),
    h('table', { id: 'mpps' },
      h('thead', {}, h('tr', {}, ['Patient', 'Modality', 'Station', 'Started', 'Ended', 'Status', 'Updated'].map((t) => h('th', {}, t)))),
      h('tbody', {}, mpps.items.length ? mpps.items.map((m) =>
        h('tr', { title: m.SOPInstanceUID },
          h('td', {}, `${personName(m.PatientName)} ${m.PatientID ?? ''}`), h('td', {}, m.Modality ?? ''), h('td', {}, m.PerformedStationAETitle ?? ''),
          h('td', {}, `${date(m.PerformedProcedureStepStartDate)} ${time(m.PerformedProcedureStepStartTime)}`),
          h('td', {}, `${date(m.PerformedProcedureStepEndDate)} ${time(m.PerformedProcedureStepEndTime)}`), h('td', {}, m.status), h('td', {}, ago(m.updatedAt))),
      ) : h('tr', {}, h('td', { colspan: 7, className: 'muted' }, 'No performed step reported yet.')))),
    pager({ id: 'mpps-pager', offset: mppsOffset, size: PAGE, shown: mpps.items.length, total: mpps.total, go: (o) => (location.hash = hashWith({ mppsOffset: o || '' })) }),
  );
}
