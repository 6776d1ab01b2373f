// The known nodes: those of the configuration file (read-only here; SIGHUP reloads them) and
// those added at run time through the REST API or the web page (kept in the index). A node of
// the file wins over a stored one with the same AE title.
import type { ConnectionOptions } from 'node:tls';
import type { NodeStore, StoredNode } from '../index/nodes.js';
import { PacsError } from '../core/errors.js';

export interface KnownNodeView extends StoredNode {
  source: 'config' | 'api';
  /** For a node with `tls: true`: how we connect to it (trusted CAs, our client certificate). */
  tlsOptions?: ConnectionOptions;
}

/** How to reach a known node as an SCU: address, AE title, and TLS when the node speaks it. */
export function reachOf(node: KnownNodeView): { host: string; port: number; calledAETitle: string; tls?: ConnectionOptions } {
  return { host: node.host, port: node.port, calledAETitle: node.ae_title, ...(node.tlsOptions ? { tls: node.tlsOptions } : {}) };
}

export interface ConfigNode {
  ae_title: string;
  host: string;
  port: number;
  tls: boolean;
  permissions: readonly string[];
}

/** How old the in-memory copy of the stored nodes may get before it is read again (other servers may change them). */
const CACHE_MS = 10_000;

export class NodeDirectory {
  /** The stored nodes, for answers that cannot wait for the index (permissions at each request). */
  private cached: StoredNode[] = [];
  private cachedAt = 0;

  constructor(
    private readonly store: NodeStore,
    private readonly configured: () => readonly ConfigNode[],
    /** The client side of DICOM TLS (tls.* of the configuration); null when TLS is off. */
    private readonly clientTls: () => ConnectionOptions | null = () => null,
  ) {}

  private fromConfig(n: ConfigNode): KnownNodeView {
    return { ae_title: n.ae_title, host: n.host, port: n.port, tls: n.tls, permissions: [...n.permissions], description: '', source: 'config' };
  }

  async list(): Promise<KnownNodeView[]> {
    const fixed = this.configured().map((n) => this.fromConfig(n));
    const names = new Set(fixed.map((n) => n.ae_title));
    const added = (await this.store.list()).filter((n) => !names.has(n.ae_title)).map((n): KnownNodeView => ({ ...n, source: 'api' }));
    return [...fixed, ...added].sort((a, b) => a.ae_title.localeCompare(b.ae_title));
  }

  /** The node with this AE title as configured or added (to show; `find` to connect). */
  async view(aeTitle: string): Promise<KnownNodeView | null> {
    const fixed = this.configured().find((n) => n.ae_title === aeTitle);
    const stored = fixed ? null : await this.store.get(aeTitle);
    return fixed ? this.fromConfig(fixed) : stored ? { ...stored, source: 'api' } : null;
  }

  /** The node with this AE title, ready to connect to (with its TLS options when it speaks TLS). */
  async find(aeTitle: string): Promise<KnownNodeView | null> {
    const node = await this.view(aeTitle);
    if (!node?.tls) return node;
    const tlsOptions = this.clientTls();
    if (!tlsOptions) throw new PacsError('CONFIG_INVALID', `${node.ae_title} is a TLS node (tls: true) but tls.enabled is false: no certificates to connect with`);
    return { ...node, tlsOptions };
  }

  /** Adds or replaces a node kept in the index; nodes of the configuration file cannot be changed here. */
  async put(node: StoredNode): Promise<{ created: boolean }> {
    this.refuseConfigured(node.ae_title);
    // Refused before anything is kept: a node nothing could connect to is a mistake to say now.
    if (node.tls && !this.clientTls()) throw new PacsError('CONFIG_INVALID', `${node.ae_title}: tls: true needs tls.enabled (the certificates to connect with)`);
    const r = await this.store.put(node);
    await this.refresh();
    return r;
  }

  async remove(aeTitle: string): Promise<boolean> {
    this.refuseConfigured(aeTitle);
    const r = await this.store.remove(aeTitle);
    await this.refresh();
    return r;
  }

  /** Reads the stored nodes into memory (at start, after a change, and when the copy is old). */
  async refresh(): Promise<void> {
    this.cached = await this.store.list();
    this.cachedAt = Date.now();
  }

  /** What a calling AE that is a known node may do; null when it is none (then only access_control applies). */
  permissionsOf(aeTitle: string): readonly string[] | null {
    if (Date.now() - this.cachedAt > CACHE_MS) {
      this.cachedAt = Date.now();
      void this.refresh().catch(() => {});
    }
    const node = this.configured().find((n) => n.ae_title === aeTitle) ?? this.cached.find((n) => n.ae_title === aeTitle);
    return node ? node.permissions : null;
  }

  private refuseConfigured(aeTitle: string): void {
    if (this.configured().some((n) => n.ae_title === aeTitle))
      throw new PacsError('CONFLICT', `${aeTitle} is defined in the configuration file (known_nodes); change it there and reload`);
  }
}
