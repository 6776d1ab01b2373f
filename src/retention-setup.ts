// Composition of retention: the rules from the configuration, the archive's volume from
// statfs, and the caches derived from each instance (metadata, thumbnails) to forget.
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArchiveParts } from './app.js';
import type { JobService } from './services/jobs.js';
import { RetentionService } from './services/retention.js';
import { FsImageCache } from './storage/image-cache.js';

export function setupRetention(archive: ArchiveParts, jobs: JobService): RetentionService {
  const dir = archive.config().storage.directory;
  const thumbnails = new FsImageCache(join(dir, '.thumbnails'));
  return new RetentionService(
    {
      index: archive.index,
      objects: archive.objects,
      derived: [archive.metadata, { forget: (uid) => thumbnails.removeInstance(uid) }],
      logger: archive.logger.child({ component: 'retention' }),
      events: archive.events,
      settings: () => {
        const r = archive.config().retention;
        return { maxAgeDays: r.max_age_days, maxBytes: r.max_bytes, maxUsagePercent: r.max_usage_percent, keepProtected: r.keep_protected, intervalMinutes: r.check_interval_minutes };
      },
      diskUsage: async () => {
        const s = await statfs(dir);
        return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
      },
    },
    jobs,
  );
}
