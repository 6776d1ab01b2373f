// What the REST API needs: the DICOMweb services plus the administrative ones.
import type { DicomwebDeps } from '../dicomweb/deps.js';
import type { NodeDirectory } from '../../services/nodes.js';
import type { JobService } from '../../services/jobs.js';
import type { ActivityMonitor } from '../../services/activity.js';
import type { Logger } from '../../core/logging.js';
import type { Metrics } from '../../core/metrics.js';
import type { AuditEntry } from '../../core/events.js';
import type { WorklistService } from '../../services/worklist.js';
import type { MppsService } from '../../services/mpps.js';
import type { RulesHeldBack } from '../../services/received-rules.js';

/** An association open now, as the status page lists it. */
export interface ActiveAssociation {
  callingAE: string;
  calledAE: string;
  remoteAddress: string;
  startedAt: string;
  bytesIn: number;
  bytesOut: number;
}

export interface ApiDeps extends DicomwebDeps {
  nodes: NodeDirectory;
  worklist: WorklistService;
  mpps: MppsService;
  jobs: JobService;
  activity: ActivityMonitor;
  associations: () => ActiveAssociation[];
  /** What the rules on received instances wait for (an instance whose file is missing), or null. */
  rulesHeldBack?: () => RulesHeldBack | null;
  /** The DICOM port listened on (the configured one, or the one the system chose for 0). */
  dicomPort: () => number;
  version: string;
  /** Serve HTTPS with these (tls.enabled), else plain HTTP. */
  https?: import('node:tls').TlsOptions | null;
  metrics?: Metrics;
  /** Records HTTP actions in the audit trail (logging.audit_file). */
  audit?: (entry: AuditEntry) => void;
  logger: Logger;
}


export const page = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50, description: 'rows per page' },
  offset: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'rows to skip' },
} as const;

