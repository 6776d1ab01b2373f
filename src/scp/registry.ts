// One registry that dispatches by SOP Class UID (as dcm4che does): each service class provider
// says which SOP classes and transfer syntaxes it serves and handles their commands.
import type { Association } from '../net/association.js';
import type { PresentationPolicy } from '../net/acse.js';
import type { DatasetSink } from '../net/dimse/assembler.js';
import type { Command } from '../net/dimse/command.js';
import type { RoleSelection } from '../net/pdu/types.js';
import type { Logger } from '../core/logging.js';

/** Per-association counters, for the one log line per association. */
export interface AssociationStats {
  operations: Record<string, number>;
  instances: number;
  failures: number;
  lastError: string | null;
}

export interface ScpContext {
  assoc: Association;
  contextId: number;
  abstractSyntax: string;
  transferSyntax: string;
  logger: Logger;
  stats: AssociationStats;
  /** Sends a response (or a sub-operation request) on this association. */
  send(command: Command, dataset?: Buffer): Promise<void>;
  /** Registers an operation so a release waits for it. */
  track<T>(p: Promise<T>): Promise<T>;
  /**
   * Keeps the association from counting as idle until `p` settles, without a release waiting
   * for it: a storage commitment requester waiting on its association for the report.
   */
  keepOpen(p: Promise<unknown>): void;
  /**
   * Sends a request on this association (a C-STORE sub-operation of a C-GET) on the given
   * presentation context and resolves with its response.
   */
  subRequest(contextId: number, command: Command, dataset: AsyncIterable<Buffer> | Buffer): Promise<Command>;
  /** Records a query or retrieve in the audit trail, with the association's calling AE and address. */
  audit(action: 'query' | 'retrieve', outcome: 'success' | 'failure', what: Record<string, unknown>): void;
}

export interface ServiceClassProvider {
  readonly name: string;
  readonly sopClasses: readonly string[];
  transferSyntaxes(sopClass: string): readonly string[];
  readonly preference: 'proposer' | 'ours';
  /** The DIMSE requests it performs (Command Field values); others get 0x0211. */
  readonly commands: readonly number[];
  /** Role selection answer for SOP classes of this provider (C-GET needs it). */
  roles?(proposed: RoleSelection): RoleSelection | null;
  /** SOP Class Extended Negotiation answer for SOP classes of this provider. */
  extendedNegotiation?(sopClass: string, info: Buffer): Buffer | null;
  /** Handles a request; returns the sink for its dataset when one follows. */
  handle(ctx: ScpContext, command: Command): DatasetSink | null;
}

export class SopRegistry implements PresentationPolicy {
  private readonly bySopClass = new Map<string, ServiceClassProvider>();

  register(provider: ServiceClassProvider): void {
    for (const uid of provider.sopClasses) this.bySopClass.set(uid, provider);
  }

  providerFor(sopClass: string): ServiceClassProvider | undefined {
    return this.bySopClass.get(sopClass);
  }

  get sopClasses(): string[] {
    return [...this.bySopClass.keys()];
  }

  transferSyntaxesFor(abstractSyntax: string): readonly string[] | null {
    return this.bySopClass.get(abstractSyntax)?.transferSyntaxes(abstractSyntax) ?? null;
  }

  preference(abstractSyntax: string): 'proposer' | 'ours' {
    return this.bySopClass.get(abstractSyntax)?.preference ?? 'ours';
  }

  extendedNegotiation(sopClass: string, info: Buffer): Buffer | null {
    return this.bySopClass.get(sopClass)?.extendedNegotiation?.(sopClass, info) ?? null;
  }

  roles(proposed: RoleSelection): RoleSelection | null {
    const p = this.bySopClass.get(proposed.sopClass);
    if (p?.roles) return p.roles(proposed);
    // We act only as SCP for what we register: accept the requestor as SCU, decline it as SCP.
    return { sopClass: proposed.sopClass, scuRole: proposed.scuRole, scpRole: false };
  }
}
