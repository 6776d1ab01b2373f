// Per-route settings the web server's hooks read (fastify's route `config`).
import type { HttpRole } from '../config/schema.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route needs when it is not the one its method implies (auth.ts roleForMethod). */
    role?: HttpRole;
  }
}
