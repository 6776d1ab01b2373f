// The router: #/ studies, #/study/UID, #/upload, #/nodes, #/jobs, #/status. Leaving a page
// aborts what it had under way (its reads, and the polls of the pages that refresh themselves
// in place: jobs, status).
import { studiesPage } from './studies.js';
import { studyPage } from './study.js';
import { uploadPage } from './upload.js';
import { nodesPage } from './nodes.js';
import { jobsPage } from './jobs.js';
import { statusPage } from './status.js';
import { worklistPage } from './worklist.js';
import { h, mount, pageContext, reloadPage, toast } from './dom.js';
import { loadMe, me } from './me.js';

/** Aborts the page shown last: its reads, its timers, its mount (dom.js pageContext). */
let leaving = new AbortController();

async function route() {
  leaving.abort();
  leaving = new AbortController();
  const page = pageContext(leaving.signal);
  const left = () => page.signal.aborted;
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
  try {
    await show();
  } catch (e) {
    if (left()) return;
    mount(h('h1', {}, 'Something went wrong'), h('p', { className: 'error', id: 'page-error' }, e.message));
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
