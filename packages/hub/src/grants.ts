/**
 * The grant model: which node may publish and subscribe which tables (I15), and each node's stored secret (a
 * scrypt hash, or a plain secret from the config file). Filled from the config and by the enrolment store
 * (admin/enrolment.ts), which is the only writer at run time. Secrets are checked by broker/authenticate.ts.
 */

/** One node's credentials and grants. */
export interface NodeGrant {
  readonly id: string;
  /** stored secret: `scrypt$…` hash or a plain secret (config); absent = mTLS only */
  readonly secret?: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** Grants of all enrolled nodes, by node id. Table names are `db.table`. */
export class Grants {
  private readonly nodes = new Map<
    string,
    { secret?: string; publish: Set<string>; subscribe: Set<string> }
  >();

  constructor(nodes: readonly NodeGrant[]) {
    for (const n of nodes) {
      this.nodes.set(n.id, {
        ...(n.secret !== undefined ? { secret: n.secret } : {}),
        publish: new Set(n.publish),
        subscribe: new Set(n.subscribe),
      });
    }
  }

  /** True when the node is enrolled. */
  has(node: string): boolean {
    return this.nodes.has(node);
  }

  /** The node's stored secret (hash or plain); undefined for unknown nodes and mTLS-only nodes. */
  secretOf(node: string): string | undefined {
    return this.nodes.get(node)?.secret;
  }

  /** Ids of every node, sorted. */
  ids(): string[] {
    return [...this.nodes.keys()].sort();
  }

  /** True when the node may publish the table (`db.table`). */
  canPublish(node: string, table: string): boolean {
    return this.nodes.get(node)?.publish.has(table) === true;
  }

  /** True when the node may subscribe to the table (`db.table`). */
  canSubscribe(node: string, table: string): boolean {
    return this.nodes.get(node)?.subscribe.has(table) === true;
  }

  /** Grants of a node as sent in the welcome. */
  grantsOf(node: string): { table: string; publish: boolean; subscribe: boolean }[] {
    const entry = this.nodes.get(node);
    if (!entry) return [];
    const tables = [...new Set([...entry.publish, ...entry.subscribe])].sort();
    return tables.map((table) => ({
      table,
      publish: entry.publish.has(table),
      subscribe: entry.subscribe.has(table),
    }));
  }

  /** Nodes that may subscribe to a table (for tombstone GC, I5). */
  subscribersOf(table: string): string[] {
    return [...this.nodes].filter(([, e]) => e.subscribe.has(table)).map(([id]) => id);
  }

  /** Removes a node; true when it existed. */
  remove(node: string): boolean {
    return this.nodes.delete(node);
  }

  /** Grants or revokes at run time (tests, admin). */
  set(node: NodeGrant): void {
    this.nodes.set(node.id, {
      ...(node.secret !== undefined ? { secret: node.secret } : {}),
      publish: new Set(node.publish),
      subscribe: new Set(node.subscribe),
    });
  }
}
