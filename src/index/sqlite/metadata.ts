// Prepared WADO-RS metadata texts on SQLite (table instance_metadata, migration 7).
import type Database from 'better-sqlite3';
import type { MetadataTextStore } from '../metadata.js';
import type { Transact } from './jobs.js';

export class SqliteMetadataStore implements MetadataTextStore {
  private readonly s;

  constructor(
    db: Database.Database,
    private readonly transact: Transact,
  ) {
    this.s = {
      get: db.prepare<[string], string>('SELECT text FROM instance_metadata WHERE sop_instance_uid = ?').pluck(),
      // The UIDs as one JSON array: one statement however many instances a series has.
      getMany: db.prepare<[string], { sop_instance_uid: string; text: string }>(
        'SELECT sop_instance_uid, text FROM instance_metadata WHERE sop_instance_uid IN (SELECT value FROM json_each(?))',
      ),
      // Only for an instance the index holds: a text made while the instance was being deleted
      // (read before, put after the delete removed its text) is not kept for nothing.
      put: db.prepare<{ uid: string; text: string }>(
        'INSERT INTO instance_metadata (sop_instance_uid, text) SELECT @uid, @text WHERE EXISTS (SELECT 1 FROM instances WHERE sop_instance_uid = @uid) ON CONFLICT (sop_instance_uid) DO UPDATE SET text = excluded.text',
      ),
      remove: db.prepare<[string]>('DELETE FROM instance_metadata WHERE sop_instance_uid = ?'),
    };
  }

  get(uid: string): Promise<string | null> {
    return this.transact('read', () => this.s.get.get(uid) ?? null);
  }

  getMany(uids: readonly string[]): Promise<Map<string, string>> {
    return this.transact('read', () => new Map(this.s.getMany.all(JSON.stringify(uids)).map((r) => [r.sop_instance_uid, r.text])));
  }

  async put(uid: string, text: string): Promise<void> {
    // A cache: lost in a crash, it is made again from the file on first use.
    await this.transact('cache', () => this.s.put.run({ uid, text }));
  }

  async remove(uid: string): Promise<void> {
    await this.transact('write', () => this.s.remove.run(uid));
  }
}
