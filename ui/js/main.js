// The router: #/ studies, #/study/UID, #/upload, #/nodes, #/jobs, #/status. A page may ask to
// be refreshed (status, running jobs); leaving it stops that.
import { studiesPage } from './studies.js';
import { studyPage } from './study.js';
import { uploadPage } from './upload.js';
import { nodesPage } from './nodes.js';
import { jobsPage } from './jobs.js';
import { statusPage } from './status.js';
import { worklistPage } from './worklist.js';
import { h, mount } from './dom.js';

let refreshTimer = 0;
let generation = 0;

async function route() {
  clearTimeout(refreshTimer);
  const mine = ++generation;
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(search);
  const parts = (path || '/').split('/').filter(Boolean);
  const section = parts[0] ?? 'studies';
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (section === 'study' ? 'studies' : section));
  const pages = {
    studies: () => studiesPage(params),
    study: () => studyPage(decodeURIComponent(parts[1] ?? '')),
    upload: () => uploadPage(),
    nodes: () => nodesPage(),
    jobs: () => jobsPage(params),
    status: () => statusPage(),
    worklist: () => worklistPage(params),
  };
  const page = pages[section] ?? pages.studies;
  try {
    const r = await page();
    if (r?.refresh && mine === generation) refreshTimer = setTimeout(() => mine === generation && route(), r.refresh);
  } catch (e) {
    if (mine === generation) mount(h('h1', {}, 'Something went wrong'), h('p', { className: 'error', id: 'page-error' }, e.message));
  }
}

window.addEventListener('hashchange', route);
route();
