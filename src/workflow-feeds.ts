// What feeds the workflow services from outside DICOM and what they pass on: the watched
// folder of worklist files, the HL7 listener, MPPS forwarding. Kept out of app.ts so the
// composition root stays readable; PacsServer starts and stops these with the listener.
import type { ArchiveParts } from './app.js';
import { WorklistFolder } from './services/worklist-folder.js';

export class WorkflowFeeds {
  private folder: WorklistFolder | null = null;

  constructor(private readonly archive: ArchiveParts) {}

  async start(): Promise<void> {
    const c = this.archive.config();
    if (c.worklist.folder) {
      this.folder = new WorklistFolder(c.worklist.folder, this.archive.worklist, this.archive.logger.child({ component: 'worklist-folder' }));
      this.folder.start(c.worklist.poll_seconds * 1000);
    }
  }

  /** The folder watcher, when worklist.folder is set (tests scan it at once). */
  get worklistFolder(): WorklistFolder | null {
    return this.folder;
  }

  async stop(): Promise<void> {
    await this.folder?.stop();
  }
}
