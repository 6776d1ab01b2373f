// Composition of retention: the rules from the configuration, the archive's volume, and the
// caches derived from each instance (metadata, thumbnails) to forget.
import type { ArchiveParts } from './app.js';
import type { JobService } from './services/jobs.js';
import { RetentionService } from './services/retention.js';

export function setupRetention(archive: ArchiveParts, jobs: JobService): RetentionService {
  return new RetentionService(
    {
      index: archive.index,
      objects: archive.objects,
      derived: archive.derived,
      exclusive: (uid, fn) => archive.store.exclusive(uid, fn),
      logger: archive.logger.child({ component: 'retention' }),
      events: archive.events,
      settings: () => {
        const r = archive.config().retention;
        return {
          maxAgeDays: r.max_age_days,
          maxBytes: r.max_bytes,
          maxUsagePercent: r.max_usage_percent,
          minAgeHours: r.min_age_hours,
          keepProtected: r.keep_protected,
          intervalMinutes: r.check_interval_minutes,
        };
      },
      diskUsage: () => archive.objects.diskUsage(),
    },
    jobs,
  );
}
