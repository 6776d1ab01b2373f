// Upload by drag and drop (or a file picker, folders included): each file is one POST to
// /api/instances through the store pipeline, a few at a time, each with its progress bar.
import { h, mount, toast } from './dom.js';

const AT_ONCE = 3;

function uploadOne(file, bar, status) {
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
      const ok = xhr.status === 201;
      bar.value = 1;
      status.textContent = ok ? 'stored' : (body.detail ?? `${xhr.status} ${xhr.statusText}`);
      status.className = ok ? 'ok' : 'error';
      resolve(ok);
    };
    xhr.onerror = () => {
      status.textContent = 'network error';
      status.className = 'error';
      resolve(false);
    };
    xhr.send(file);
  });
}

export function uploadPage() {
  const rows = h('tbody', { id: 'uploads' });
  const summary = h('p', { id: 'upload-summary', className: 'muted' });
  const start = async (files) => {
    const list = [...files].filter((f) => f.size > 0);
    if (!list.length) return;
    const jobs = list.map((f) => {
      const bar = h('progress', { max: 1, value: 0 });
      const status = h('span', { className: 'muted' }, 'waiting');
      rows.append(h('tr', {}, h('td', { title: f.webkitRelativePath || f.name }, f.webkitRelativePath || f.name), h('td', {}, bar), h('td', {}, status)));
      return () => uploadOne(f, bar, status);
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
  const picker = h('input', { type: 'file', multiple: true, id: 'file-input', onchange: (e) => start(e.target.files) });
  const folder = h('input', { type: 'file', multiple: true, webkitdirectory: true, onchange: (e) => start(e.target.files) });
  const drop = h('div', { className: 'drop', id: 'drop' }, h('p', {}, 'Drop DICOM files here'), h('p', {}, 'or choose files ', picker, ' or a folder ', folder));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    start(e.dataTransfer.files);
  });
  mount(h('h1', {}, 'Upload'), drop, summary, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'File'), h('th', {}, 'Progress'), h('th', {}, 'Result'))), rows));
}
