// The router: #/ studies, #/study/UID, #/upload, #/nodes, #/jobs, #/status. A page may ask to
// be refreshed (status); leaving it stops that, and aborts what the page had under way.
import { studiesPage } from './studies.js';
import { studyPage } from './study.js';
import { uploadPage } from './upload.js';
import { nodesPage } from './nodes.js';
import { jobsPage } from './jobs.js';
import { statusPage } from './status.js';
import { worklistPage } from './worklist.js';
import { h, mount, pageContext, reloadPage, toast } from './dom.js';
import { loadMe, me } from './me.js';

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

/**
 * "Signed in as NAME (role)" or "anonymous (role)" in the header. When a log-in would give more,
 * "Log in" asks /api/me?login=1, which the server answers with a Basic challenge: the browser
 * asks for a user name and password, and sends them from then on.
 */
function showMe(error) {
  const el = document.getElementById('me');
  const who = me.role === null ? `who you are is unknown (${error})` : me.name === null ? `anonymous (${me.role})` : `Signed in as ${me.name} (${me.role})`;
  const logIn = async () => {
    try {
      await loadMe(true);
      showMe();
      reloadPage();
    } catch (e) {
      toast(`Not logged in: ${e.message}`, 'error');
    }
  };
  el.replaceChildren(h('span', { id: 'me-name' }, who), me.login ? h('button', { id: 'log-in', type: 'button', onclick: logIn, title: 'Your browser asks for a user name and password' }, 'Log in') : '');
}

async function start() {
  let error = '';
  try {
    await loadMe();
  } catch (e) {
    error = e.message;
  }
  showMe(error);
  window.addEventListener('hashchange', route);
  window.addEventListener('pacs:reload', route);
  route();
}

start();
