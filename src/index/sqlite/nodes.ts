// Known nodes added at run time, on SQLite.
import type Database from 'better-sqlite3';
import type { NodeStore, StoredNode } from '../nodes.js';
import type { Transact } from './jobs.js';
import { type NodeRow, toNode } from '../row-maps.js';

export class SqliteNodeStore implements NodeStore {
  private readonly s;

  constructor(
    db: Database.Database,
    private readonly transact: Transact,
  ) {
    this.s = {
      list: db.prepare<[], NodeRow>('SELECT * FROM known_nodes ORDER BY ae_title'),
      get: db.prepare<[string], NodeRow>('SELECT * FROM known_nodes WHERE ae_title = ?'),
      upsert: db.prepare(`INSERT INTO known_nodes (ae_title, host, port, tls, permissions, description, created_at, updated_at)
        VALUES (@ae, @host, @port, @tls, @permissions, @description, @now, @now) ON CONFLICT (ae_title) DO UPDATE SET host = @host,
        port = @port, tls = @tls, permissions = @permissions, description = @description, updated_at = @now`),
      remove: db.prepare<[string]>('DELETE FROM known_nodes WHERE ae_title = ?'),
    };
  }

  list(): Promise<StoredNode[]> {
    return this.transact('read', () => this.s.list.all().map(toNode));
  }

  get(aeTitle: string): Promise<StoredNode | null> {
    return this.transact('read', () => {
      const r = this.s.get.get(aeTitle);
      return r ? toNode(r) : null;
    });
  }

  put(n: StoredNode): Promise<{ created: boolean }> {
    return this.transact('write', () => {
      const created = this.s.get.get(n.ae_title) === undefined;
      this.s.upsert.run({ ae: n.ae_title, host: n.host, port: n.port, tls: n.tls ? 1 : 0, permissions: JSON.stringify(n.permissions), description: n.description, now: Date.now() });
      return { created };
    });
  }

  remove(aeTitle: string): Promise<boolean> {
    return this.transact('write', () => this.s.remove.run(aeTitle).changes > 0);
  }
}
