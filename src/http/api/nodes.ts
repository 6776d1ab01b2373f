// Known nodes: list, add, change, remove, C-ECHO. Nodes of the configuration file are listed
// with source "config" and cannot be changed here (409): the file stays the truth for them.
// A node is checked as the configuration file's are (config/schema.ts), so the API cannot keep
// one that a restart with the same node in the file would refuse.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PERMISSIONS, aeTitleSchema, isHostSyntax } from '../../config/schema.js';
import { echoNode } from '../../services/echo.js';
import type { KnownNodeView } from '../../services/nodes.js';
import { badRequest, notFound } from '../problem.js';
import type { ApiDeps } from './deps.js';

const AE_PATTERN = '^[ -[\\]-~]{1,16}$'; // 16 characters of the default repertoire, no backslash (for OpenAPI; aeTitle() decides)

/** The AE title of a path, trimmed, as config's aeTitleSchema takes it (all spaces is no title). */
function aeTitle(raw: string): string {
  const r = aeTitleSchema.safeParse(raw);
  if (!r.success) throw badRequest(`ae: ${r.error.issues[0]?.message ?? 'not an AE title'}: '${raw}'`);
  return r.data;
}

const nodeSchema = {
  type: 'object',
  properties: {
    ae_title: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'integer' },
    tls: { type: 'boolean' },
    permissions: { type: 'array', items: { type: 'string' } },
    description: { type: 'string' },
    source: { type: 'string', enum: ['config', 'api'] },
  },
} as const;

// No defaults here: a field left out of a change keeps the node's value (the page's form once sent
// only host, port and description, and a default reset permissions to all and tls to false).
const nodeBody = {
  type: 'object',
  additionalProperties: false,
  description: 'A new node needs host and port (tls defaults to false, permissions to all, description to empty); a change keeps what it leaves out.',
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 253 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    tls: { type: 'boolean' },
    permissions: { type: 'array', items: { type: 'string', enum: [...PERMISSIONS] }, uniqueItems: true },
    description: { type: 'string', maxLength: 1000 },
  },
} as const;

const aeParam = { type: 'object', required: ['ae'], properties: { ae: { type: 'string', pattern: AE_PATTERN } } } as const;

interface NodeBody {
  host?: string;
  port?: number;
  tls?: boolean;
  permissions?: string[];
  description?: string;
}

export function registerNodes(app: FastifyInstance, deps: ApiDeps): void {
  type Req = FastifyRequest<{ Params: { ae: string }; Body: NodeBody }>;
  // `view` to show a node; `find` to connect to it (with its TLS options: it fails when the node
  // speaks TLS but tls.enabled is off, which showing the node must not).
  const found = async (ae: string, lookup: (ae: string) => Promise<KnownNodeView | null>) => {
    const node = await lookup(aeTitle(ae));
    if (!node) throw notFound(`no known node ${ae}`);
    return node;
  };
  const find = (ae: string) => found(ae, (a) => deps.nodes.view(a));
  const connectable = (ae: string) => found(ae, (a) => deps.nodes.find(a));

  app.get('/nodes', { schema: { tags: ['nodes'], summary: 'List the known nodes', response: { 200: { type: 'array', items: nodeSchema } } } }, () => deps.nodes.list());
  app.get('/nodes/:ae', { schema: { tags: ['nodes'], summary: 'One known node', params: aeParam, response: { 200: nodeSchema } } }, (req: Req) => find(req.params.ae));
  app.put(
    '/nodes/:ae',
    { config: { role: 'admin' }, schema: { tags: ['nodes'], summary: 'Add or change a known node', params: aeParam, body: nodeBody, response: { 200: nodeSchema, 201: nodeSchema } } },
    async (req: Req, reply) => {
      const ae = aeTitle(req.params.ae);
      const b = req.body;
      if (b.host !== undefined && !isHostSyntax(b.host)) throw badRequest(`host: expected an IP address or a host name: '${b.host}'`);
      // Read, then written: two changes of one node at once keep the later one whole, as before.
      const old = await deps.nodes.view(ae);
      const host = b.host ?? old?.host;
      const port = b.port ?? old?.port;
      if (host === undefined || port === undefined) throw badRequest(`a new node needs host and port`);
      const node = {
        ae_title: ae,
        host,
        port,
        tls: b.tls ?? old?.tls ?? false,
        permissions: b.permissions ?? old?.permissions ?? [...PERMISSIONS],
        description: b.description ?? old?.description ?? '',
      };
      req.auditWhat = { node };
      const { created } = await deps.nodes.put(node);
      return reply.code(created ? 201 : 200).send(await find(ae));
    },
  );
  app.delete('/nodes/:ae', { config: { role: 'admin' }, schema: { tags: ['nodes'], summary: 'Remove a known node', params: aeParam } }, async (req: Req, reply) => {
    if (!(await deps.nodes.remove(aeTitle(req.params.ae)))) throw notFound(`no known node ${req.params.ae}`);
    return reply.code(204).send();
  });
  app.post(
    '/nodes/:ae/echo',
    {
      config: { role: 'write' },
      schema: {
        tags: ['nodes'],
        summary: 'C-ECHO the node',
        params: aeParam,
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' }, status: { type: ['integer', 'null'] }, ms: { type: 'integer' }, error: { type: ['string', 'null'] } } } },
      },
    },
    async (req: Req) => echoNode(await connectable(req.params.ae), deps.config().server.ae_title),
  );
}
