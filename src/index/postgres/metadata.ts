// Prepared WADO-RS metadata texts on PostgreSQL (table instance_metadata, migration 9).
import type { MetadataTextStore } from '../metadata.js';
import type { PgTransact } from './db.js';

export class PgMetadataStore implements MetadataTextStore {
  constructor(private readonly transact: PgTransact) {}

  get(uid: string): Promise<string | null> {
    return this.transact('read', async (db) => (await db.query<{ text: string }>('SELECT text FROM instance_metadata WHERE sop_instance_uid = $1', [uid])).rows[0]?.text ?? null);
  }

  getMany(uids: readonly string[]): Promise<Map<string, string>> {
    return this.transact('read', async (db) => {
      const rows = (await db.query<{ sop_instance_uid: string; text: string }>('SELECT sop_instance_uid, text FROM instance_metadata WHERE sop_instance_uid = ANY($1::text[])', [uids])).rows;
      return new Map(rows.map((r) => [r.sop_instance_uid, r.text]));
    });
  }

  async put(uid: string, text: string): Promise<void> {
    await this.transact('write', (db) =>
      // Only for an instance the index holds, whose row it locks (FOR KEY SHARE) until this commits:
      // a delete waits for it, and the delete's removal of the text, which comes after, sees it.
      db.query(
        'INSERT INTO instance_metadata (sop_instance_uid, text) SELECT $1, $2 FROM instances WHERE sop_instance_uid = $1 FOR KEY SHARE ON CONFLICT (sop_instance_uid) DO UPDATE SET text = excluded.text',
        [uid, text],
      ),
    );
  }

  async remove(uid: string): Promise<void> {
    await this.transact('write', (db) => db.query('DELETE FROM instance_metadata WHERE sop_instance_uid = $1', [uid]));
  }
}
