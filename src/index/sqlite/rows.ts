// The row mappings are shared with the PostgreSQL backend (../rows.ts); kept here for imports.
export * from '../rows.js';
