/**
 * The subscriber keeps each subscribed table in step with the hub's feed (SPEC §5 "Hub → edge"):
 * a persisted cursor per table (hubEpoch, incarnation, hubSeq) written in the batch of the applied data, one
 * pulled catch-up request at a time per table, live feed batches applied only when contiguous (else a catch-up),
 * echo suppression (I12), and re-baseline by snapshot as a merge (I13) when the hub says so. Head heartbeats
 * reveal a lost live message even on a quiet table.
 */
import { randomBytes } from 'node:crypto';
import {
  applyFeedEntries,
  applySnapshotPage,
  encodeSyncMessage,
  type FeedApplyResult,
  type FeedCursor,
  type FeedEntry,
  finishSnapshot,
  readFeedCursor,
  type SnapshotProgress,
  type Store,
  topics,
  type WireCatchupPage,
  type WireFeedBatch,
  type WireHeadHeartbeat,
  type WireSnapshotPage,
  type WireStartPoint,
  type WireSyncError,
  type WireTableDef,
} from '@tablemesh/core';

/** A subscription as configured: table and start point. */
export interface Subscription {
  readonly table: string;
  readonly start: 'now' | 'beginning' | number;
}

/** What the subscriber needs. */
export interface SubscriberDeps {
  readonly nodeId: string;
  readonly store: Store;
  readonly now: () => number;
  readonly requestTimeoutMs: number;
  /** this node's current publish epoch of a table, for echo suppression (I12) */
  ownEpochs(table: string): string[];
  /** keys with unreceipted local writes (I13 keeps those records) */
  pendingKeys(table: string): Promise<Set<string>>;
  send(topic: string, payload: Uint8Array): Promise<void>;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

type Phase = 'idle' | 'catchup' | 'snapshot' | 'live';

interface TableSync {
  readonly sub: Subscription;
  phase: Phase;
  cursor: FeedCursor | undefined;
  requestId: string | undefined;
  requestedAt: number;
  snapshot: SnapshotProgress | undefined;
  resumeAfter: string;
  partial: boolean;
  headSeen: number;
  lastError: string | undefined;
  /** `now` asked of a table the hub did not have yet: all of it is after now, so it starts at the beginning */
  startFromBeginning: boolean;
  /** highest hub seq of a live batch prepared (maybe not durable yet); memory only */
  preparedSeq: number;
}

/** Pulls catch-up and snapshot pages and applies live feed batches. */
export class Subscriber {
  readonly counters = {
    pages: 0,
    snapshotPages: 0,
    liveApplied: 0,
    echoes: 0,
    outOfOrder: 0,
    removedBySnapshot: 0,
  };
  private readonly tables = new Map<string, TableSync>();
  private active = false;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly deps: SubscriberDeps) {}

  /** Sets the subscriptions (config, or changed at run time). */
  setSubscriptions(subs: readonly Subscription[]): void {
    const wanted = new Set(subs.map((s) => s.table));
    for (const table of this.tables.keys()) if (!wanted.has(table)) this.tables.delete(table);
    for (const sub of subs) {
      if (this.tables.has(sub.table)) continue;
      this.tables.set(sub.table, {
        sub,
        phase: 'idle',
        cursor: undefined,
        requestId: undefined,
        requestedAt: 0,
        snapshot: undefined,
        resumeAfter: '',
        partial: false,
        headSeen: 0,
        lastError: undefined,
        startFromBeginning: false,
        preparedSeq: 0,
      });
      if (this.active) void this.run(() => this.begin(sub.table));
    }
  }

  /** Subscribed tables, for topics and hello. */
  subscribedTables(): string[] {
    return [...this.tables.keys()];
  }

  /** Cursor and phase per table (status, metrics, hello). */
  state(): {
    table: string;
    phase: Phase;
    cursor: FeedCursor | undefined;
    headSeen: number;
    lastError?: string;
  }[] {
    return [...this.tables.values()].map((t) => ({
      table: t.sub.table,
      phase: t.phase,
      cursor: t.cursor,
      headSeen: t.headSeen,
      ...(t.lastError ? { lastError: t.lastError } : {}),
    }));
  }

  /** Loads persisted cursors (before hello). */
  async loadCursors(): Promise<void> {
    for (const t of this.tables.values()) {
      if (this.deps.store.getTable(t.sub.table))
        t.cursor = await readFeedCursor(this.deps.store, t.sub.table);
    }
  }

  /** Welcomed by the hub: start syncing every table. */
  start(): void {
    this.active = true;
    for (const table of this.tables.keys()) void this.run(() => this.begin(table));
  }

  /** Link down: outstanding requests are void. */
  stop(): void {
    this.active = false;
    for (const t of this.tables.values()) {
      t.requestId = undefined;
      t.preparedSeq = 0;
      if (t.phase !== 'snapshot') t.phase = 'idle';
    }
  }

  /** Re-sends requests that got no answer (lost on a dropped link). */
  checkTimeouts(): void {
    if (!this.active) return;
    const limit = this.deps.now() - this.deps.requestTimeoutMs;
    for (const t of this.tables.values()) {
      if (t.requestId !== undefined && t.requestedAt < limit) void this.run(() => this.request(t));
    }
  }

  /** Handlers run one at a time so a page and a live batch never interleave. */
  private run(fn: () => Promise<void>): Promise<void> {
    this.chain = this.chain
      .then(fn)
      .catch((err) => this.deps.log.warn({ err: String(err) }, 'subscriber error'));
    return this.chain;
  }

  private async begin(table: string): Promise<void> {
    const t = this.tables.get(table);
    if (!t || !this.active) return;
    if (this.deps.store.getTable(table)) t.cursor = await readFeedCursor(this.deps.store, table);
    t.preparedSeq = 0;
    if (t.phase !== 'snapshot') {
      t.snapshot = undefined;
      t.resumeAfter = '';
    }
    await this.request(t);
  }

  private async request(t: TableSync): Promise<void> {
    if (!this.active) return;
    const requestId = randomBytes(6).toString('hex');
    t.requestId = requestId;
    t.requestedAt = this.deps.now();
    if (t.phase !== 'snapshot') t.phase = 'catchup';
    const start: WireStartPoint = t.startFromBeginning
      ? { kind: 'beginning' }
      : t.sub.start === 'now' || t.sub.start === 'beginning'
        ? { kind: t.sub.start }
        : { kind: 'timestamp', ms: t.sub.start };
    const payload = encodeSyncMessage({
      kind: 'syncRequest',
      syncRequest: {
        requestId,
        table: t.sub.table,
        ...(t.cursor ? { cursor: t.cursor } : {}),
        start,
        snapshotResumeAfter: t.phase === 'snapshot' ? t.resumeAfter : '',
        maxEntries: 0,
        maxBytes: 0,
      },
    });
    await this.deps.send(topics.sync(this.deps.nodeId), payload).catch(() => {
      t.requestId = undefined; // resent after the next welcome
    });
  }

  /** The hub's table definition: create the local table the first time (SPEC §5: definitions are the hub's). */
  private async ensureTable(def: WireTableDef): Promise<boolean> {
    const local = this.deps.store.getTable(def.table);
    if (!local) {
      await this.deps.store.createTable({
        name: def.table,
        primaryKey: def.primaryKey,
        indexes: def.indexes,
        incarnation: def.incarnation,
      });
      return true;
    }
    if (local.primaryKey !== def.primaryKey) {
      this.deps.log.warn(
        { table: def.table },
        `TM_SCHEMA_MISMATCH: hub key '${def.primaryKey}', local '${local.primaryKey}'`,
      );
      return false;
    }
    return true;
  }

  /** A catch-up page answered our request. */
  onCatchupPage(page: WireCatchupPage): Promise<void> {
    return this.run(async () => {
      const t = this.tables.get(page.def.table);
      if (!t || page.requestId !== t.requestId) return; // stale or not ours
      t.requestId = undefined;
      if (!(await this.ensureTable(page.def))) return;
      this.counters.pages++;
      t.headSeen = Math.max(t.headSeen, page.headSeq);
      const first = page.entries[0]?.hubSeq;
      const base: FeedCursor =
        t.cursor && t.cursor.hubEpoch === page.hubEpoch && t.cursor.incarnation === page.def.incarnation
          ? t.cursor
          : {
              hubEpoch: page.hubEpoch,
              incarnation: page.def.incarnation,
              hubSeq: first !== undefined ? first - 1 : page.headSeq,
            };
      const applied = await this.apply(t, base, page.entries);
      if (!applied) return;
      if (page.headReached) t.phase = 'live';
      else await this.request(t);
    });
  }

  /** A snapshot page answered our request (I13). */
  onSnapshotPage(page: WireSnapshotPage): Promise<void> {
    return this.run(async () => {
      const t = this.tables.get(page.def.table);
      if (!t || page.requestId !== t.requestId) return;
      t.requestId = undefined;
      if (!(await this.ensureTable(page.def))) return;
      this.counters.snapshotPages++;
      if (t.phase !== 'snapshot') {
        t.phase = 'snapshot';
        t.snapshot = undefined;
        t.partial = typeof t.sub.start === 'number' && t.cursor === undefined;
      }
      t.snapshot = await applySnapshotPage(
        this.deps.store,
        page.def.table,
        {
          records: page.records,
          gcHorizon: page.gcHorizon,
          asOfHubSeq: page.asOfHubSeq,
          last: page.last,
          partial: t.partial,
        },
        t.snapshot,
      );
      if (!page.last) {
        t.resumeAfter = page.resumeAfter;
        await this.request(t);
        return;
      }
      const pending = await this.deps.pendingKeys(page.def.table);
      const done = await finishSnapshot(
        this.deps.store,
        t.snapshot,
        { hubEpoch: page.hubEpoch, incarnation: page.def.incarnation },
        async (_table, key) => pending.has(JSON.stringify(key)),
      );
      this.counters.removedBySnapshot += done.removed.length;
      this.deps.log.info(
        { table: page.def.table, removed: done.removed.length, kept: done.kept.length },
        're-baselined by snapshot (I13)',
      );
      t.cursor = done.cursor;
      t.snapshot = undefined;
      t.resumeAfter = '';
      t.phase = 'catchup';
      await this.request(t); // the feed after the snapshot's position
    });
  }

  /** The hub refused a request (not granted, unknown table…): retry later. */
  onSyncError(error: WireSyncError): Promise<void> {
    return this.run(async () => {
      const t = this.tables.get(error.table);
      if (!t || error.requestId !== t.requestId) return;
      t.requestId = undefined;
      t.phase = 'idle';
      t.lastError = `${error.code}: ${error.message}`;
      // Subscribed before the table existed on the hub (a publisher's first batch creates it, SPEC §5): with
      // `now`, the retry would start at the head by then and miss what was written meanwhile.
      if (error.code === 'TM_UNKNOWN_TABLE' && t.cursor === undefined && t.sub.start === 'now') {
        t.startFromBeginning = true;
      }
      this.deps.log.warn({ table: error.table, code: error.code }, `sync refused: ${error.message}`);
      const retry = setTimeout(
        () => void this.run(() => this.begin(error.table)),
        error.retryAfterMs || 5_000,
      );
      retry.unref();
    });
  }

  /** A live feed batch: applied only when live and contiguous; otherwise it starts a catch-up. */
  onFeedBatch(batch: WireFeedBatch): Promise<void> {
    return this.run(async () => {
      const t = this.tables.get(batch.table);
      if (!t || !this.active) return;
      const last = batch.entries[batch.entries.length - 1]?.hubSeq ?? 0;
      t.headSeen = Math.max(t.headSeen, last);
      if (t.phase !== 'live' || !t.cursor) return; // dropped while catching up (SPEC §5)
      if (t.cursor.hubEpoch !== batch.hubEpoch || t.cursor.incarnation !== batch.incarnation) {
        await this.request(t);
        return;
      }
      // Pipelined: the chain moves on once this batch is prepared, so a burst of live batches shares fsyncs;
      // t.cursor still moves only once each is durable (S2).
      if (await this.apply(t, t.cursor, batch.entries, true))
        this.counters.liveApplied += batch.entries.length;
    });
  }

  /** A head heartbeat: behind the head with nothing outstanding means a live message was lost. */
  onHeartbeat(beat: WireHeadHeartbeat): Promise<void> {
    return this.run(async () => {
      const t = this.tables.get(beat.table);
      if (!t || !this.active) return;
      t.headSeen = Math.max(t.headSeen, beat.headSeq);
      const other =
        t.cursor && (t.cursor.hubEpoch !== beat.hubEpoch || t.cursor.incarnation !== beat.incarnation);
      // a live batch prepared but not yet durable is not "behind"
      const behind = Math.max(t.cursor?.hubSeq ?? 0, t.preparedSeq) < beat.headSeq;
      if (t.phase === 'live' && (other || behind) && t.requestId === undefined) {
        t.phase = 'catchup';
        await this.request(t);
      }
    });
  }

  /**
   * Applies contiguous entries; a hole starts a catch-up. Returns true when applied. `pipelined`: resolves once
   * the batch is prepared (the next one reads its cursor through the commit overlay) and sets t.cursor when it
   * is durable; otherwise resolves when durable.
   */
  private async apply(
    t: TableSync,
    base: FeedCursor,
    entries: readonly { hubSeq: number; tx: FeedEntry['tx'] }[],
    pipelined = false,
  ) {
    let onPrepared: ((r: FeedApplyResult) => void) | undefined;
    const prepared = pipelined
      ? new Promise<FeedApplyResult>((resolve) => {
          onPrepared = resolve;
        })
      : undefined;
    const durable = applyFeedEntries(
      this.deps.store,
      t.sub.table,
      entries.map((e) => ({ hubSeq: e.hubSeq, wall: 0, tx: e.tx })),
      base,
      this.deps.nodeId,
      this.deps.ownEpochs(t.sub.table),
      onPrepared,
    ).then((r) => {
      // Durable results come in commit order; a cursor of another feed (re-baselined since) is not ours.
      const same = t.cursor?.hubEpoch === r.cursor.hubEpoch && t.cursor.incarnation === r.cursor.incarnation;
      if (!pipelined) t.cursor = r.cursor;
      else if (same && r.cursor.hubSeq > (t.cursor?.hubSeq ?? 0)) t.cursor = r.cursor;
      return r;
    });
    const result = prepared ? await Promise.race([prepared, durable]) : await durable;
    if (pipelined && result.ok) t.preparedSeq = Math.max(t.preparedSeq, result.cursor.hubSeq);
    if (prepared) {
      durable.catch((err) => this.deps.log.warn({ err: String(err) }, 'subscriber: feed batch not applied'));
    }
    if (result.ok) {
      this.counters.echoes += result.echoes;
      return true;
    }
    this.counters.outOfOrder++;
    t.phase = 'catchup';
    await durable; // the request names t.cursor
    await this.request(t);
    return false;
  }

  /** Cursors to report for tombstone GC (I5). */
  cursors(): { table: string; cursor: FeedCursor }[] {
    return [...this.tables.values()].flatMap((t) =>
      t.cursor ? [{ table: t.sub.table, cursor: t.cursor }] : [],
    );
  }
}
