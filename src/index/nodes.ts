// Known nodes added at run time (REST API, web page), kept in the index so that every server
// sharing it sees them. Nodes from the configuration file stay there and are read-only.

export interface StoredNode {
  ae_title: string;
  host: string;
  port: number;
  tls: boolean;
  /** What it may ask of us (config's PERMISSIONS: store, find, move, get, worklist, mpps, commit). */
  permissions: string[];
  description: string;
}

export interface NodeStore {
  list(): Promise<StoredNode[]>;
  get(aeTitle: string): Promise<StoredNode | null>;
  /** Adds or replaces the node with this AE title; returns whether it was new. */
  put(node: StoredNode): Promise<{ created: boolean }>;
  /** Removes it; false when there was none. */
  remove(aeTitle: string): Promise<boolean>;
}
