/**
 * The edge's replication with its hub, changeable at run time (HarperDB's add_node, update_node,
 * set_node_replication, remove_node, cluster_status; SPEC §8): per table `publish` (the outbox sends local writes
 * up) and `subscribe` (the subscriber follows the hub's feed; subscribe-only tables are read-only locally).
 *
 * The set is persisted in the store (meta key `['m', 'replication']`) so it survives restarts. The configuration's
 * `publish` and `subscribe` lists are its initial value: while they stay as they were, the persisted set wins;
 * when the file's lists change, the file wins again (logged), so editing the config is never silently ignored.
 *
 * The hub is the edge's only peer: `node_name` is recorded as its name for cluster_status and must match once set.
 * A table being published keeps its outbox queue when publishing stops (it resumes if published again). An
 * unsubscribed table keeps its data; its feed is ignored from then on and its MQTT subscription ends with the
 * next connection.
 */
import { createHash } from 'node:crypto';
import {
  type ClusterManager,
  encodeKey,
  type Outbox,
  type OutboxTableConfig,
  type Replication,
  type ReplicationEntry,
  type Store,
  TmError,
  topics,
} from '@tablemesh/core';
import type { EdgeConfig } from './config.js';
import type { Subscription } from './subscriber.js';

const META_REPLICATION = encodeKey(['m', 'replication']);

/** What is persisted. */
interface Persisted {
  readonly v: 1;
  /** digest of the config's publish/subscribe lists this set started from */
  readonly configDigest: string;
  readonly hubName: string | null;
  readonly tables: readonly ReplicationEntry[];
}

/** The running parts a change is applied to (attached once the edge has started them). */
export interface ReplicationRuntime {
  readonly outbox: Pick<Outbox, 'publish' | 'unpublish' | 'publishedTables' | 'stats'>;
  readonly subscriber: {
    setSubscriptions(subs: readonly Subscription[]): void;
    state(): readonly {
      table: string;
      phase: string;
      cursor?: { hubSeq: number } | undefined;
      headSeen: number;
    }[];
  };
  readonly publisher: { notify(): void };
  /** the link now (undefined before it exists) */
  link():
    | {
        readonly connected: boolean;
        readonly state?: string;
        subscribe(t: readonly string[]): Promise<number[]>;
      }
    | undefined;
  /** a table starts being published (the receipt waiter tracks it) */
  onPublish?(table: string): void;
}

/** Logger methods used. */
type Log = { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };

const ref = (name: string): string => (name.includes('.') ? name : `data.${name}`);

function configEntries(config: Pick<EdgeConfig, 'publish' | 'subscribe'>): ReplicationEntry[] {
  const byTable = new Map<string, ReplicationEntry>();
  for (const p of config.publish)
    byTable.set(ref(p.table), { table: ref(p.table), publish: true, subscribe: false });
  for (const s of config.subscribe) {
    const table = ref(s.table);
    byTable.set(table, {
      table,
      publish: byTable.get(table)?.publish ?? false,
      subscribe: true,
      start: s.start,
    });
  }
  return [...byTable.values()].sort((a, b) => (a.table < b.table ? -1 : 1));
}

function digestOf(config: Pick<EdgeConfig, 'publish' | 'subscribe'>): string {
  return createHash('sha256')
    .update(JSON.stringify({ publish: config.publish, subscribe: config.subscribe }))
    .digest('hex')
    .slice(0, 16);
}

/** The edge's subscriptions with the hub; implements the operations API's ClusterManager. */
export class EdgeSubscriptions implements ClusterManager {
  private entries: Map<string, ReplicationEntry>;
  private hubName: string | null;
  private runtime: ReplicationRuntime | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    private readonly config: Pick<EdgeConfig, 'nodeId' | 'publish' | 'subscribe' | 'hub'>,
    private readonly log: Log,
    state: Persisted,
  ) {
    this.entries = new Map(state.tables.map((e) => [e.table, e]));
    this.hubName = state.hubName;
  }

  /** Loads the persisted set (or the config's) and creates the local tables of published ones. */
  static async open(
    store: Store,
    config: Pick<EdgeConfig, 'nodeId' | 'publish' | 'subscribe' | 'hub'>,
    log: Log,
  ): Promise<EdgeSubscriptions> {
    const configDigest = digestOf(config);
    const raw = await store.kv.get(META_REPLICATION);
    let state: Persisted | undefined = raw ? (JSON.parse(raw.toString('utf8')) as Persisted) : undefined;
    if (state && state.configDigest !== configDigest) {
      log.warn({}, 'publish/subscribe lists of the configuration changed: replication set reset to them');
      state = undefined;
    }
    const subs = new EdgeSubscriptions(
      store,
      config,
      log,
      state ?? { v: 1, configDigest, hubName: null, tables: configEntries(config) },
    );
    if (!state) await subs.persist();
    for (const e of subs.entries.values()) {
      if (e.publish && !store.getTable(e.table)) await store.createTable({ name: e.table });
    }
    return subs;
  }

  /** Connects the running outbox, subscriber, publisher and link; later changes apply to them at once. */
  attach(runtime: ReplicationRuntime): void {
    this.runtime = runtime;
  }

  /** Outbox configuration of the published tables (options from the config file, defaults otherwise). */
  outboxTables(): OutboxTableConfig[] {
    return [...this.entries.values()].filter((e) => e.publish).map((e) => this.outboxConfig(e.table));
  }

  private outboxConfig(table: string): OutboxTableConfig {
    const p = this.config.publish.find((x) => ref(x.table) === table);
    if (!p) return { table };
    return {
      table,
      quotaBytes: p.quotaBytes,
      onFull: p.onFull,
      priority: p.priority,
      ...(p.ttlMs !== undefined ? { ttlMs: p.ttlMs } : {}),
    };
  }

  /** Subscriptions for the subscriber. */
  subscriptions(): Subscription[] {
    return [...this.entries.values()]
      .filter((e) => e.subscribe)
      .map((e) => ({ table: e.table, start: e.start ?? 'now' }));
  }

  /** ClusterManager: how a table is replicated, undefined when it is not. */
  replicationOf(table: string): Replication | undefined {
    const e = this.entries.get(ref(table));
    return e ? { publish: e.publish, subscribe: e.subscribe } : undefined;
  }

  /** Subscribe-only tables are read-only locally (SPEC §5: 409 TM_READ_ONLY_TABLE). */
  isReadOnly(table: string): boolean {
    const e = this.entries.get(ref(table));
    return e?.subscribe === true && !e.publish;
  }

  /** ClusterManager (add_node): adds tables not replicated yet; entries for replicated ones are skipped. */
  add(
    nodeName: string,
    list: readonly ReplicationEntry[],
  ): Promise<{ added: ReplicationEntry[]; skipped: ReplicationEntry[] }> {
    return this.serial(async () => {
      this.assertHub(nodeName);
      const added = list.filter((e) => !this.entries.has(e.table));
      const skipped = list.filter((e) => this.entries.has(e.table));
      const next = new Map(this.entries);
      for (const e of added) next.set(e.table, e);
      await this.apply(next, nodeName);
      return { added, skipped };
    });
  }

  /** ClusterManager (update_node, set_node_replication): upserts entries; both false removes the table. */
  update(nodeName: string, list: readonly ReplicationEntry[]): Promise<void> {
    return this.serial(async () => {
      this.assertHub(nodeName);
      const next = new Map(this.entries);
      for (const e of list) {
        if (e.publish || e.subscribe) next.set(e.table, e);
        else next.delete(e.table);
      }
      await this.apply(next, nodeName);
    });
  }

  /** ClusterManager (remove_node): stops every publication and subscription. */
  remove(nodeName: string): Promise<void> {
    return this.serial(async () => {
      this.assertHub(nodeName);
      await this.apply(new Map(), null);
    });
  }

  /** ClusterManager (cluster_status): HarperDB's shape, with the link state and per-table progress. */
  async status(): Promise<Record<string, unknown>> {
    const runtime = this.runtime;
    const link = runtime?.link();
    const published = new Set(runtime?.outbox.publishedTables() ?? []);
    const phases = new Map((runtime?.subscriber.state() ?? []).map((s) => [s.table, s]));
    const subscriptions = [];
    const sorted = [...this.entries.values()].sort((x, y) => (x.table < y.table ? -1 : 1));
    for (const e of sorted) {
      const dot = e.table.indexOf('.');
      const backlog = published.has(e.table)
        ? (await runtime!.outbox.stats(e.table)).backlogCount
        : undefined;
      const sub = phases.get(e.table);
      subscriptions.push({
        schema: e.table.slice(0, dot),
        table: e.table.slice(dot + 1),
        publish: e.publish,
        subscribe: e.subscribe,
        ...(backlog !== undefined ? { backlog } : {}),
        ...(sub ? { phase: sub.phase, hub_seq: sub.cursor?.hubSeq ?? 0, head_seen: sub.headSeen } : {}),
      });
    }
    return {
      node_name: this.config.nodeId,
      is_enabled: true,
      connections:
        this.entries.size === 0 && this.hubName === null
          ? []
          : [
              {
                node_name: this.hubName ?? 'hub',
                status: link?.connected ? 'open' : 'closed',
                ...(link?.state ? { link: link.state } : {}),
                url: redact(this.config.hub.url),
                subscriptions,
              },
            ],
    };
  }

  private assertHub(nodeName: string): void {
    if (this.hubName !== null && nodeName !== this.hubName) {
      throw new TmError(
        'TM_INVALID_ARGUMENT',
        `this edge replicates with one hub, '${this.hubName}'; node_name '${nodeName}' is not it`,
      );
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  /** Validates, persists, then applies a new set to the running parts (bad requests change nothing). */
  private async apply(next: Map<string, ReplicationEntry>, hubName: string | null): Promise<void> {
    for (const e of next.values()) {
      const def = this.store.getTable(e.table);
      if (def?.expirationSec !== undefined) {
        // SPEC §3: local retention only on tables that are not replicated.
        throw new TmError(
          'TM_REPLICATED_TABLE',
          `table '${e.table}' has local retention (expiration); only tables without it can be replicated`,
        );
      }
    }
    for (const e of next.values()) {
      if (e.publish && !this.store.getTable(e.table)) await this.store.createTable({ name: e.table });
    }
    const before = this.entries;
    this.entries = next;
    this.hubName = hubName;
    await this.persist();
    const runtime = this.runtime;
    if (!runtime) return;
    for (const e of next.values()) {
      if (e.publish && !before.get(e.table)?.publish) {
        await runtime.outbox.publish(this.outboxConfig(e.table));
        runtime.onPublish?.(e.table);
      }
    }
    for (const e of before.values()) {
      if (e.publish && !next.get(e.table)?.publish) await runtime.outbox.unpublish(e.table);
    }
    runtime.subscriber.setSubscriptions(this.subscriptions());
    const added = [...next.values()].filter((e) => e.subscribe && !before.get(e.table)?.subscribe);
    const link = runtime.link();
    if (added.length > 0 && link?.connected) {
      const wanted = added.map((e) => topics.feed(e.table));
      const granted = await link.subscribe(wanted).catch(() => [] as number[]);
      const refused = wanted.filter((_, i) => granted[i] === 128);
      if (refused.length > 0) this.log.warn({ refused }, 'hub refused feed subscriptions (not granted)');
    }
    runtime.publisher.notify();
    this.log.info(
      {
        tables: [...next.values()].map((e) => `${e.table}:${e.publish ? 'p' : ''}${e.subscribe ? 's' : ''}`),
      },
      'replication set changed',
    );
  }

  private async persist(): Promise<void> {
    const state: Persisted = {
      v: 1,
      configDigest: digestOf(this.config),
      hubName: this.hubName,
      tables: [...this.entries.values()],
    };
    await this.store.transact((tx) => tx.put(META_REPLICATION, Buffer.from(JSON.stringify(state), 'utf8')));
  }
}

/** A hub URL without credentials. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
