// Opening the archive for a command-line tool: the configuration from the usual layers and the
// command's options, a quiet logger (tools print their own summary; the log carries only
// warnings and worse, unless debugging was asked for).
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
