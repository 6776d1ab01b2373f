// Who is asking: the web page shows it and offers only what the server would let this caller do
// (a button that can only end in 403 is not shown as if it worked).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HTTP_ROLES } from '../../config/schema.js';
import { roleAllows } from '../auth.js';
import { sendProblem } from '../problem.js';
import type { ApiDeps } from './deps.js';
import '../route-config.js';

const meSchema = {
  type: 'object',
  properties: {
    name: { type: ['string', 'null'], description: 'the user (HTTP Basic) or token name; null without credentials' },
    role: { type: 'string', enum: [...HTTP_ROLES] },
    login: { type: 'boolean', description: 'true when the caller has no credentials and logging in as one of http.users would give a higher role' },
  },
} as const;

export function registerMe(app: FastifyInstance, deps: ApiDeps): void {
  app.get(
    '/me',
    {
      schema: {
        tags: ['status'],
        summary: 'Who is asking: name and role (login=1: 401 with WWW-Authenticate while a log-in would give more, so a browser asks for a user name and password)',
        querystring: { type: 'object', properties: { login: { type: 'integer', enum: [0, 1], default: 0 } } },
        response: { 200: meSchema },
      },
    },
    async (req: FastifyRequest<{ Querystring: { login: 0 | 1 } }>, reply) => {
      // Set by the authentication hook: this route needs read, as any GET, so here there is one.
      const caller = req.caller ?? { name: null, role: 'none' as const };
      const login = caller.name === null && deps.config().http.users.some((u) => !roleAllows(caller.role, u.role));
      if (req.query.login === 1 && login) {
        // Basic's challenge: a browser asks for credentials, sends this again with them, and
        // from then on sends them with its requests here.
        reply.header('www-authenticate', 'Basic realm="pacs-server", charset="UTF-8"');
        return sendProblem(reply, 401, 'log in as one of the server\'s users');
      }
      return { name: caller.name, role: caller.role, login };
    },
  );
}
