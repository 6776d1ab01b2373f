// Opening the archive for a command-line tool: the configuration from the usual layers and the
// command's options, a quiet logger (tools print their own summary; the log carries only
// warnings and worse, unless debugging was asked for).
import fs from 'node:fs';
import { type ArchiveParts, openArchive } from '../app.js';
import { type Config, loadConfig } from '../config/load.js';
import { createLogger } from '../core/logging.js';
import { type Parsed, archiveOverrides } from './args.js';

export function toolConfig(p: Parsed): Config {
  return loadConfig(archiveOverrides(p)).config;
}

export function openToolArchive(config: Config): Promise<ArchiveParts> {
  const level = config.logging.level === 'debug' || config.logging.level === 'trace' ? config.logging.level : 'warn';
  return openArchive(config, { logger: createLogger({ level }) });
}

/**
 * Why this configuration names no archive yet, or null: its storage directory is not a
 * directory, or its SQLite index file does not exist. For the tools that work on an archive
 * (verify, export, jobs): opening one where there is none made an empty archive and index there
 * — a mistyped --storage-dir was "0 problems", exit 0, and a new folder.
 */
export function missingArchive(config: Config, needsStorage = true): string | null {
  const isA = (path: string, kind: 'dir' | 'file'): boolean => {
    try {
      const st = fs.statSync(path);
      return kind === 'dir' ? st.isDirectory() : st.isFile();
    } catch {
      return false;
    }
  };
  if (needsStorage && !isA(config.storage.directory, 'dir')) return `storage.directory ${config.storage.directory} is not a directory (no archive there; --storage-dir or --config names one)`;
  if (!config.database.url && !isA(config.database.path, 'file')) return `database.path ${config.database.path} does not exist (no index there; --db or --config names one)`;
  return null;
}

/** openToolArchive for a tool that needs an archive already there (missingArchive); `needsStorage` false: the index only (pacs jobs). */
export function openExistingArchive(config: Config, needsStorage = true): Promise<ArchiveParts> {
  const missing = missingArchive(config, needsStorage);
  if (missing) return Promise.reject(new Error(missing));
  return openToolArchive(config);
}
