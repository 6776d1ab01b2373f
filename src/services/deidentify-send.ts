// Forwarding de-identified copies: each instance is de-identified as it is prepared and sent
// under its new SOP Instance UID, in the transfer syntax it is stored in (the association
// proposes exactly that context for each SOP class, see storeProposals).
import type { ScuAssociation } from '../net/client.js';
import { BurnedInRefused, type Deidentifier, type FlaggedCopies } from './deidentify.js';
import { classify, type Ready, type SubOperation } from './send.js';

/** `flagged` collects the copies sent although burned-in text is possible (burned_in: flag), for the job's report. */
export function deidentifiedSender(deid: Deidentifier, scu: ScuAssociation, flagged: FlaggedCopies): SubOperation {
  // The new SOP Instance UID of each prepared instance (prepare runs a few ahead of send).
  const newUid = new Map<string, string>();
  return {
    async prepare(loc) {
      const pc = scu.contextFor(loc.SOPClassUID, loc.transferSyntaxUID);
      if (!pc) return { kind: 'failed', reason: `the destination accepted no context for ${loc.SOPClassUID} in ${loc.transferSyntaxUID} (de-identified copies go as stored)` };
      let d;
      try {
        d = await deid.deidentify(loc);
      } catch (e) {
        // burned_in: refuse leaves the instance out on purpose: counted as a warning, as the
        // STOW-RS forward does, not a failure that would fail the job and send it all again.
        if (e instanceof BurnedInRefused) return { kind: 'warning', notSent: true };
        throw e;
      }
      flagged.add(d);
      newUid.set(loc.SOPInstanceUID, d.sopInstanceUID);
      // One buffer for a small copy (sent as one PDU with its command); a large one in its
      // parts, its Pixel Data a slice of the stored file's bytes.
      const dataset = d.dataset.length === 1 ? d.dataset[0]! : iterate(d.dataset);
      return { pcId: pc.id, dataset, release: () => d.release() };
    },
    async send(loc, ready: Ready) {
      const uid = newUid.get(loc.SOPInstanceUID)!;
      newUid.delete(loc.SOPInstanceUID);
      return classify(await scu.store(ready.pcId, loc.SOPClassUID, uid, ready.dataset, {}, ready.release));
    },
  };
}

async function* iterate(parts: readonly Buffer[]): AsyncIterable<Buffer> {
  yield* parts;
}
