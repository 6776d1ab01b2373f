// The known nodes: those of the configuration file (read-only here; SIGHUP reloads them) and
// those added at run time through the REST API or the web page (kept in the index). A node of
// the file wins over a stored one with the same AE title.
import type { NodeStore, StoredNode } from '../index/nodes.js';
import { PacsError } from '../core/errors.js';

export interface KnownNodeView extends StoredNode {
  source: 'config' | 'api';
}

export interface ConfigNode {
  ae_title: string;
  host: string;
  port: number;
  tls: boolean;
  permissions: readonly string[];
}

export class NodeDirectory {
  constructor(
    private readonly store: NodeStore,
    private readonly configured: () => readonly ConfigNode[],
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

  async find(aeTitle: string): Promise<KnownNodeView | null> {
    const fixed = this.configured().find((n) => n.ae_title === aeTitle);
    if (fixed) return this.fromConfig(fixed);
    const stored = await this.store.get(aeTitle);
    return stored ? { ...stored, source: 'api' } : null;
  }

  /** Adds or replaces a node kept in the index; nodes of the configuration file cannot be changed here. */
  async put(node: StoredNode): Promise<{ created: boolean }> {
    this.refuseConfigured(node.ae_title);
    return this.store.put(node);
  }

  async remove(aeTitle: string): Promise<boolean> {
    this.refuseConfigured(aeTitle);
    return this.store.remove(aeTitle);
  }

  private refuseConfigured(aeTitle: string): void {
    if (this.configured().some((n) => n.ae_title === aeTitle))
      throw new PacsError('CONFLICT', `${aeTitle} is defined in the configuration file (known_nodes); change it there and reload`);
  }
}
