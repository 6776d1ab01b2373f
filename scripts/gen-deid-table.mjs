#!/usr/bin/env node
// Generates src/dicom/deid-table.generated.ts, the attribute actions of PS3.15 Table E.1-1
// (Basic Application Level Confidentiality Profile and its options), from three sources, each
// newer one replacing the rows it has and adding those it alone has:
//   1. innolitics/dicom-standard's standard/confidentiality_profile_attributes.json (MIT licence;
//      extracted from the standard's HTML; its 2024e table);
//   2. idiscore/_public_dicom.py of sjoerdk/idiscore (a scrape of the edition online on the date
//      its docstring gives), optional: the newest scrape with every option column;
//   3. scripts/standard/deid-table-additions.json (checked in): rows of a later edition than
//      both, added by hand, with the edition they come from.
// Only the data is used: the tag, the Basic Profile action and the option columns.
//   git show <commit>:standard/confidentiality_profile_attributes.json > table.json
//   git show <commit>:idiscore/_public_dicom.py > public_dicom.py
//   node scripts/gen-deid-table.mjs table.json <commit> [public_dicom.py <commit>]
// The run prints every row a newer source adds or changes: review them.
import { readFileSync, writeFileSync } from 'node:fs';

const [file, commit = 'unknown', scrapeFile, scrapeCommit = 'unknown'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: gen-deid-table.mjs confidentiality_profile_attributes.json <commit> [_public_dicom.py <commit>]\n');
  process.exit(2);
}

/** Our option names (src/dicom/deid-types.ts), in the order the table prints them. */
const OPTION_NAMES = ['safePrivate', 'uids', 'device', 'institution', 'patient', 'fullDates', 'modifiedDates', 'descriptors', 'structured', 'graphics'];
const ACTIONS = new Set(['D', 'Z', 'X', 'K', 'C', 'U', 'Z/D', 'X/Z', 'X/D', 'X/Z/D', 'X/Z/U*']);

/** tag "(GGGG,EEEE)" upper case → { name, basic, options }. */
const rows = new Map();
const changes = [];
const put = (tag, name, basic, options, source) => {
  if (!ACTIONS.has(basic) || Object.values(options).some((a) => !ACTIONS.has(a))) throw new Error(`${source}: ${tag} has an action not in Table E.1-1a`);
  const before = rows.get(tag);
  const row = { name: before && /^unknown$/i.test(name) ? before.name : name, basic, options };
  if (before && JSON.stringify([before.basic, before.options]) === JSON.stringify([basic, options])) return;
  changes.push(`${source}: ${tag} ${row.name}: ${before ? `${before.basic} ${JSON.stringify(before.options)} → ` : 'added '}${basic} ${JSON.stringify(options)}`);
  rows.set(tag, row);
};

// --- 1. innolitics ---------------------------------------------------------------------------
const INNOLITICS_COLUMNS = {
  rtnSafePrivOpt: 'safePrivate',
  rtnUIDsOpt: 'uids',
  rtnDevIdOpt: 'device',
  rtnInstIdOpt: 'institution',
  rtnPatCharsOpt: 'patient',
  rtnLongFullDatesOpt: 'fullDates',
  rtnLongModifDatesOpt: 'modifiedDates',
  cleanDescOpt: 'descriptors',
  cleanStructContOpt: 'structured',
  cleanGraphOpt: 'graphics',
};
for (const r of JSON.parse(readFileSync(file, 'utf8'))) {
  const tag = r.tag.toUpperCase();
  if (!/^\([0-9A-FX]{4},[0-9A-FX]{4}\)$/.test(tag)) continue; // "(GGGG,EEEE) WHERE GGGG IS ODD": private attributes, handled in code
  const options = {};
  for (const [k, name] of Object.entries(INNOLITICS_COLUMNS)) if (r[k]) options[name] = r[k];
  rows.set(tag, { name: r.name, basic: r.basicProfile, options });
}
const counts = [`${rows.size} rows from innolitics`];

// --- 2. idiscore's scrape --------------------------------------------------------------------
let scrapeDate = null;
if (scrapeFile) {
  const text = readFileSync(scrapeFile, 'utf8');
  scrapeDate = /scrape date:\s*(\d{4}-\d{2}-\d{2})/.exec(text)?.[1];
  if (!scrapeDate) throw new Error(`${scrapeFile}: no "scrape date" in its docstring`);
  // Each rule set is "name = RawNemaRuleSet(... code="1131xx" ... rules=[...])": the Basic
  // Profile (113100) and one per option; a rule is (SingleTag("ggggeeee"), ActionCodes.NAME).
  const CODES = { '113100': 'basic', '113111': 'safePrivate', '113110': 'uids', '113109': 'device', '113112': 'institution', '113108': 'patient', '113106': 'fullDates', '113107': 'modifiedDates', '113105': 'descriptors', '113104': 'structured', '113103': 'graphics' };
  const ACTION_CODES = { DUMMY: 'D', EMPTY: 'Z', REMOVE: 'X', KEEP: 'K', CLEAN: 'C', UID: 'U', EMPTY_OR_DUMMY: 'Z/D', REMOVE_OR_EMPTY: 'X/Z', REMOVE_OR_DUMMY: 'X/D', REMOVE_OR_EMPTY_OR_DUMMY: 'X/Z/D', REMOVE_OR_EMPTY_OR_UID: 'X/Z/U*' };
  const sets = text.split(/^\w+ = RawNemaRuleSet\(/m).slice(1);
  const scraped = new Map();
  for (const body of sets) {
    const code = /code="(\d+)"/.exec(body)?.[1];
    const column = code && CODES[code];
    if (!column) throw new Error(`${scrapeFile}: a rule set of unknown code ${code}`);
    for (const m of body.matchAll(/\(\s*(SingleTag|RepeatingGroup)\("([0-9a-fA-Fx]{8})"\)\s*,\s*ActionCodes\.(\w+)\s*,?\s*\)\s*,?(?:[ \t]*#[ \t]*(.*))?/g)) {
      const [, , hex, code, comment = ''] = m;
      const action = ACTION_CODES[code];
      if (!action) throw new Error(`${scrapeFile}: unknown action ${code}`);
      const tag = `(${hex.slice(0, 4)},${hex.slice(4)})`.toUpperCase();
      const row = scraped.get(tag) ?? { name: comment.trim() || 'Unknown', basic: undefined, options: {} };
      if (column === 'basic') row.basic = action;
      else row.options[column] = action;
      scraped.set(tag, row);
    }
  }
  for (const [tag, r] of scraped) {
    if (!r.basic) throw new Error(`${scrapeFile}: ${tag} has option actions but no Basic Profile action`);
    put(tag, r.name, r.basic, Object.fromEntries(OPTION_NAMES.filter((o) => r.options[o]).map((o) => [o, r.options[o]])), 'idiscore');
  }
  counts.push(`${scraped.size} rows scraped`);
}

// --- 3. rows of a later edition, by hand ----------------------------------------------------
const additions = JSON.parse(readFileSync(new URL('./standard/deid-table-additions.json', import.meta.url), 'utf8'));
for (const r of additions.rows) {
  put(r.tag.toUpperCase(), r.name, r.basicProfile, Object.fromEntries(OPTION_NAMES.filter((o) => r[o]).map((o) => [o, r[o]])), `additions (${additions.edition})`);
}
counts.push(`${additions.rows.length} rows added by hand (${additions.edition})`);

// --- output ----------------------------------------------------------------------------------
// A scrape names a row it has no name for "Unknown": the dictionary's keyword says which it is.
const keywords = new Map(
  [...readFileSync(new URL('../src/dicom/dictionary.generated.ts', import.meta.url), 'utf8').matchAll(/^([0-9A-F]{8}) \S+ \S+ (\w+)/gm)].map((m) => [m[1], m[2]]),
);
const exact = [];
const repeating = [];
for (const [tag, r] of rows) {
  const opts = OPTION_NAMES.filter((o) => r.options[o]).map((o) => `${o}: '${r.options[o]}'`).join(', ');
  const spec = tag.replace(/[(),]/g, '');
  const name = /^unknown$/i.test(r.name) ? (keywords.get(spec) ?? r.name) : r.name;
  const comment = ` // ${name.replace(/[^\x20-\x7e]/g, '?')}`;
  if (spec.includes('X')) {
    const mask = spec.replace(/[0-9A-F]/g, 'F').replace(/X/g, '0');
    const value = spec.replace(/X/g, '0');
    repeating.push(`  [0x${mask}, 0x${value}, '${r.basic}', { ${opts} }],${comment}`);
  } else {
    exact.push(`  [0x${spec}, '${r.basic}', { ${opts} }],${comment}`);
  }
}
exact.sort();
repeating.sort();
const sources = [
  `innolitics/dicom-standard standard/confidentiality_profile_attributes.json at ${commit} (MIT licence)`,
  ...(scrapeFile ? [`sjoerdk/idiscore idiscore/_public_dicom.py at ${scrapeCommit}, scraped ${scrapeDate} from the edition then online`] : []),
  `scripts/standard/deid-table-additions.json: ${additions.rows.length} rows of the ${additions.edition} edition added by hand`,
];
const out = `// GENERATED by scripts/gen-deid-table.mjs: do not edit. The attribute actions of PS3.15
// Table E.1-1 (Basic Application Level Confidentiality Profile and options), merged from (each
// later source replacing or adding rows):
${sources.map((s) => `//   - ${s}`).join('\n')}
// Actions: D dummy, Z zero-length or dummy, X remove, K keep, C clean, U replace UID; X/Z, X/D,
// X/Z/D, Z/D, X/Z/U* as the standard defines.
import type { ProfileOptions } from './deid-types.js';

/** The editions the table follows, for the docs and the De-identification Method. */
export const TABLE_SOURCE = ${JSON.stringify(scrapeFile ? `PS3.15 Table E.1-1 as online on ${scrapeDate}, with rows of ${additions.edition}` : `PS3.15 2024e Table E.1-1, with rows of ${additions.edition}`)};

export const ATTRIBUTE_ACTIONS: ReadonlyArray<readonly [tag: number, basic: string, options: ProfileOptions]> = [
${exact.join('\n')}
];

/** Repeating groups: (tag & mask) === value. */
export const REPEATING_ACTIONS: ReadonlyArray<readonly [mask: number, value: number, basic: string, options: ProfileOptions]> = [
${repeating.join('\n')}
];
`;
writeFileSync(new URL('../src/dicom/deid-table.generated.ts', import.meta.url), out);
for (const c of changes) process.stdout.write(`${c}\n`);
process.stdout.write(`${counts.join(', ')}: ${exact.length} attributes, ${repeating.length} repeating groups\n`);
