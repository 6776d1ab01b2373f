// What feeds the workflow services from outside DICOM and what they pass on: the watched
// folder of worklist files, the HL7 listener, MPPS forwarding. Kept out of app.ts so the
// composition root stays readable; PacsServer starts and stops these with the listener.
import type { ArchiveParts } from './app.js';
import { WorklistFolder } from './services/worklist-folder.js';
import { MllpServer } from './hl7/mllp.js';
import { hl7StartWarning } from './hl7/peers.js';
import { Hl7Service } from './hl7/service.js';

export class WorkflowFeeds {
  private folder: WorklistFolder | null = null;
  private mllp: MllpServer | null = null;
  /** The HL7 listener's port once started (hl7.port may be 0: any free port). */
  hl7Port: number | null = null;

  constructor(private readonly archive: ArchiveParts) {}

  async start(): Promise<void> {
    const c = this.archive.config();
    if (c.worklist.folder) {
      this.folder = new WorklistFolder(c.worklist.folder, this.archive.worklist, this.archive.logger.child({ component: 'worklist-folder' }));
      this.folder.start(c.worklist.poll_seconds * 1000);
    }
    if (c.hl7.enabled) {
      const a = this.archive;
      const logger = a.logger.child({ component: 'hl7' });
      const hl7 = new Hl7Service({
        worklist: a.worklist,
        index: a.index,
        logger,
        audit: (e) => a.events.emit('audit', e),
        settings: () => {
          const c = a.config().hl7;
          return { charset: c.charset, stationAE: c.station_ae, processingIds: c.processing_ids, maxOrders: c.max_orders_per_message };
        },
      });
      this.mllp = new MllpServer({
        host: c.hl7.host,
        port: c.hl7.port,
        logger,
        handle: (bytes, remote) => hl7.handle(bytes, remote),
        maxConnections: () => a.config().hl7.max_connections,
        peers: { allowedAddresses: () => a.config().hl7.allowed_addresses, maxPerAddress: () => a.config().hl7.max_connections_per_address },
      });
      this.hl7Port = (await this.mllp.start()).port;
      logger.info({ port: this.hl7Port }, 'HL7 MLLP listener started');
      const open = hl7StartWarning(c.hl7.host, c.hl7.allowed_addresses);
      if (open) logger.warn({ host: c.hl7.host }, open);
    }
  }

  /** The folder watcher, when worklist.folder is set (tests scan it at once). */
  get worklistFolder(): WorklistFolder | null {
    return this.folder;
  }

  async stop(): Promise<void> {
    await Promise.all([this.folder?.stop(), this.mllp?.stop()]);
  }
}
