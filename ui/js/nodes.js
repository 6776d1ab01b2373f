// Known nodes: the configuration file's (read-only here) and those added on this page.
import { h, mount, toast } from './dom.js';
import { api } from './api.js';

export async function nodesPage() {
  const nodes = await api('/api/nodes');
  const form = h('form', { className: 'search', id: 'node-form' },
    h('label', {}, 'AE title', h('input', { name: 'ae', required: true, maxlength: 16, size: 16 })),
    h('label', {}, 'Host', h('input', { name: 'host', required: true, size: 20 })),
    h('label', {}, 'Port', h('input', { name: 'port', type: 'number', min: 1, max: 65535, required: true, value: 104 })),
    h('label', {}, 'Description', h('input', { name: 'description', size: 24 })),
    h('button', { className: 'primary', type: 'submit' }, 'Save node'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    try {
      await api(`/api/nodes/${encodeURIComponent(String(f.ae).trim())}`, { method: 'PUT', json: { host: f.host, port: Number(f.port), description: f.description } });
      toast(`Saved ${f.ae}.`);
      nodesPage();
    } catch (err) {
      toast(err.message, 'error');
    }
  });
  const echo = async (n, cell) => {
    cell.textContent = '…';
    try {
      const r = await api(`/api/nodes/${encodeURIComponent(n.ae_title)}/echo`, { method: 'POST' });
      cell.textContent = r.ok ? `OK (${r.ms} ms)` : r.error;
      cell.className = r.ok ? 'ok' : 'error';
    } catch (err) {
      cell.textContent = err.message;
      cell.className = 'error';
    }
  };
  const remove = async (n) => {
    if (!confirm(`Remove the node ${n.ae_title}?`)) return;
    try {
      await api(`/api/nodes/${encodeURIComponent(n.ae_title)}`, { method: 'DELETE' });
      nodesPage();
    } catch (err) {
      toast(err.message, 'error');
    }
  };
  mount(
    h('h1', {}, 'Known nodes'),
    h('table', { id: 'nodes' },
      h('thead', {}, h('tr', {}, ['AE title', 'Host', 'Port', 'Description', 'From', 'Echo', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, nodes.length ? nodes.map((n) => {
        const result = h('span', { className: 'muted' });
        return h('tr', { dataset: { ae: n.ae_title } }, h('td', {}, n.ae_title), h('td', {}, n.host), h('td', {}, n.port), h('td', {}, n.description), h('td', {}, n.source === 'config' ? 'config file' : 'this page'),
          h('td', {}, h('button', { onclick: () => echo(n, result) }, 'Echo'), ' ', result),
          h('td', {}, n.source === 'api' ? h('button', { className: 'danger', onclick: () => remove(n) }, 'Remove') : ''));
      }) : h('tr', {}, h('td', { colspan: 7, className: 'muted' }, 'No known node yet.')))),
    h('h2', {}, 'Add or change a node'), form);
}
