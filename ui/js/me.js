// Who uses the page (GET /api/me, read once at start), so that what the server would refuse them
// is not offered as if it worked: an action needing a role they lack is disabled, its title
// naming the role (every button used to show for everyone and end in 403).
import { api } from './api.js';

const RANK = { none: 0, read: 1, write: 2, admin: 3 };

/** name: null without credentials; role: null while unknown (/api/me failed: the server still decides). */
export const me = { name: null, role: null, login: false };

export async function loadMe(login = false) {
  const r = await api(`/api/me${login ? '?login=1' : ''}`);
  Object.assign(me, { name: r.name, role: r.role, login: r.login });
}

export const may = (role) => me.role === null || RANK[me.role] >= RANK[role];

/** Attributes for h(): disabled with a title saying which role it needs, when the user lacks it. */
export const needs = (role) => (may(role) ? {} : { disabled: true, title: `Needs the ${role} role${me.login ? ' (Log in)' : ''}` });

/**
 * The role that may cancel or retry a job, as the server's roleToAct (src/http/api/jobs.ts):
 * write for the sends and pulls of the API, admin for what an administrator set up (a rule's
 * jobs, retention, forwards, commitment reports, plugins').
 */
export const roleToAct = (job) => ((job.type === 'send' || job.type === 'pull') && job.payload?.rule === undefined ? 'write' : 'admin');
