// The index contract (and its query half) on PostgreSQL, each test in a schema of its own.
import { runIndexContract } from './index-contract.js';
import { openPostgres, withPostgres } from './backends.js';

withPostgres('ArchiveIndex contract: PostgreSQL', (url) => runIndexContract('PostgreSQL', () => openPostgres(url)));
