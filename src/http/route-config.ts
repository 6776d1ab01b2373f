// Per-route settings the web server's hooks read (fastify's route `config`).
import type { HttpRole } from '../config/schema.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who made the request, set by the authentication hook once the route's role is granted: for
     * handlers whose role depends on what the request acts on. On open routes (role none) the
     * caller if known (valid credentials, or the anonymous role), else null (open-caller.ts).
     */
    caller: { role: HttpRole; name: string | null } | null;
    /** The peer is a reverse proxy of http.trust_proxy: its forwarding headers are believed (proxy.ts). */
    viaTrustedProxy: boolean;
    /**
     * What a change did, for its audit entry beside the method, URL and status (set by the
     * handler): the value a PUT set, the node a PUT made, the job a POST queued and what it moves.
     */
    auditWhat: Record<string, unknown> | null;
  }
  interface FastifyContextConfig {
    /** The role a route needs when it is not the one its method implies (auth.ts roleForMethod). */
    role?: HttpRole;
    /** The route streams an upload body: it takes one of http.max_concurrent_uploads (upload-guard.ts). */
    upload?: boolean;
  }
}
