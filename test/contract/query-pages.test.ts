// Keyset paging of query answers (src/index/query/pages.ts, keyset.ts) on every backend: the
// pages, read one after the other, are the answer read at once — in the same order, nothing
// twice, nothing left out — at every level, with NULLs and equal values in the ordered
// columns, series numbers ordered as integers, newest first, and with a limit.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { queryPages } from '../../src/index/query/pages.js';
import type { IndexQuery } from '../../src/index/query/types.js';
import type { InstanceRecord } from '../../src/index/types.js';
import { BACKENDS } from './backends.js';
import { record } from './fixtures.js';

const DATES = ['20240102', null, '20240102', '20231231', null, '20240315', '20240102'];
const TIMES = ['101500', null, '090000', '101500', '120000', null, '101500'];
const SERIES_NUMBERS = ['9', '10', null, '2', '10'];

function records(): InstanceRecord[] {
  const out: InstanceRecord[] = [];
  DATES.forEach((date, s) => {
    const study = `8.${s + 1}`;
    for (let se = 0; se < 1 + (s % 3); se++) {
      const series = `${study}.${se + 1}`;
      for (let i = 0; i < 1 + ((s + se) % 2); i++) {
        const r = record({ sop: `${series}.${i + 1}`, study, series, patientId: `PG${s % 3}` });
        out.push({
          ...r,
          study: { ...r.study, StudyDate: date, StudyTime: TIMES[s] ?? null },
          series: { ...r.series, SeriesNumber: SERIES_NUMBERS[(s + se) % SERIES_NUMBERS.length] ?? null },
          instance: { ...r.instance, InstanceNumber: i % 2 === 0 ? String(3 - i) : null },
        });
      }
    }
  });
  return out;
}

const uidOf = (level: IndexQuery['level']): string => ({ PATIENT: 'PatientID', STUDY: 'StudyInstanceUID', SERIES: 'SeriesInstanceUID', IMAGE: 'SOPInstanceUID' })[level];

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`query answers in pages (${backend.name})`, () => {
    test('pages read in turn are the answer read at once, at every level, newest first, with a limit', async () => {
      const index = await (await fresh())();
      try {
        for (const r of records()) await index.storeInstance(r, 'insert');
        for (const level of ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'] as const) {
          for (const [newestFirst, keyOrder] of [[false, false], [true, false], [false, true]] as const) {
            const query: IndexQuery = { level, model: 'PATIENT_ROOT', relational: true, keys: [{ keyword: uidOf(level), value: '' }], newestFirst, keyOrder };
            const whole = (await index.query(query)).map((r) => r[uidOf(level)]);
            assert.ok(whole.length >= 3, `${level}: ${whole.length} rows`);
            for (const size of [1, 2, 3, 50]) {
              const paged: unknown[] = [];
              let pages = 0;
              for await (const page of queryPages(index, query, size)) {
                assert.ok(page.length <= size);
                paged.push(...page.map((r) => r[uidOf(level)]));
                pages++;
              }
              assert.deepEqual(paged, whole, `${level}${newestFirst ? ' newest first' : ''}, pages of ${size}`);
              assert.equal(pages, Math.ceil(whole.length / size), 'no empty page');
            }
            const limited: unknown[] = [];
            for await (const page of queryPages(index, { ...query, limit: whole.length - 1 }, 2)) limited.push(...page.map((r) => r[uidOf(level)]));
            assert.deepEqual(limited, whole.slice(0, whole.length - 1), `${level}: the limit kept`);
            const skipped: unknown[] = [];
            for await (const page of queryPages(index, { ...query, offset: 2 }, 2)) skipped.push(...page.map((r) => r[uidOf(level)]));
            assert.deepEqual(skipped, whole.slice(2), `${level}: the offset skips once`);
          }
        }
        // With keys: only the matches, paged.
        const query: IndexQuery = { level: 'IMAGE', model: 'STUDY_ROOT', relational: true, keys: [{ keyword: 'PatientID', value: 'PG1' }, { keyword: 'SOPInstanceUID', value: '' }] };
        const whole = (await index.query(query)).map((r) => r.SOPInstanceUID);
        const paged: unknown[] = [];
        for await (const page of queryPages(index, query, 2)) paged.push(...page.map((r) => r.SOPInstanceUID));
        assert.deepEqual(paged, whole);
        await assert.rejects(index.query({ ...query, after: ['x'] }), /page position has 1 values/);
      } finally {
        await index.close();
      }
    });
  });
});
