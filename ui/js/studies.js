// The study list: search on the attributes people know (name, ID, accession, description,
// date range, modality), newest first, 50 a page. Every search is one indexed query on the
// server, so it stays fast with 100,000 studies; the form lives in the URL (back button works).
import { h, personName, date, multi, reloadPage } from './dom.js';
import { api, query } from './api.js';

const PAGE = 50;
const FIELDS = [
  ['name', 'Patient name', 'text'],
  ['id', 'Patient ID', 'text'],
  ['accession', 'Accession', 'text'],
  ['description', 'Description', 'text'],
  ['from', 'From', 'date'],
  ['to', 'To', 'date'],
  ['modality', 'Modality', 'text'],
];

/**
 * What a person types, as DICOM matching (server side; names ignore case and accents): names, descriptions
 * and IDs match from their start, which the index answers from its order; a value with * or ?
 * is taken as typed, so "contains" is for who asks for it (*son*). A * put before every name
 * and description made each such search a full scan.
 */
function toDicom(f) {
  const wild = (v) => (v ? (/[*?]/.test(v) ? v : `${v}*`) : '');
  // A name as the list shows it, "Family, Given": the comma is DICOM's ^ (a name copied from the
  // list, or typed so, found nothing). One written with ^ is taken as it is.
  const name = (v) => (v && !v.includes('^') ? v.replace(/\s*,\s*/, '^') : v);
  const da = (v) => (v ? v.replaceAll('-', '') : '');
  const range = f.from || f.to ? `${da(f.from)}-${da(f.to)}` : '';
  return {
    PatientName: wild(name(f.name)),
    PatientID: wild(f.id),
    AccessionNumber: f.accession ?? '',
    StudyDescription: wild(f.description),
    StudyDate: range,
    ModalitiesInStudy: (f.modality ?? '').toUpperCase(),
  };
}

/** To `hash`, or — the page already there (the same search again, Clear on an empty form) — the page read again: setting the same hash fires nothing. */
function goTo(hash) {
  if (location.hash === hash || (hash === '#/' && location.hash === '')) reloadPage();
  else location.hash = hash;
}

export async function studiesPage(params, page) {
  const form = h('form', { className: 'search', id: 'study-search' },
    FIELDS.map(([name, label, type]) => h('label', {}, label, h('input', { name, type, value: params.get(name) ?? '', size: type === 'text' ? 14 : undefined, 'aria-label': label }))),
    h('button', { className: 'primary', type: 'submit' }, 'Search'),
    h('button', { type: 'button', onclick: () => goTo('#/') }, 'Clear'),
    h('span', { className: 'muted hint', id: 'search-hint' }, 'Names, IDs and descriptions match from their start (smi finds Smith; a name as Family, Given); names ignore case and accents, IDs and descriptions do not; * and ? are wildcards (*son* finds Johnson).'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, String(v));
    goTo(`#/?${q}`);
  });
  const offset = Number(params.get('offset') ?? 0);
  const body = h('tbody', {}, h('tr', {}, h('td', { colspan: 9, className: 'muted' }, 'Loading…')));
  const pager = h('div', { className: 'pager' });
  page.mount(h('h1', {}, 'Studies'), form,
    h('table', { id: 'studies' },
      h('thead', {}, h('tr', {}, ['Patient name', 'Patient ID', 'Birth date', 'Study date', 'Description', 'Modalities', 'Accession', 'Series', 'Instances'].map((t) => h('th', {}, t)))),
      body),
    pager);
  const f = Object.fromEntries(params);
  let res;
  try {
    res = await api(`/api/studies${query({ ...toDicom(f), limit: PAGE, offset })}`, { signal: page.signal });
  } catch (e) {
    if (page.signal.aborted) throw e;
    // Said in the table, under the form: a refused search (a bad date, a wildcard the server
    // refuses) replaced the whole page, form included, and the search could not be corrected.
    body.replaceChildren(h('tr', {}, h('td', { colspan: 9, className: 'error', id: 'studies-error' }, e.message)));
    return;
  }
  body.replaceChildren(
    ...(res.items.length
      ? res.items.map((s) =>
          h('tr', { className: 'link', dataset: { uid: s.StudyInstanceUID }, onclick: () => (location.hash = `#/study/${s.StudyInstanceUID}`) },
            // A link as well as the row's click: reached with Tab, opened with Enter.
            h('td', {}, h('a', { href: `#/study/${s.StudyInstanceUID}` }, personName(s.PatientName) || '(no name)')), h('td', {}, s.PatientID), h('td', {}, date(s.PatientBirthDate)), h('td', {}, date(s.StudyDate)),
            h('td', { title: s.StudyDescription ?? '' }, s.StudyDescription ?? ''), h('td', {}, multi(s.ModalitiesInStudy)), h('td', {}, s.AccessionNumber ?? ''),
            h('td', {}, s.NumberOfStudyRelatedSeries), h('td', {}, s.NumberOfStudyRelatedInstances)))
      : [h('tr', {}, h('td', { colspan: 9, className: 'muted' }, 'No study matches.'))]),
  );
  const go = (o) => {
    const q = new URLSearchParams(params);
    q.set('offset', String(Math.max(0, o)));
    location.hash = `#/?${q}`;
  };
  const last = offset + res.items.length;
  pager.replaceChildren(
    h('button', { disabled: offset === 0, onclick: () => go(offset - PAGE) }, '‹ Previous'),
    h('span', { id: 'count' }, res.items.length ? `${offset + 1}–${last}${res.total !== null ? ` of ${res.total}` : res.more ? ' and more' : ''}` : ''),
    h('button', { disabled: !res.more, onclick: () => go(offset + PAGE) }, 'Next ›'),
  );
}
