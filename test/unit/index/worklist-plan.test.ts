// The worklist look-ups of an MPPS (sqlite/workflow.ts findByStep) read only the entries they
// name: a step naming no SPS ID, only its Study Instance UID or Accession Number, read every
// entry ever kept (every HL7 order) before migration 17 gave those columns indexes.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-wl-plan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('an MPPS finds its worklist entries by study or accession through indexes, not by reading them all', async () => {
  const index = SqliteIndex.open({ path: join(dir, 'i.db'), walMode: true });
  await index.migrate();
  try {
    const plan = (sql: string, n: number): string =>
      (index.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...Array<string>(n).fill('x')) as { detail: string }[]).map((r) => r.detail).join(' | ');
    const byStudy = plan('SELECT * FROM worklist_entries WHERE study_instance_uid = ? OR accession_number = ? ORDER BY pk', 2);
    assert.match(byStudy, /USING INDEX worklist_study/);
    assert.match(byStudy, /USING INDEX worklist_accession/);
    assert.doesNotMatch(byStudy, /SCAN worklist_entries/);
    assert.doesNotMatch(plan('SELECT * FROM worklist_entries WHERE sps_id = ? AND (study_instance_uid = ? OR accession_number = ?) ORDER BY pk', 3), /SCAN worklist_entries/);
    // And a sweep for MPPS follow-ups owed reads only those (a partial index of the few owed).
    assert.match(plan('SELECT * FROM mpps_instances WHERE follow_up_at <= ? ORDER BY follow_up_at LIMIT 50', 1), /USING INDEX mpps_follow_up/);
  } finally {
    await index.close();
  }
});
