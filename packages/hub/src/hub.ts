/**
 * tablemesh-hub: the embedded broker, the hub store with its feeds, the up and sync handlers, head heartbeats,
 * retention and tombstone GC timers, and the HTTP API. `buildHub` opens nothing; `start()` does.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  encodeFeedMessage,
  Failpoints,
  Feed,
  IngestStats,
  isTmError,
  LevelKv,
  type LocalTxSink,
  MetricsRegistry,
  parseTopic,
  Store,
  topics,
} from '@tablemesh/core';
import { StoreRecovery } from '@tablemesh/runtime';
import { type Logger, pino } from 'pino';
import type { Enrolment } from './admin/enrolment.js';
import { type Broker, startBroker } from './broker/broker.js';
import type { HubConfig } from './config.js';
import { Grants } from './grants.js';
import { makeSyncHandler } from './handlers/sync.js';
import { makeUpHandler } from './handlers/up.js';
import { type HttpServerHandle, startHttp } from './http.js';
import {
  type AuthRefusals,
  brokerSecurityOptions,
  openEnrolment,
  registerSecurityMetrics,
  restWithAdmin,
} from './security.js';
import { makeHubStatus } from './status.js';

/** Injected dependencies (tests give a clock or a logger). */
export interface HubDeps {
  readonly now?: () => number;
  readonly logger?: Logger;
  /** test builds only (SPEC §7): from TM_FAILPOINTS with TM_TESTKIT=1 */
  readonly failpoints?: Failpoints;
}

/** A built hub. */
export interface Hub {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly store: Store | undefined;
  readonly grants: Grants;
  /** node enrolment (admin API); undefined until start() */
  readonly enrolment: Enrolment | undefined;
  readonly mqttPort: number | undefined;
  /** every MQTT listener's port (tls and ws when configured) */
  readonly mqttPorts: { readonly tcp: number; readonly tls?: number; readonly ws?: number } | undefined;
  readonly httpPort: number | undefined;
}

/** Builds the hub from a validated config; opens nothing until start(). */
export function buildHub(config: HubConfig, deps: HubDeps = {}): Hub {
  const now = deps.now ?? Date.now;
  const log = deps.logger ?? pino({ level: config.log.level, name: 'tablemesh-hub' });
  const grants = new Grants(
    config.nodes.map((n) => ({
      id: n.id,
      ...(n.secret !== undefined ? { secret: n.secret } : {}),
      publish: n.publish.map(ref),
      subscribe: n.subscribe.map(ref),
    })),
  );
  const stats = new IngestStats();
  const refused = { forged: 0, notGranted: 0, schemaMismatch: 0, badMessage: 0, subscriptions: 0 };
  const connected = new Set<string>();
  const lastSeen = new Map<string, number>();
  const maintenance = { trimmed: 0, collected: 0 };
  let store: Store | undefined;
  let feed: Feed | undefined;
  let broker: Broker | undefined;
  let enrolment: Enrolment | undefined;
  const authRefusals: AuthRefusals = new Map();
  let http: HttpServerHandle | undefined;
  const timers: NodeJS.Timeout[] = [];

  const failpoints = deps.failpoints ?? Failpoints.none;
  // A failed storage write: stop everything and start again from the durable state (runtime store-recovery.ts),
  // on the ports of the first start so that edges and clients find the hub where it was.
  let bound: { tcp?: number; tls?: number; ws?: number; http?: number } = {};
  const recovery = new StoreRecovery({
    log,
    stop: () => stopParts(),
    start: () => start(),
  });

  async function start(): Promise<void> {
    // SPEC §7: active failpoints are logged at warn at start.
    if (!failpoints.empty) log.warn({ failpoints: failpoints.names }, 'failpoints active (test build)');
    mkdirSync(config.dataDir, { recursive: true });
    store = await Store.open({
      failpoints,
      kv: new LevelKv(join(config.dataDir, 'store')),
      nodeId: config.nodeId,
      now,
      sync: config.durability === 'fsync',
      maxRecordBytes: config.limits.maxRecordBytes,
      maxTxBytes: config.limits.maxTxBytes,
      maxOpsPerTx: config.limits.maxOpsPerTx,
    });
    const s = store;
    s.onFailure((err) => recovery.failed(err));
    feed = await Feed.open(s, {
      feedRetentionMs: config.feedRetention.ms,
      feedRetentionBytes: config.feedRetention.bytes,
      tombstoneRetentionMs: config.tombstoneRetentionMs,
      now,
    });
    const f = feed;
    for (const t of config.tables) {
      if (!s.getTable(t.name))
        await s.createTable({ name: t.name, primaryKey: t.primaryKey, indexes: t.indexes });
    }
    // The hub's own writes (HTTP API) go to the table's feed in the same batch as the data.
    // Hub-origin transactions get seq = the hub seq they take (local writes are serialised by the store lock).
    const lastLocalSeq = new Map<string, number>();
    const sink: LocalTxSink = {
      next: (table) => ({ epoch: s.epoch, seq: Math.max(lastLocalSeq.get(table) ?? 0, f.head(table)) + 1 }),
      append: async (tx, txn) => {
        await f.appendFeed(tx, txn.table, txn);
        tx.onPrepared(() => lastLocalSeq.set(txn.table, txn.seq));
      },
    };
    s.setLocalSink(sink);

    const publish = (topic: string, payload: Uint8Array): Promise<void> =>
      broker ? broker.publish(topic, payload) : Promise.resolve();
    // Live feed: entries are published once durable, in hub-seq order.
    f.onAppend((table, entries) => {
      const def = s.getTable(table);
      if (!def) return;
      const batch = {
        table: def.name,
        hubEpoch: s.epoch,
        incarnation: def.incarnation,
        entries: entries.map((e) => ({ hubSeq: e.hubSeq, tx: e.tx })),
      };
      publish(topics.feed(def.name), encodeFeedMessage({ kind: 'batch', batch })).catch((err) =>
        log.warn({ err: String(err), table }, 'live feed publish failed'),
      );
    });

    const handleUp = makeUpHandler({
      store: s,
      feed: f,
      grants,
      stats,
      maxClockSkewMs: config.maxClockSkewMs,
      now,
      publish,
      log,
      refused,
      failpoints,
    });
    const handleSync = makeSyncHandler({
      store: s,
      feed: f,
      grants,
      maxClockSkewMs: config.maxClockSkewMs,
      page: config.catchupPage,
      now,
      publish,
      log,
      onHello: (node) => lastSeen.set(node, now()),
    });

    const e = await openEnrolment(config, s, grants, log, () => broker);
    enrolment = e;
    broker = await startBroker({
      host: config.mqtt.host,
      port: bound.tcp ?? config.mqtt.port,
      connectTimeoutMs: config.connectTimeoutMs,
      drainTimeoutMs: config.drainTimeoutMs,
      grants,
      ...brokerSecurityOptions(withPorts(config, bound), e, log, authRefusals),
      onPublished: (client, topic, payload) => {
        lastSeen.set(client.id, now());
        let parsed: ReturnType<typeof parseTopic>;
        try {
          parsed = parseTopic(topic);
        } catch {
          return;
        }
        if (parsed.kind === 'up') void handleUp(client.id, parsed.table, payload);
        else if (parsed.kind === 'sync') void handleSync(client.id, payload);
      },
      onClientConnected: (node) => connected.add(node),
      onClientDisconnected: (node) => connected.delete(node),
      onSubscribeRefused: (node, topic) => {
        refused.subscriptions++;
        log.warn({ node, topic }, 'subscription refused (I15)');
      },
    });

    timers.push(
      setInterval(() => {
        for (const def of s.listTables()) {
          const heartbeat = {
            table: def.name,
            hubEpoch: s.epoch,
            incarnation: def.incarnation,
            headSeq: f.head(def.name),
            hubTimeMs: now(),
          };
          void publish(topics.feed(def.name), encodeFeedMessage({ kind: 'heartbeat', heartbeat })).catch(
            () => {},
          );
        }
      }, config.heartbeatMs),
      setInterval(() => {
        f.trimFeed(now())
          .then((trimmed) => {
            maintenance.trimmed += trimmed;
            return f.collectTombstones(now());
          })
          .then((gc) => {
            maintenance.collected += gc.collected;
          })
          .catch((err) => log.warn({ err: String(err) }, 'feed maintenance failed'));
      }, config.maintenanceIntervalMs),
    );
    for (const t of timers) t.unref();

    const metrics = buildMetrics();
    // GET /_status for the CLI (status.ts), in front of the admin and data API
    const status = makeHubStatus({
      nodeId: config.nodeId,
      store: s,
      feed: f,
      enrolment: e,
      connected,
      lastSeen,
      stats,
      now,
      ports: () => broker?.ports,
    });
    timers.push(status.timer);
    http = await startHttp({
      host: config.http.host,
      port: bound.http ?? config.http.port,
      token: config.http.token,
      changes: s, // GET /{table}/changes (SSE)
      rest: status.wrap(
        restWithAdmin(
          e,
          () => broker,
          { store: s, write: (writes) => s.writeLocal(writes), isReadOnly: () => false, role: 'hub' },
          log,
        ),
      ),
      health: () => ({
        status: 'ok',
        node: config.nodeId,
        hubEpoch: s.epoch,
        connectedNodes: connected.size,
      }),
      metrics: () => metrics.render(),
      logger: log,
      maxTxBytes: config.limits.maxTxBytes,
    });
    bound = { ...broker.ports, http: http.port };
    log.info(
      { mqttPort: broker.port, httpPort: http.port, hubEpoch: s.epoch, dataDir: config.dataDir },
      'tablemesh-hub started',
    );
  }

  function buildMetrics(): MetricsRegistry {
    const m = new MetricsRegistry();
    const s = store!;
    const f = feed!;
    registerSecurityMetrics(m, broker!, authRefusals);
    m.gauge('tablemesh_connected_nodes', 'nodes connected now', { collect: () => connected.size });
    m.gauge('tablemesh_node_last_seen_seconds', 'seconds since a node was last heard from', {
      labelNames: ['node'],
      collect: () => [...lastSeen].map(([node, t]) => ({ labels: { node }, value: (now() - t) / 1000 })),
    });
    const counter = (name: string, help: string, value: () => number) =>
      m.gauge(name, help, { collect: () => value() });
    counter('tablemesh_applied_total', 'transactions applied at ingest', () => stats.applied);
    counter(
      'tablemesh_store_batches_total',
      'group batches written (fsyncs with durability fsync)',
      () => s.committer.batchesWritten,
    );
    counter(
      'tablemesh_store_transactions_total',
      'store transactions committed (reads under the lock included)',
      () => s.committer.transactionsCommitted,
    );
    counter('tablemesh_duplicates_total', 'duplicate transactions dropped (I9)', () => stats.duplicates);
    counter('tablemesh_gaps_total', 'batches refused for a gap (I8)', () => stats.gaps);
    counter('tablemesh_skipped_total', 'seqs consumed by SKIP ranges', () => stats.skipped);
    counter(
      'tablemesh_poison_total',
      'poison transactions receipted with an error (I11)',
      () => stats.poison,
    );
    counter('tablemesh_epoch_conflicts_total', 'TM_EPOCH_CONFLICT answers (I9)', () => stats.conflicts);
    counter('tablemesh_transient_total', 'transient refusals (I3, I11)', () => stats.transient);
    counter(
      'tablemesh_refused_forged_total',
      'batches refused for a forged origin (I15)',
      () => refused.forged,
    );
    counter(
      'tablemesh_refused_not_granted_total',
      'batches refused as not granted',
      () => refused.notGranted,
    );
    counter(
      'tablemesh_refused_subscriptions_total',
      'subscriptions refused (I15)',
      () => refused.subscriptions,
    );
    m.gauge('tablemesh_feed_head', 'latest hub seq per table', {
      labelNames: ['table'],
      collect: () => s.listTables().map((d) => ({ labels: { table: d.name }, value: f.head(d.name) })),
    });
    counter('tablemesh_feed_trimmed_total', 'feed entries removed by retention', () => maintenance.trimmed);
    counter('tablemesh_tombstones_collected_total', 'tombstones collected (I5)', () => maintenance.collected);
    m.gauge('tablemesh_feed_oldest', 'oldest retained hub seq per table (head + 1 when none)', {
      labelNames: ['table'],
      collect: () => s.listTables().map((d) => ({ labels: { table: d.name }, value: f.oldest(d.name) })),
    });
    return m;
  }

  async function stop(): Promise<void> {
    recovery.cancel();
    await stopParts();
  }

  /** Stops every part that runs (also after a partial start); the hub can be started again. */
  async function stopParts(): Promise<void> {
    for (const t of timers) clearInterval(t);
    timers.length = 0;
    await http?.close().catch(() => {});
    await broker?.close().catch(() => {});
    await store?.close().catch((err: unknown) => {
      if (!isTmError(err)) throw err;
    });
    http = undefined;
    broker = undefined;
    store = undefined;
    log.info('tablemesh-hub stopped');
  }

  return {
    start,
    stop,
    get store() {
      return store;
    },
    grants,
    get enrolment() {
      return enrolment;
    },
    get mqttPort() {
      return broker?.port;
    },
    get mqttPorts() {
      return broker?.ports;
    },
    get httpPort() {
      return http?.port;
    },
  };
}

/** `table` → `data.table`; `db.table` unchanged. */
function ref(name: string): string {
  return name.includes('.') ? name : `data.${name}`;
}

/** The config with the MQTT TLS and WebSocket ports a previous start bound (a restart keeps them). */
function withPorts(config: HubConfig, bound: { tls?: number; ws?: number }): HubConfig {
  const { tls, ws } = config.mqtt;
  if ((tls === undefined || bound.tls === undefined) && (ws === undefined || bound.ws === undefined))
    return config;
  return {
    ...config,
    mqtt: {
      ...config.mqtt,
      ...(tls && bound.tls !== undefined ? { tls: { ...tls, port: bound.tls } } : {}),
      ...(ws && bound.ws !== undefined ? { ws: { ...ws, port: bound.ws } } : {}),
    },
  };
}
