// Upload by drag and drop (or a file picker, folders included): each file is one POST to
// /api/instances through the store pipeline, a few at a time, each with its progress bar.
import { h, toast } from './dom.js';
import { may, needs } from './me.js';

const AT_ONCE = 3;

/**
 * The entries of a drop. Read while the drop event is dispatched: a DataTransfer's items are
 * emptied when its handler returns. A dropped folder is in dataTransfer.files only as one empty
 * "file", so folders are walked through their entries (webkitGetAsEntry, in every browser).
 */
export function droppedEntries(dataTransfer) {
  return [...(dataTransfer.items ?? [])].filter((i) => i.kind === 'file').map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
}

/** Every file under these entries, with its path, folders walked to the bottom. */
export async function walkEntries(entries, prefix = '') {
  const out = [];
  for (const entry of entries) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ file, name: `${prefix}${entry.name}` });
    } else if (entry.isDirectory) {
      // readEntries answers in batches (100 at a time in Chromium): read until it answers none.
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        out.push(...(await walkEntries(batch, `${prefix}${entry.name}/`)));
      }
    }
  }
  return out;
}

const named = (files) => [...files].map((f) => ({ file: f, name: f.webkitRelativePath || f.name }));

/** Tries of a file the server answers 503 (busy: http.max_concurrent_uploads, or out of room). */
const TRIES = 10;

function uploadOne(file, bar, status, tries = TRIES) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/instances');
    xhr.setRequestHeader('content-type', 'application/dicom');
    xhr.upload.onprogress = (e) => e.lengthComputable && (bar.value = e.loaded / e.total);
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON: shown as the status text */
      }
      // Busy: the file goes again after the wait the server asks for.
      if (xhr.status === 503 && tries > 1) {
        const wait = Math.min(60, Number(xhr.getResponseHeader('retry-after')) || 5);
        bar.value = 0;
        status.textContent = `server busy, trying again in ${wait} s`;
        setTimeout(() => resolve(uploadOne(file, bar, status, tries - 1)), wait * 1000);
        return;
      }
      const ok = xhr.status === 201;
      bar.value = 1;
      status.textContent = ok ? 'stored' : (body.detail ?? `${xhr.status} ${xhr.statusText}`);
      status.className = ok ? 'ok' : 'error';
      resolve(ok);
    };
    // Status 0: no answer came, the connection ended first (a server that refused the file
    // mid-way used to close it before its 413 was written; a server or proxy going away).
    xhr.onerror = () => {
      status.textContent = 'connection closed by the server before it answered';
      status.className = 'error';
      resolve(false);
    };
    xhr.send(file);
  });
}

export function uploadPage(page) {
  const rows = h('tbody', { id: 'uploads' });
  const summary = h('p', { id: 'upload-summary', className: 'muted' });
  // items: { file, name } (name: the path shown).
  const start = async (items) => {
    const list = items.filter((i) => i.file.size > 0);
    if (!list.length) return;
    const jobs = list.map(({ file, name }) => {
      const bar = h('progress', { max: 1, value: 0 });
      const status = h('span', { className: 'muted' }, 'waiting');
      rows.append(h('tr', {}, h('td', { title: name }, name), h('td', {}, bar), h('td', {}, status)));
      return () => uploadOne(file, bar, status);
    });
    let ok = 0;
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) if (await jobs[next++]()) ok++;
    };
    await Promise.all(Array.from({ length: Math.min(AT_ONCE, jobs.length) }, worker));
    summary.textContent = `${ok} of ${list.length} files stored.`;
    toast(summary.textContent, ok === list.length ? 'info' : 'error');
  };
  const picker = h('input', { type: 'file', multiple: true, id: 'file-input', onchange: (e) => start(named(e.target.files)), ...needs('write') });
  const folder = h('input', { type: 'file', multiple: true, webkitdirectory: true, onchange: (e) => start(named(e.target.files)), ...needs('write') });
  const drop = h('div', { className: 'drop', id: 'drop' },
    may('write') ? h('p', {}, 'Drop DICOM files here') : h('p', { className: 'error', id: 'upload-denied' }, needs('write').title),
    h('p', {}, 'or choose files ', picker, ' or a folder ', folder));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    if (!may('write')) return toast(needs('write').title, 'error');
    const entries = droppedEntries(e.dataTransfer);
    const files = entries.length ? walkEntries(entries) : Promise.resolve(named(e.dataTransfer.files));
    files.then(start).catch((err) => toast(`Cannot read what was dropped: ${err.message}`, 'error'));
  });
  page.mount(h('h1', {}, 'Upload'), drop, summary, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'File'), h('th', {}, 'Progress'), h('th', {}, 'Result'))), rows));
}
