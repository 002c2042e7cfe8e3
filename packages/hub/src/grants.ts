/**
 * The minimal grant model (from config until enrolment lands): which node may publish and subscribe which
 * tables (I15). Authentication material is checked by broker/authenticate.ts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** One node's credentials and grants. */
export interface NodeGrant {
  readonly id: string;
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

  /** Checks a node's secret in constant time; a node without a configured secret accepts none. */
  checkSecret(node: string, given: Buffer | undefined): boolean {
    const entry = this.nodes.get(node);
    if (!entry) return false;
    if (entry.secret === undefined) return true;
    if (!given) return false;
    const a = createHash('sha256').update(entry.secret).digest();
    const b = createHash('sha256').update(given).digest();
    return timingSafeEqual(a, b);
  }

  canPublish(node: string, table: string): boolean {
    return this.nodes.get(node)?.publish.has(table) === true;
  }

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

  /** Grants or revokes at run time (tests, admin). */
  set(node: NodeGrant): void {
    this.nodes.set(node.id, {
      ...(node.secret !== undefined ? { secret: node.secret } : {}),
      publish: new Set(node.publish),
      subscribe: new Set(node.subscribe),
    });
  }
}
