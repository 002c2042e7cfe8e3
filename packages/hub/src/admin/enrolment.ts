/**
 * Node enrolment on the hub (SPEC §7, §8 `nodes add|grant|revoke|rotate|remove|list`): nodes, their hashed
 * secrets and their per-table grants, kept in the hub store (keys `n/{node}`, one fsync'd batch per change) and
 * mirrored into the live Grants the broker hooks and handlers read.
 *
 * Nodes listed in the config file are part of the enrolment too, but read-only here (`source: 'config'`): the file
 * is their source of truth, so an admin change would be lost at the next start. A stored node with the id of a
 * config node is shadowed by it (logged).
 *
 * Effects are immediate (SPEC §7): remove, revoke and rotate bump the node's credential generation and
 * disconnect it at once (its next CONNECT is judged by the new state); a new subscribe grant also disconnects it
 * so its next welcome lists the grant; a new publish grant needs no reconnect (the edge's held batches are
 * retried and now pass).
 */
import { assertName, encodeKey, prefixEnd, type Store, TmError, tableRef } from '@tablemesh/core';
import type { Grants, NodeGrant } from '../grants.js';
import { generateSecret, hashSecret } from './secrets.js';

/** A node as the admin API shows it (never its secret or hash). */
export interface EnrolledNode {
  readonly id: string;
  readonly source: 'config' | 'admin';
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** false: the node authenticates with a client certificate only */
  readonly hasSecret: boolean;
  readonly createdMs?: number;
  readonly rotatedMs?: number;
}

/** What is stored per admin-enrolled node. */
interface StoredNode {
  readonly id: string;
  readonly secret: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  readonly createdMs: number;
  readonly rotatedMs?: number;
}

/** Which grants a grant or revoke call changes; neither given = both. */
export interface GrantChange {
  readonly publish?: boolean;
  readonly subscribe?: boolean;
}

/** What the enrolment needs besides the store. */
export interface EnrolmentDeps {
  /** the hub's own node id (never enrolable) */
  readonly hubNodeId: string;
  readonly now?: () => number;
  /** ends the node's connection now, if it has one */
  disconnect(node: string): void;
  /** forgets the node's proven secret (secrets.ts SecretVerifier) */
  forgetSecret?(node: string): void;
  readonly log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

const nodeKey = (id: string) => encodeKey(['n', id]);
const sorted = (tables: Iterable<string>) => [...new Set(tables)].sort();

/** The enrolment store. Mutations are serialised; reads are synchronous. */
export class Enrolment {
  private readonly stored = new Map<string, StoredNode>();
  private readonly config = new Map<string, NodeGrant>();
  private readonly generations = new Map<string, number>();
  private chain: Promise<unknown> = Promise.resolve();
  private readonly now: () => number;

  private constructor(
    private readonly store: Store,
    private readonly grants: Grants,
    private readonly deps: EnrolmentDeps,
  ) {
    this.now = deps.now ?? Date.now;
  }

  /** Loads the stored nodes, merges the config nodes and fills `grants`. */
  static async open(
    store: Store,
    grants: Grants,
    configNodes: readonly NodeGrant[],
    deps: EnrolmentDeps,
  ): Promise<Enrolment> {
    const e = new Enrolment(store, grants, deps);
    for (const n of configNodes) e.config.set(n.id, n);
    const prefix = encodeKey(['n']);
    for await (const [, value] of store.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
      const node = JSON.parse(value.toString('utf8')) as StoredNode;
      if (e.config.has(node.id)) {
        deps.log?.warn({ node: node.id }, 'enrolled node shadowed by the config file entry of the same id');
        continue;
      }
      e.stored.set(node.id, node);
    }
    for (const n of e.config.values()) grants.set(n);
    for (const n of e.stored.values()) grants.set(n);
    return e;
  }

  /** Every node, sorted by id. */
  list(): EnrolledNode[] {
    const ids = sorted([...this.config.keys(), ...this.stored.keys()]);
    return ids.map((id) => this.get(id)!);
  }

  /** One node, or undefined. */
  get(id: string): EnrolledNode | undefined {
    const c = this.config.get(id);
    if (c) {
      return {
        id,
        source: 'config',
        publish: sorted(c.publish),
        subscribe: sorted(c.subscribe),
        hasSecret: c.secret !== undefined,
      };
    }
    const s = this.stored.get(id);
    if (!s) return undefined;
    return {
      id,
      source: 'admin',
      publish: s.publish,
      subscribe: s.subscribe,
      hasSecret: true,
      createdMs: s.createdMs,
      ...(s.rotatedMs !== undefined ? { rotatedMs: s.rotatedMs } : {}),
    };
  }

  /** Credential generation of a node (bumped on rotate, revoke, remove). */
  generation(id: string): number {
    return this.generations.get(id) ?? 0;
  }

  /** Enrols a node; returns it with its secret, which is never shown again. */
  add(
    id: string,
    grants: { publish?: readonly string[]; subscribe?: readonly string[] } = {},
  ): Promise<{ node: EnrolledNode; secret: string }> {
    return this.serial(async () => {
      assertName('node', id);
      if (id === this.deps.hubNodeId) {
        throw new TmError('TM_INVALID_NAME', `'${id}' is the hub's own node id`);
      }
      if (this.config.has(id) || this.stored.has(id)) {
        throw new TmError('TM_NODE_EXISTS', `node '${id}' is already enrolled`);
      }
      const publish = sorted((grants.publish ?? []).map(tableRef));
      const subscribe = sorted((grants.subscribe ?? []).map(tableRef));
      const secret = generateSecret();
      const node: StoredNode = {
        id,
        secret: await hashSecret(secret),
        publish,
        subscribe,
        createdMs: this.now(),
      };
      await this.persist(node);
      this.deps.log?.info({ node: id, publish, subscribe }, 'node enrolled');
      return { node: this.get(id)!, secret };
    });
  }

  /** Removes a node and disconnects it now. */
  remove(id: string): Promise<void> {
    return this.serial(async () => {
      this.mutable(id);
      await this.store.transact((tx) => tx.del(nodeKey(id)));
      this.stored.delete(id);
      this.grants.remove(id);
      this.cut(id, 'removed');
    });
  }

  /** Generates a new secret (the old one stops working at once) and disconnects the node. */
  rotate(id: string): Promise<{ node: EnrolledNode; secret: string }> {
    return this.serial(async () => {
      const current = this.mutable(id);
      const secret = generateSecret();
      await this.persist({ ...current, secret: await hashSecret(secret), rotatedMs: this.now() });
      this.cut(id, 'secret rotated');
      return { node: this.get(id)!, secret };
    });
  }

  /** Grants publish and/or subscribe of a table. */
  grant(id: string, table: string, change: GrantChange = {}): Promise<EnrolledNode> {
    return this.serial(async () => {
      const current = this.mutable(id);
      const ref = tableRef(table);
      const both = change.publish === undefined && change.subscribe === undefined;
      const publish = both || change.publish === true;
      const subscribe = both || change.subscribe === true;
      const newSubscribe = subscribe && !current.subscribe.includes(ref);
      await this.persist({
        ...current,
        publish: publish ? sorted([...current.publish, ref]) : current.publish,
        subscribe: subscribe ? sorted([...current.subscribe, ref]) : current.subscribe,
      });
      // The edge learns its subscribe grants from the welcome: reconnecting sends a fresh one.
      if (newSubscribe) this.deps.disconnect(id);
      return this.get(id)!;
    });
  }

  /** Revokes publish and/or subscribe of a table; disconnects the node now when anything was revoked. */
  revoke(id: string, table: string, change: GrantChange = {}): Promise<EnrolledNode> {
    return this.serial(async () => {
      const current = this.mutable(id);
      const ref = tableRef(table);
      const both = change.publish === undefined && change.subscribe === undefined;
      const publish = current.publish.filter((t) => !((both || change.publish === true) && t === ref));
      const subscribe = current.subscribe.filter((t) => !((both || change.subscribe === true) && t === ref));
      if (publish.length === current.publish.length && subscribe.length === current.subscribe.length) {
        return this.get(id)!;
      }
      await this.persist({ ...current, publish, subscribe });
      this.cut(id, `grant on ${ref} revoked`);
      return this.get(id)!;
    });
  }

  private mutable(id: string): StoredNode {
    if (this.config.has(id)) {
      throw new TmError(
        'TM_CONFIG_NODE',
        `node '${id}' is defined in the hub's config file: change it there and restart the hub`,
      );
    }
    const node = this.stored.get(id);
    if (!node) throw new TmError('TM_NOT_FOUND', `no node '${id}' is enrolled`);
    return node;
  }

  private async persist(node: StoredNode): Promise<void> {
    await this.store.transact((tx) => tx.put(nodeKey(node.id), Buffer.from(JSON.stringify(node), 'utf8')));
    this.stored.set(node.id, node);
    this.grants.set(node);
  }

  /** The node's current credentials or grants were withdrawn: new generation, forget, disconnect. */
  private cut(id: string, why: string): void {
    this.generations.set(id, this.generation(id) + 1);
    this.deps.forgetSecret?.(id);
    this.deps.disconnect(id);
    this.deps.log?.info({ node: id, why }, 'node disconnected');
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }
}
