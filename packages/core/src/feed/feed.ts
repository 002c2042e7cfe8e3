/**
 * The hub's per-table change feed (SPEC §5 "Hub → edge"): every applied transaction gets the table's next hub
 * seq in the same batch as its data and mark (I7), is served in pages to catching-up subscribers, and is
 * retained by time and bytes. Cursors that cannot continue in the feed get a snapshot (I13). The feed also
 * owns the tombstone GC state (gc.ts, I5) and serves snapshots (snapshot.ts).
 */
import { TmError } from '../errors.js';
import type { Tx } from '../store/commit.js';
import { decodeKey, prefixEnd } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { Stamp, Transaction } from '../types.js';
import {
  type CollectOptions,
  type CollectResult,
  collectTombstones,
  indexTombstones,
  loadHorizons,
  reportCursor,
} from './gc.js';
import { FEED_META_PREFIX, feedEntryKey, feedMetaKey, feedPrefix } from './keys.js';
import { readSnapshotPage, type SnapshotOptions } from './snapshot.js';
import type {
  CursorStatus,
  FeedCursor,
  FeedEntry,
  FeedPage,
  PageLimits,
  SnapshotPage,
  StartPlan,
  StartSpec,
} from './types.js';

/** Feed and tombstone retention (SPEC §7 defaults). */
export interface FeedOptions {
  /** feed entries older than this are trimmed; default 7 d */
  readonly feedRetentionMs?: number;
  /** a table's feed is trimmed to at most this many bytes; default 1 GiB */
  readonly feedRetentionBytes?: number;
  /** tombstones younger than this are never collected (I5); default 30 d */
  readonly tombstoneRetentionMs?: number;
  /** hub wall clock for entry times; default the store's */
  readonly now?: () => number;
}

/** Default feed retention by time: 7 days. */
export const DEFAULT_FEED_RETENTION_MS = 7 * 24 * 3600_000;
/** Default feed retention by size: 1 GiB per table. */
export const DEFAULT_FEED_RETENTION_BYTES = 1024 ** 3;
/** Default tombstone retention: 30 days (I5). */
export const DEFAULT_TOMBSTONE_RETENTION_MS = 30 * 24 * 3600_000;
/** Default catch-up page: 500 entries or 256 KiB (SPEC §7). */
export const DEFAULT_PAGE_LIMITS = { maxEntries: 500, maxBytes: 256 * 1024 } as const;

/** Persisted state of one table's feed. */
interface FeedMeta {
  /** the table incarnation the retained entries belong to */
  incarnation: string;
  /** last hub seq handed out; seqs keep growing across incarnations */
  head: number;
  /** oldest retained hub seq (head + 1 when empty) */
  oldest: number;
  /** bytes of the retained entries */
  bytes: number;
  /** wall of the last entry: entry walls never go down */
  lastWall: number;
  /** wall of the newest trimmed entry of this incarnation; -1 while nothing was trimmed */
  trimmedWall: number;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const parse = <T>(b: Buffer): T => JSON.parse(b.toString('utf8')) as T;

/** The hub's feeds of all tables. Open with Feed.open after the store. */
export class Feed {
  readonly feedRetentionMs: number;
  readonly feedRetentionBytes: number;
  readonly tombstoneRetentionMs: number;
  /** prepared view of every table's meta (what the next transaction sees) */
  private readonly metas = new Map<string, FeedMeta>();
  /** highest hub seq per table whose batch is durable: only these are served */
  private readonly durableHeads = new Map<string, number>();
  /** @internal G per table (I5), prepared view; maintained by gc.ts */
  readonly horizons = new Map<string, Stamp>();
  private readonly pending = new WeakMap<Tx, Map<string, { meta: FeedMeta; appended: FeedEntry[] }>>();
  private readonly listeners = new Set<(table: string, entries: readonly FeedEntry[]) => void>();
  private readonly now: () => number;

  private constructor(
    readonly store: Store,
    options: FeedOptions,
  ) {
    this.feedRetentionMs = options.feedRetentionMs ?? DEFAULT_FEED_RETENTION_MS;
    this.feedRetentionBytes = options.feedRetentionBytes ?? DEFAULT_FEED_RETENTION_BYTES;
    this.tombstoneRetentionMs = options.tombstoneRetentionMs ?? DEFAULT_TOMBSTONE_RETENTION_MS;
    this.now = options.now ?? store.now;
  }

  /** Loads every table's feed meta and GC horizon. */
  static async open(store: Store, options: FeedOptions = {}): Promise<Feed> {
    const feed = new Feed(store, options);
    const range = { gte: FEED_META_PREFIX, lt: prefixEnd(FEED_META_PREFIX) };
    for await (const [key, value] of store.kv.iterate(range)) {
      const table = decodeKey(key)[1] as string;
      const meta = parse<FeedMeta>(value);
      feed.metas.set(table, meta);
      feed.durableHeads.set(table, meta.head);
    }
    await loadHorizons(feed);
    return feed;
  }

  /** Subscribes to entries once durable (the live feed); returns the unsubscribe function. */
  onAppend(listener: (table: string, entries: readonly FeedEntry[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The meta of `table` as the current incarnation sees it: a re-created table starts an empty feed. */
  private metaOf(table: string, tx?: Tx): FeedMeta {
    const def = this.store.requireTable(table);
    const known = (tx && this.pending.get(tx)?.get(def.name)?.meta) ?? this.metas.get(def.name);
    if (known === undefined) {
      return { incarnation: def.incarnation, head: 0, oldest: 1, bytes: 0, lastWall: 0, trimmedWall: -1 };
    }
    if (known.incarnation === def.incarnation) return known;
    // I13: hub seqs keep growing, so a cursor of the old incarnation never matches an entry of the new one.
    return { ...known, incarnation: def.incarnation, oldest: known.head + 1, bytes: 0, trimmedWall: -1 };
  }

  /**
   * Appends an applied transaction to its table's feed inside the ingest batch (I7) and indexes the tombstones
   * it wrote (I5). Returns its hub seq. Call after the transaction was merged.
   */
  async appendFeed(tx: Tx, table: string, txn: Transaction): Promise<number> {
    const def = this.store.requireTable(table);
    let perTx = this.pending.get(tx);
    if (!perTx) {
      perTx = new Map();
      this.pending.set(tx, perTx);
    }
    let open = perTx.get(def.name);
    if (!open) {
      const opened = { meta: { ...this.metaOf(def.name) }, appended: [] as FeedEntry[] };
      open = opened;
      perTx.set(def.name, opened);
      tx.onPrepared(() => this.metas.set(def.name, opened.meta));
      tx.onDurable(() => {
        this.durableHeads.set(def.name, Math.max(this.durableHeads.get(def.name) ?? 0, opened.meta.head));
        for (const listener of this.listeners) listener(def.name, opened.appended);
      });
    }
    const meta = open.meta;
    const hubSeq = meta.head + 1;
    const wall = Math.max(meta.lastWall, this.now());
    const entry: FeedEntry = { hubSeq, wall, tx: { ...txn, table: def.name } };
    const buf = json(entry);
    tx.put(feedEntryKey(def.name, hubSeq), buf);
    meta.head = hubSeq;
    meta.bytes += buf.length;
    meta.lastWall = wall;
    tx.put(feedMetaKey(def.name), json(meta));
    open.appended.push(entry);
    await indexTombstones(tx, this.store, def, hubSeq, txn);
    return hubSeq;
  }

  /** The table's latest durable hub seq (0 when nothing was appended). */
  head(table: string): number {
    return this.durableHeads.get(this.store.requireTable(table).name) ?? 0;
  }

  /** The oldest retained hub seq of the table's current incarnation (head + 1 when none is retained). */
  oldest(table: string): number {
    return this.metaOf(table).oldest;
  }

  /** Bytes of the table's retained entries. */
  retainedBytes(table: string): number {
    return this.metaOf(table).bytes;
  }

  /**
   * A page of durable entries after `afterHubSeq` (SPEC §5 catch-up), at most `maxEntries` and `maxBytes`
   * (always at least one entry when any is due). TM_NOT_FOUND with reason 'retention' when entries after
   * the cursor were trimmed: check cursorStatus first.
   */
  async readPage(table: string, afterHubSeq: number, limits: PageLimits = {}): Promise<FeedPage> {
    const name = this.store.requireTable(table).name;
    const maxEntries = limits.maxEntries ?? DEFAULT_PAGE_LIMITS.maxEntries;
    const maxBytes = limits.maxBytes ?? DEFAULT_PAGE_LIMITS.maxBytes;
    if (!Number.isSafeInteger(afterHubSeq) || afterHubSeq < 0) {
      throw new TmError('TM_INVALID_ARGUMENT', `hub seq must be a whole number ≥ 0, got ${afterHubSeq}`);
    }
    const headSeq = this.head(name);
    const entries: FeedEntry[] = [];
    if (afterHubSeq < headSeq) {
      if (afterHubSeq + 1 < this.oldest(name)) throw behindRetention(name, afterHubSeq);
      const range = { gt: feedEntryKey(name, afterHubSeq), lte: feedEntryKey(name, headSeq) };
      let bytes = 0;
      for await (const [, value] of this.store.kv.iterate(range)) {
        if (entries.length >= maxEntries || (entries.length > 0 && bytes + value.length > maxBytes)) break;
        const entry = parse<FeedEntry>(value);
        // Trimmed between the check and the read: the page would not be contiguous.
        if (entry.hubSeq !== afterHubSeq + entries.length + 1) throw behindRetention(name, afterHubSeq);
        entries.push(entry);
        bytes += value.length;
      }
    }
    const last = entries.length > 0 ? entries[entries.length - 1]!.hubSeq : afterHubSeq;
    return { entries, headSeq, headReached: last >= headSeq };
  }

  /** I13: whether `cursor` can continue in the table's feed, or why it needs a snapshot. */
  cursorStatus(table: string, cursor: FeedCursor): CursorStatus {
    const def = this.store.requireTable(table);
    if (cursor.hubEpoch !== this.store.epoch) return { status: 'snapshot', reason: 'hub-epoch' };
    if (cursor.incarnation !== def.incarnation) return { status: 'snapshot', reason: 'incarnation' };
    if (cursor.hubSeq > this.head(def.name)) return { status: 'snapshot', reason: 'beyond-head' };
    if (cursor.hubSeq + 1 < this.oldest(def.name)) return { status: 'snapshot', reason: 'retention' };
    return { status: 'ok' };
  }

  /**
   * Where a subscription without a cursor starts (SPEC §5): `now` → after the head; `beginning` → the feed
   * from its start if nothing of this incarnation was trimmed, else a snapshot; a time t → the first entry
   * appended at or after t if every such entry is retained, else a snapshot of records with stamps ≥ t.
   */
  async startPoint(table: string, spec: StartSpec): Promise<StartPlan> {
    const name = this.store.requireTable(table).name;
    const meta = this.metaOf(name);
    const head = this.head(name);
    if (spec === 'now') return { kind: 'feed', afterHubSeq: head };
    if (spec === 'beginning') {
      return meta.trimmedWall < 0 ? { kind: 'feed', afterHubSeq: meta.oldest - 1 } : { kind: 'snapshot' };
    }
    const t = spec.timeMs;
    if (!Number.isFinite(t)) throw new TmError('TM_INVALID_ARGUMENT', 'start time must be a number of ms');
    if (meta.trimmedWall >= t) return { kind: 'snapshot', minStampWall: t };
    // Entry walls never go down: binary search the first retained entry with wall ≥ t.
    let lo = meta.oldest;
    let hi = head + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const buf = await this.store.kv.get(feedEntryKey(name, mid));
      if (!buf) return { kind: 'snapshot', minStampWall: t }; // trimmed meanwhile
      if (parse<FeedEntry>(buf).wall >= t) hi = mid;
      else lo = mid + 1;
    }
    return { kind: 'feed', afterHubSeq: lo - 1 };
  }

  /**
   * Removes entries older than feedRetentionMs and, oldest first, beyond feedRetentionBytes, in every table,
   * plus entries of dropped incarnations. Returns the number of entries removed.
   */
  async trimFeed(nowMs: number = this.now(), batchSize = 10_000): Promise<number> {
    let removed = 0;
    for (const def of this.store.listTables()) {
      if (!this.metas.has(def.name)) continue;
      for (;;) {
        const n = await this.store.transact((tx) => this.trimBatch(tx, def.name, nowMs, batchSize));
        removed += n;
        if (n < batchSize) break;
      }
    }
    return removed;
  }

  private async trimBatch(tx: Tx, table: string, nowMs: number, batchSize: number): Promise<number> {
    const meta = { ...this.metaOf(table) };
    const cutoff = nowMs - this.feedRetentionMs;
    let n = 0;
    // Entries of an earlier incarnation of the table lie below `oldest`.
    for await (const [key] of tx.iterate({
      gte: feedPrefix(table),
      lt: feedEntryKey(table, meta.oldest),
      limit: batchSize,
    })) {
      tx.del(key);
      n++;
    }
    const range = { gte: feedEntryKey(table, meta.oldest), lt: prefixEnd(feedPrefix(table)) };
    for await (const [key, value] of tx.iterate(range)) {
      if (n >= batchSize) break;
      const entry = parse<FeedEntry>(value);
      if (entry.wall >= cutoff && meta.bytes <= this.feedRetentionBytes) break;
      tx.del(key);
      n++;
      meta.bytes = Math.max(0, meta.bytes - value.length);
      meta.oldest = entry.hubSeq + 1;
      meta.trimmedWall = Math.max(meta.trimmedWall, entry.wall);
    }
    if (n > 0) {
      tx.put(feedMetaKey(table), json(meta));
      tx.onPrepared(() => this.metas.set(table, meta));
    }
    return n;
  }

  /** A snapshot page of the table (I13); `after` is the previous page's resumeAfter, undefined to start. */
  readSnapshotPage(
    table: string,
    after: string | undefined,
    options: SnapshotOptions = {},
  ): Promise<SnapshotPage> {
    return readSnapshotPage(this, table, after, options);
  }

  /** G of I5 for the table: the largest stamp ever collected, or undefined. */
  gcHorizon(table: string): Stamp | undefined {
    return this.horizons.get(this.store.requireTable(table).name);
  }

  /** Records a subscriber's cursor for tombstone GC (I5); persisted. */
  reportCursor(
    node: string,
    table: string,
    cursor: number | FeedCursor,
    nowMs: number = this.now(),
  ): Promise<void> {
    return reportCursor(this, node, table, cursor, nowMs);
  }

  /** Collects tombstones every recent subscriber has passed and that are older than the retention (I5). */
  collectTombstones(nowMs: number = this.now(), options: CollectOptions = {}): Promise<CollectResult> {
    return collectTombstones(this, nowMs, options);
  }
}

function behindRetention(table: string, afterHubSeq: number): TmError {
  return new TmError('TM_NOT_FOUND', `feed of ${table} no longer holds entries after ${afterHubSeq}`, {
    reason: 'retention',
  });
}
