// Known nodes added at run time, on PostgreSQL (shared by every server of the cluster).
import type { NodeStore, StoredNode } from '../nodes.js';
import type { PgTransact } from './db.js';
import { type NodeRow, toNode } from '../row-maps.js';

export class PgNodeStore implements NodeStore {
  constructor(private readonly transact: PgTransact) {}

  list(): Promise<StoredNode[]> {
    return this.transact('read', async (db) => (await db.query<NodeRow>('SELECT * FROM known_nodes ORDER BY ae_title')).rows.map(toNode));
  }

  get(aeTitle: string): Promise<StoredNode | null> {
    return this.transact('read', async (db) => {
      const r = (await db.query<NodeRow>('SELECT * FROM known_nodes WHERE ae_title = $1', [aeTitle])).rows[0];
      return r ? toNode(r) : null;
    });
  }

  put(n: StoredNode): Promise<{ created: boolean }> {
    // xmax = 0 only on a row this statement inserted: one statement tells new from replaced,
    // with no window for another server between a lookup and the write.
    return this.transact('write', async (db) => {
      const r = await db.query<{ created: boolean }>(
        `INSERT INTO known_nodes (ae_title, host, port, tls, permissions, description, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (ae_title) DO UPDATE SET host = excluded.host, port = excluded.port,
         tls = excluded.tls, permissions = excluded.permissions, description = excluded.description, updated_at = excluded.updated_at
         RETURNING (xmax = 0) AS created`,
        [n.ae_title, n.host, n.port, n.tls ? 1 : 0, JSON.stringify(n.permissions), n.description, Date.now()],
      );
      return { created: r.rows[0]?.created === true };
    });
  }

  remove(aeTitle: string): Promise<boolean> {
    return this.transact('write', async (db) => (await db.query('DELETE FROM known_nodes WHERE ae_title = $1', [aeTitle])).rowCount > 0);
  }
}
