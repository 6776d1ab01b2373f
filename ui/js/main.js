// The router: #/ studies, #/study/UID, #/upload, #/nodes, #/jobs, #/status. A page may ask to
// be refreshed (status); leaving it stops that, and aborts what the page had under way.
import { studiesPage } from './studies.js';
import { studyPage } from './study.js';
import { uploadPage } from './upload.js';
import { nodesPage } from './nodes.js';
import { jobsPage } from './jobs.js';
import { statusPage } from './status.js';
import { worklistPage } from './worklist.js';
import { h, mount, pageContext, toast } from './dom.js';

let refreshTimer = 0;
/** Aborts the page shown last: its reads, its timers, its mount (dom.js pageContext). */
let leaving = new AbortController();
/** The page shown last and how often it asked to be refreshed (0: not). */
let shown = { hash: '', every: 0 };

async function route() {
  clearTimeout(refreshTimer);
  leaving.abort();
  leaving = new AbortController();
  const page = pageContext(leaving.signal);
  const left = () => page.signal.aborted;
  const hash = location.hash;
  const [path, search = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(search);
  const parts = (path || '/').split('/').filter(Boolean);
  const section = parts[0] ?? 'studies';
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (section === 'study' ? 'studies' : section));
  const pages = {
    studies: () => studiesPage(params, page),
    study: () => studyPage(decodeURIComponent(parts[1] ?? ''), page),
    upload: () => uploadPage(page),
    nodes: () => nodesPage(page),
    jobs: () => jobsPage(params, page),
    status: () => statusPage(page),
    worklist: () => worklistPage(params, page),
  };
  const show = pages[section] ?? pages.studies;
  const again = (ms) => (refreshTimer = setTimeout(() => left() || route(), ms));
  try {
    const r = await show();
    if (left()) return;
    shown = { hash, every: r?.refresh ?? 0 };
    if (r?.refresh) again(r.refresh);
  } catch (e) {
    if (left()) return;
    // A page that refreshes itself keeps at it after a failed poll (a restart, a network
    // hiccup): what it showed stays, the failure is said, and the next poll comes as usual.
    if (shown.hash === hash && shown.every) {
      toast(`Could not refresh: ${e.message}`, 'error');
      again(shown.every);
    } else {
      shown = { hash, every: 0 };
      mount(h('h1', {}, 'Something went wrong'), h('p', { className: 'error', id: 'page-error' }, e.message));
    }
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('pacs:reload', route);
route();
