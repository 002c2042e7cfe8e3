/**
 * tablemesh-edge: the local store with its outbox, the local HTTP API (127.0.0.1), and the one outbound MQTT
 * link to the hub, with the publisher and the subscriber on it. Offline-first: the API serves reads and writes
 * with the hub unreachable (SPEC §2). `buildEdge` opens nothing; `start()` does.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeCatchupMessage,
  decodeFeedMessage,
  decodeReceipt,
  encodeKey,
  encodePresence,
  encodeSyncMessage,
  type Failpoints,
  isTmError,
  LevelKv,
  type LocalWrite,
  MetricsRegistry,
  Outbox,
  parseTopic,
  Store,
  topics,
  type WireWelcome,
  wallOffsetFor,
} from '@tablemesh/core';
import { StoreRecovery } from '@tablemesh/runtime';
import { type Logger, pino } from 'pino';
import type { EdgeConfig } from './config.js';
import { memoryProfileOf } from './config-memory.js';
import { type HttpServerHandle, startHttp } from './http.js';
import { Link } from './link.js';
import { Publisher } from './publisher.js';
import { ReceiptWaiter } from './receipt-waiter.js';
import { makeEdgeStatus } from './status.js';
import { Subscriber } from './subscriber.js';
import { EdgeSubscriptions } from './subscriptions.js';

/** Injected dependencies (tests give a clock or a logger). */
export interface EdgeDeps {
  readonly now?: () => number;
  readonly logger?: Logger;
  /** test builds only (SPEC §7): from TM_FAILPOINTS with TM_TESTKIT=1 */
  readonly failpoints?: Failpoints;
  /** what the binary did for the memory profile (V8 flags, missing startup settings), for the start log line */
  readonly memory?: Readonly<{ missing: readonly string[] } & Record<string, unknown>>;
}

/** A built edge. */
export interface Edge {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly store: Store | undefined;
  readonly outbox: Outbox | undefined;
  readonly httpPort: number | undefined;
  /** restarts after storage failures so far (runtime store-recovery.ts) */
  readonly restarts: number;
}

const VERSION = '0.1.0';
const META_HUB_EPOCH = encodeKey(['m', 'hubEpoch']);
const META_CLOCK_OFFSET = encodeKey(['m', 'clockOffset']);
const ref = (name: string): string => (name.includes('.') ? name : `data.${name}`);

/** Builds the edge from a validated config; opens nothing until start(). */
export function buildEdge(config: EdgeConfig, deps: EdgeDeps = {}): Edge {
  const now = deps.now ?? Date.now;
  const log = deps.logger ?? pino({ level: config.log.level, name: 'tablemesh-edge' });
  const published = config.publish.map((p) => ref(p.table));
  let store: Store | undefined;
  let outbox: Outbox | undefined;
  let link: Link | undefined;
  let http: HttpServerHandle | undefined;
  let publisher: Publisher | undefined;
  let subscriber: Subscriber | undefined;
  const timers: NodeJS.Timeout[] = [];
  const refusedSubscriptions: string[] = [];
  let boundHttpPort: number | undefined;
  // A failed storage write: stop everything and start again from the durable state (runtime store-recovery.ts).
  const recovery = new StoreRecovery({
    log,
    stop: () => stopParts(),
    start: () => start(),
  });

  async function start(): Promise<void> {
    // SPEC §7: active failpoints are logged at warn at start.
    if (deps.failpoints && !deps.failpoints.empty)
      log.warn({ failpoints: deps.failpoints.names }, 'failpoints active (test build)');
    mkdirSync(config.dataDir, { recursive: true });
    const s = await Store.open({
      ...(deps.failpoints ? { failpoints: deps.failpoints } : {}),
      kv: new LevelKv(join(config.dataDir, 'store'), memoryProfileOf(config).store),
      nodeId: config.nodeId,
      now,
      sync: config.durability === 'fsync',
      maxRecordBytes: config.limits.maxRecordBytes,
      maxTxBytes: config.limits.maxTxBytes,
      maxOpsPerTx: config.limits.maxOpsPerTx,
    });
    store = s;
    s.onFailure((err) => recovery.failed(err));
    const offset = await s.kv.get(META_CLOCK_OFFSET);
    if (offset) s.clock.setOffsetMs(Number(offset.toString('utf8'))); // I3: persisted wall offset
    for (const t of config.tables) {
      if (!s.getTable(t.name)) {
        await s.createTable({
          name: t.name,
          primaryKey: t.primaryKey,
          indexes: t.indexes,
          ...(t.expirationSec !== undefined ? { expirationSec: t.expirationSec } : {}),
        });
      }
    }
    for (const table of published) if (!s.getTable(table)) await s.createTable({ name: table });
    // Replication set: persisted, changed at run time by add_node & co; the config is its initial value.
    const repl = await EdgeSubscriptions.open(s, config, log);
    const o = await Outbox.open(s, {
      tables: repl.outboxTables(),
      tombstoneRetentionMs: config.tombstoneRetentionMs,
    });
    outbox = o;
    const receipts = new ReceiptWaiter(o); // confirm=hub (SPEC §8)

    // The hub epoch of the last welcome (persisted): receipts of another hub epoch precede a welcome that
    // re-uploads everything (I10), so the publisher leaves their epoch conflicts to it.
    let knownHubEpoch = (await s.kv.get(META_HUB_EPOCH))?.toString('utf8');
    const send = (topic: string, payload: Uint8Array): Promise<void> =>
      link ? link.publish(topic, payload) : Promise.reject(new Error('no link'));
    const pub = new Publisher({
      nodeId: config.nodeId,
      outbox: o,
      limits: config.limits,
      now,
      primaryKeyOf: (table) => s.getTable(table)?.primaryKey ?? 'id',
      hubEpoch: () => knownHubEpoch,
      send,
      connected: () => link?.connected === true,
      log,
      receipts,
    });
    publisher = pub;
    const sub = new Subscriber({
      nodeId: config.nodeId,
      store: s,
      now,
      requestTimeoutMs: config.limits.receiptTimeoutMs,
      ownEpochs: (table) => (o.publishedTables().includes(table) ? [o.next(table)?.epoch ?? ''] : []),
      pendingKeys: (table) => o.pendingKeys(table),
      send,
      log,
    });
    subscriber = sub;
    sub.setSubscriptions(repl.subscriptions());
    repl.attach({
      outbox: o,
      subscriber: sub,
      publisher: pub,
      link: () => link,
      onPublish: (t) => receipts.track(t),
    });
    await sub.loadCursors();

    async function onConnect(l: Link): Promise<void> {
      const wanted = [
        topics.receipt(config.nodeId),
        topics.catchup(config.nodeId),
        ...sub.subscribedTables().map((t) => topics.feed(t)),
      ];
      const granted = await l.subscribe(wanted);
      granted.forEach((qos, i) => {
        if (qos === 128) refusedSubscriptions.push(wanted[i]!);
      });
      if (granted.some((q) => q === 128))
        log.warn({ refused: refusedSubscriptions }, 'hub refused subscriptions');
      await l.publish(
        topics.presence(config.nodeId),
        encodePresence({ node: config.nodeId, online: true, version: VERSION, sinceMs: now() }),
        true,
      );
      const publishes = [];
      for (const table of o.publishedTables()) {
        const st = await o.stats(table);
        publishes.push({ table, epoch: st.epoch, receiptedThrough: st.receiptedThrough });
      }
      const lastHubEpoch = (await s.kv.get(META_HUB_EPOCH))?.toString('utf8') ?? '';
      await l.publish(
        topics.sync(config.nodeId),
        encodeSyncMessage({
          kind: 'hello',
          hello: {
            node: config.nodeId,
            storeEpoch: s.epoch,
            lastHubEpoch,
            publishes,
            subs: sub.cursors().map((c) => ({ table: c.table, cursor: c.cursor })),
            version: VERSION,
          },
        }),
      );
    }

    async function onWelcome(welcome: WireWelcome): Promise<void> {
      // I3: a clock that differs from the hub's by more than half the bound runs on a persisted offset.
      const wanted = wallOffsetFor(welcome.hubTimeMs, Date.now(), welcome.maxClockSkewMs);
      if (wanted !== s.clock.offsetMs) {
        if (wanted !== 0)
          log.warn({ offsetMs: wanted }, 'local clock differs from the hub: using a wall offset (I3)');
        s.clock.setOffsetMs(wanted);
        await s.transact((tx) => tx.put(META_CLOCK_OFFSET, Buffer.from(String(wanted))));
      }
      const last = (await s.kv.get(META_HUB_EPOCH))?.toString('utf8');
      if (last !== welcome.hubEpoch) {
        if (last) {
          // I10: the hub was wiped or replaced. Re-upload what we publish under fresh epochs; subscriptions
          // re-baseline by themselves (their cursors name the old hub epoch, I13).
          log.warn(
            { old: last, hubEpoch: welcome.hubEpoch },
            'unseen hub epoch: re-upload and re-baseline (I10)',
          );
          for (const table of o.publishedTables()) await o.rotateEpoch(table);
        }
        await s.transact((tx) => tx.put(META_HUB_EPOCH, Buffer.from(welcome.hubEpoch)));
        knownHubEpoch = welcome.hubEpoch;
      }
      // The link may have dropped while this welcome was handled (its onDisconnect stopped both already): the
      // welcome of the next connection starts them.
      if (!l.connected) {
        log.info('the link dropped while the welcome was handled: waiting for the next welcome');
        return;
      }
      pub.start();
      sub.start();
    }

    function onMessage(topic: string, payload: Buffer): void {
      try {
        const parsed = parseTopic(topic);
        if (parsed.kind === 'receipt') {
          void pub
            .onReceipt(decodeReceipt(payload))
            .catch((err) => log.warn({ err: String(err) }, 'receipt'));
        } else if (parsed.kind === 'catchup') {
          const msg = decodeCatchupMessage(payload);
          if (msg.kind === 'welcome')
            void onWelcome(msg.welcome).catch((err) => log.warn({ err: String(err) }, 'welcome'));
          else if (msg.kind === 'catchupPage') void sub.onCatchupPage(msg.catchupPage);
          else if (msg.kind === 'snapshotPage') void sub.onSnapshotPage(msg.snapshotPage);
          else void sub.onSyncError(msg.error);
        } else if (parsed.kind === 'feed') {
          const msg = decodeFeedMessage(payload);
          if (msg.kind === 'batch') void sub.onFeedBatch(msg.batch);
          else void sub.onHeartbeat(msg.heartbeat);
        }
      } catch (err) {
        log.warn({ topic, err: String(err) }, 'message from the hub dropped');
      }
    }

    const l: Link = new Link(
      {
        url: config.hub.url,
        clientId: config.nodeId,
        ...(config.hub.username !== undefined ? { username: config.hub.username } : {}),
        ...(config.hub.password !== undefined ? { password: config.hub.password } : {}),
        ...(config.hub.ca !== undefined ? { ca: config.hub.ca } : {}),
        ...(config.hub.cert !== undefined ? { cert: config.hub.cert } : {}),
        ...(config.hub.key !== undefined ? { key: config.hub.key } : {}),
        ...(config.hub.pin !== undefined ? { pin: config.hub.pin } : {}),
        connectTimeoutMs: config.hub.connectTimeoutMs,
        keepaliveSec: config.hub.keepaliveSec,
        backoff: config.hub.backoff,
        will: {
          topic: topics.presence(config.nodeId),
          payload: Buffer.from(
            encodePresence({ node: config.nodeId, online: false, version: VERSION, sinceMs: 0 }),
          ),
        },
      },
      {
        onConnect: () => void onConnect(l).catch((err) => log.warn({ err: String(err) }, 'hello failed')),
        onMessage,
        onDisconnect: (reason) => {
          log.warn({ reason }, 'link to the hub lost');
          pub.stop();
          sub.stop();
        },
      },
    );
    link = l;

    const write = async (writes: LocalWrite[]) => {
      const txns = await s.writeLocal(writes);
      pub.notify();
      return txns;
    };
    const metrics = await buildMetrics(o, l, pub, sub);
    // GET /_status and /_quarantine for the CLI (status.ts), in front of the data API
    const status = makeEdgeStatus({
      nodeId: config.nodeId,
      hubUrl: config.hub.url,
      store: s,
      outbox: o,
      link: l,
      subscriber: sub,
      notify: () => pub.notify(),
    });
    timers.push(status.timer);
    const onInternalError = (err: unknown) => log.error({ err }, 'http request failed');
    http = await startHttp({
      host: config.http.host,
      // A restart after a storage failure binds the port of the first start: clients keep their address.
      port: boundHttpPort ?? config.http.port,
      token: config.http.token,
      changes: s,
      rest: status.wrap(
        { store: s, write, isReadOnly: (table) => repl.isReadOnly(table), receipts, cluster: repl },
        onInternalError,
      ),
      health: () => ({ status: 'ok', node: config.nodeId, link: l.state, storeEpoch: s.epoch }),
      metrics: () => metrics.render(),
      logger: log,
      maxTxBytes: config.limits.maxTxBytes,
    });
    boundHttpPort = http.port;

    timers.push(
      setInterval(() => {
        if (!l.connected || sub.cursors().length === 0) return;
        const report = encodeSyncMessage({
          kind: 'cursorReport',
          cursorReport: { node: config.nodeId, cursors: sub.cursors() },
        });
        void l.publish(topics.sync(config.nodeId), report).catch(() => {});
      }, 5_000),
      setInterval(() => sub.checkTimeouts(), 1_000),
      setInterval(() => {
        o.expire(now())
          .then(() => s.sweepExpired(now()))
          .catch((err) => log.warn({ err: String(err) }, 'retention sweep failed'));
      }, 10_000),
    );
    for (const t of timers) t.unref();
    l.start();
    const memory = {
      ...deps.memory,
      profile: memoryProfileOf(config).name,
      store: memoryProfileOf(config).store,
    };
    if (deps.memory && deps.memory.missing.length > 0)
      log.warn({ missing: deps.memory.missing }, 'memory profile: startup settings missing (docs/memory.md)');
    log.info(
      { httpPort: http.port, hub: config.hub.url, storeEpoch: s.epoch, memory },
      'tablemesh-edge started',
    );
  }

  async function buildMetrics(o: Outbox, l: Link, pub: Publisher, sub: Subscriber) {
    const m = new MetricsRegistry();
    const perTable = async () => Promise.all(o.publishedTables().map((t) => o.stats(t)));
    let cached: Awaited<ReturnType<typeof perTable>> = [];
    const refresh = () => {
      void perTable().then((v) => {
        cached = v;
      });
    };
    refresh();
    const refreshTimer = setInterval(refresh, 1_000);
    refreshTimer.unref();
    timers.push(refreshTimer);
    const states = ['idle', 'connecting', 'connected', 'backing-off', 'stopped'];
    m.gauge('tablemesh_link_state', 'link state (1 for the current one)', {
      labelNames: ['state'],
      collect: () => states.map((state) => ({ labels: { state }, value: l.state === state ? 1 : 0 })),
    });
    const table = (name: string, help: string, pick: (st: (typeof cached)[number]) => number) =>
      m.gauge(name, help, {
        labelNames: ['table'],
        collect: () => cached.map((st) => ({ labels: { table: st.table }, value: pick(st) })),
      });
    table('tablemesh_backlog_count', 'unreceipted transactions in the outbox', (st) => st.backlogCount);
    table('tablemesh_backlog_bytes', 'bytes of unreceipted transactions', (st) => st.backlogBytes);
    table('tablemesh_backlog_oldest_age_seconds', 'age of the oldest unsent transaction', (st) =>
      st.oldestUnsentAgeMs === null ? 0 : st.oldestUnsentAgeMs / 1000,
    );
    table('tablemesh_receipted_through', 'last receipted seq', (st) => st.receiptedThrough);
    table(
      'tablemesh_skipped_total',
      'transactions skipped (drop-oldest, ttl, coalesced)',
      (st) => st.skippedTotal,
    );
    table('tablemesh_quarantined', 'transactions in quarantine (I11)', (st) => st.quarantined);
    m.gauge('tablemesh_held', 'outbox held by a transient refusal (1), by reason', {
      labelNames: ['table', 'code'],
      collect: () =>
        cached
          .filter((st) => st.held)
          .map((st) => ({ labels: { table: st.table, code: st.held!.code }, value: 1 })),
    });
    m.gauge('tablemesh_feed_lag', 'hub seqs seen but not applied, per subscribed table', {
      labelNames: ['table'],
      collect: () =>
        sub.state().map((x) => ({
          labels: { table: x.table },
          value: Math.max(0, x.headSeen - (x.cursor?.hubSeq ?? 0)),
        })),
    });
    const counters = (prefix: string, values: Record<string, number>) => {
      for (const key of Object.keys(values)) {
        const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
        m.gauge(`tablemesh_${prefix}_${snake}_total`, `${prefix} ${key}`, {
          collect: () => values[key] ?? 0,
        });
      }
    };
    counters('publisher', pub.counters);
    counters('subscriber', sub.counters);
    // fsyncs per replicated transaction: the figure that tells whether group commit groups (SPEC §10)
    const committer = o.store.committer;
    counters('store', {
      get batches() {
        return committer.batchesWritten;
      },
      get transactions() {
        return committer.transactionsCommitted;
      },
    });
    counters('link', l.counters);
    return m;
  }

  async function stop(): Promise<void> {
    recovery.cancel();
    await stopParts();
  }

  /** Stops every part that runs (also after a partial start); the edge can be started again. */
  async function stopParts(): Promise<void> {
    for (const t of timers) clearInterval(t);
    timers.length = 0;
    refusedSubscriptions.length = 0;
    publisher?.stop();
    subscriber?.stop();
    await link?.stop().catch(() => {});
    await http?.close().catch(() => {});
    outbox?.close();
    await store?.close().catch((err: unknown) => {
      if (!isTmError(err)) throw err;
    });
    publisher = undefined;
    subscriber = undefined;
    link = undefined;
    http = undefined;
    outbox = undefined;
    store = undefined;
    log.info('tablemesh-edge stopped');
  }

  return {
    start,
    stop,
    get store() {
      return store;
    },
    get outbox() {
      return outbox;
    },
    get httpPort() {
      return http?.port;
    },
    get restarts() {
      return recovery.restarts;
    },
  };
}
