// Known nodes: the configuration file's (read-only here) and those added on this page. "Change"
// fills the form with a node's values, so saving keeps (or edits) its permissions and TLS; the
// form always sends every field.
import { h, toast, reloadPage } from './dom.js';
import { api } from './api.js';
import { needs } from './me.js';

const PERMISSIONS = ['store', 'find', 'move', 'get', 'worklist', 'mpps', 'commit'];

export async function nodesPage(page) {
  const nodes = await api('/api/nodes', { signal: page.signal });
  const form = h('form', { className: 'search', id: 'node-form' },
    h('label', {}, 'AE title', h('input', { name: 'ae', required: true, maxlength: 16, size: 16 })),
    h('label', {}, 'Host', h('input', { name: 'host', required: true, size: 20 })),
    h('label', {}, 'Port', h('input', { name: 'port', type: 'number', min: 1, max: 65535, required: true, value: 104 })),
    h('label', {}, 'Description', h('input', { name: 'description', size: 24 })),
    h('label', {}, 'TLS', h('input', { name: 'tls', type: 'checkbox' })),
    h('fieldset', { id: 'node-permissions' }, h('legend', {}, 'May ask us for'),
      PERMISSIONS.map((p) => h('label', {}, h('input', { type: 'checkbox', name: 'permissions', value: p, checked: true }), ` ${p}`))),
    h('button', { className: 'primary', type: 'submit', ...needs('admin') }, 'Save node'));
  const field = (name) => form.elements.namedItem(name);
  const fill = (n) => {
    field('ae').value = n.ae_title;
    field('host').value = n.host;
    field('port').value = n.port;
    field('description').value = n.description ?? '';
    field('tls').checked = Boolean(n.tls);
    for (const box of form.querySelectorAll('input[name=permissions]')) box.checked = (n.permissions ?? PERMISSIONS).includes(box.value);
  };
  // Typing the AE title of a node already added loads it, so a change starts from its values.
  field('ae').addEventListener('change', () => {
    const n = nodes.find((x) => x.source === 'api' && x.ae_title === field('ae').value.trim());
    if (n) fill(n);
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const ae = field('ae').value.trim();
    const body = {
      host: field('host').value.trim(),
      port: Number(field('port').value),
      description: field('description').value,
      tls: field('tls').checked,
      permissions: [...form.querySelectorAll('input[name=permissions]:checked')].map((b) => b.value),
    };
    try {
      await api(`/api/nodes/${encodeURIComponent(ae)}`, { method: 'PUT', json: body });
      toast(`Saved ${ae}.`);
      reloadPage();
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
      reloadPage();
    } catch (err) {
      toast(err.message, 'error');
    }
  };
  const change = (n) => {
    fill(n);
    form.scrollIntoView({ block: 'nearest' });
    field('host').focus();
  };
  page.mount(
    h('h1', {}, 'Known nodes'),
    h('table', { id: 'nodes' },
      h('thead', {}, h('tr', {}, ['AE title', 'Host', 'Port', 'TLS', 'May ask for', 'Description', 'From', 'Echo', ''].map((t) => h('th', {}, t)))),
      h('tbody', {}, nodes.length ? nodes.map((n) => {
        const result = h('span', { className: 'muted' });
        return h('tr', { dataset: { ae: n.ae_title } }, h('td', {}, n.ae_title), h('td', {}, n.host), h('td', {}, n.port), h('td', {}, n.tls ? 'yes' : 'no'),
          h('td', {}, (n.permissions ?? []).join(', ')), h('td', {}, n.description), h('td', {}, n.source === 'config' ? 'config file' : 'this page'),
          h('td', {}, h('button', { onclick: () => echo(n, result), ...needs('write') }, 'Echo'), ' ', result),
          h('td', {}, n.source === 'api' ? [h('button', { onclick: () => change(n), ...needs('admin') }, 'Change'), ' ', h('button', { className: 'danger', onclick: () => remove(n), ...needs('admin') }, 'Remove')] : ''));
      }) : h('tr', {}, h('td', { colspan: 9, className: 'muted' }, 'No known node yet.')))),
    h('h2', {}, 'Add or change a node'), form);
}
