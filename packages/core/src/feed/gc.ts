/**
 * Tombstone GC on the hub (I5). Every tombstone the ingest writes is indexed by the hub seq of its feed entry
 * (`['gt', table, hubSeq, key]`). Subscribers report their cursors; a tombstone is collected once its W is older
 * than tombstoneRetentionMs and every subscriber seen within that period has reported a cursor at or past its
 * hub seq. G, the largest stamp ever collected, is persisted per table, carried in snapshots, and makes the
 * ingest refuse writes stamped ≤ G to keys the hub does not hold (TM_BELOW_GC_HORIZON).
 */
import { compareStamp } from '../hlc.js';
import type { Tx } from '../store/commit.js';
import { decodeKey, prefixEnd } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { TableDef } from '../store/tables.js';
import type { PrimaryKey, RecordState, Stamp, Transaction } from '../types.js';
import type { Feed } from './feed.js';
import {
  HORIZON_PREFIX,
  horizonKey,
  subscriberKey,
  subscriberPrefix,
  tombstoneKey,
  tombstonePrefix,
  tombstoneSeqKey,
} from './keys.js';
import type { FeedCursor } from './types.js';

/** Options of a GC run. */
export interface CollectOptions {
  /** default: the feed's tombstoneRetentionMs (30 d) */
  readonly tombstoneRetentionMs?: number;
  /** index entries examined per transaction */
  readonly batchSize?: number;
}

/** What a GC run did, per table. */
export interface CollectResult {
  /** tombstones removed */
  readonly collected: number;
  /** per table: removed count and G afterwards */
  readonly tables: readonly { table: string; collected: number; horizon: Stamp | undefined }[];
}

/** A subscriber's last cursor report, as persisted. */
export interface SubscriberReport {
  readonly hubSeq: number;
  readonly seenMs: number;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const parse = <T>(b: Buffer): T => JSON.parse(b.toString('utf8')) as T;

/** A tombstone: W is a delete and no attribute outlives it (I4, I5). */
function isTombstone(state: RecordState | undefined): state is RecordState & { w: { stamp: Stamp } } {
  return state?.w?.kind === 'delete' && Object.keys(state.attrs).length === 0;
}

/** @internal loads G of every table into the feed. */
export async function loadHorizons(feed: Feed): Promise<void> {
  for await (const [key, value] of feed.store.kv.iterate({
    gte: HORIZON_PREFIX,
    lt: prefixEnd(HORIZON_PREFIX),
  })) {
    feed.horizons.set(decodeKey(key)[1] as string, parse<Stamp>(value));
  }
}

/** @internal I5: indexes the tombstones `txn` (just merged at `hubSeq`) wrote, in the same batch. */
export async function indexTombstones(
  tx: Tx,
  store: Store,
  def: TableDef,
  hubSeq: number,
  txn: Transaction,
): Promise<void> {
  for (const op of txn.ops) {
    if (op.kind !== 'delete') continue; // only a delete sets W to a delete
    const state = await store.readState(tx, def.name, op.key);
    if (isTombstone(state) && compareStamp(state.w.stamp, txn.stamp) === 0) {
      tx.put(tombstoneKey(def.name, hubSeq, op.key), json(txn.stamp));
    }
  }
}

/**
 * Records a subscriber's cursor (persisted, last report wins). A cursor of another hub epoch or incarnation
 * counts as 0: that subscriber has passed nothing of this feed and holds GC back until it re-baselines.
 */
export async function reportCursor(
  feed: Feed,
  node: string,
  table: string,
  cursor: number | FeedCursor,
  nowMs: number,
): Promise<void> {
  const def = feed.store.requireTable(table);
  let hubSeq: number;
  if (typeof cursor === 'number') hubSeq = cursor;
  else
    hubSeq =
      cursor.hubEpoch === feed.store.epoch && cursor.incarnation === def.incarnation ? cursor.hubSeq : 0;
  if (!Number.isSafeInteger(hubSeq) || hubSeq < 0) hubSeq = 0;
  const report: SubscriberReport = { hubSeq, seenMs: nowMs };
  await feed.store.transact((tx) => tx.put(subscriberKey(def.name, node), json(report)));
}

/** The smallest cursor of the subscribers seen since `sinceMs`; Infinity when there is none. */
async function safeHubSeq(store: Store, table: string, sinceMs: number): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  const prefix = subscriberPrefix(table);
  for await (const [, value] of store.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
    const report = parse<SubscriberReport>(value);
    if (report.seenMs >= sinceMs) min = Math.min(min, report.hubSeq);
  }
  return min;
}

/** I5: collects eligible tombstones of every table and raises G. */
export async function collectTombstones(
  feed: Feed,
  nowMs: number,
  options: CollectOptions = {},
): Promise<CollectResult> {
  const retention = options.tombstoneRetentionMs ?? feed.tombstoneRetentionMs;
  const batchSize = options.batchSize ?? 1000;
  const cutoff = nowMs - retention;
  const tables: { table: string; collected: number; horizon: Stamp | undefined }[] = [];
  let total = 0;
  for (const def of feed.store.listTables()) {
    const safe = await safeHubSeq(feed.store, def.name, cutoff);
    let collected = 0;
    if (safe >= 1) {
      const prefix = tombstonePrefix(def.name);
      const upper = Number.isFinite(safe) ? tombstoneSeqKey(def.name, safe + 1) : prefixEnd(prefix);
      let after: string | undefined;
      for (;;) {
        const run = await feed.store.transact((tx) =>
          collectBatch(feed, tx, def, { after, prefix, upper, cutoff, batchSize }),
        );
        collected += run.collected;
        after = run.last;
        if (run.scanned < batchSize) break;
      }
    }
    total += collected;
    tables.push({ table: def.name, collected, horizon: feed.horizons.get(def.name) });
  }
  return { collected: total, tables };
}

interface BatchArgs {
  readonly after: string | undefined;
  readonly prefix: string;
  readonly upper: string;
  readonly cutoff: number;
  readonly batchSize: number;
}

async function collectBatch(
  feed: Feed,
  tx: Tx,
  def: TableDef,
  args: BatchArgs,
): Promise<{ scanned: number; collected: number; last: string | undefined }> {
  const range =
    args.after === undefined
      ? { gte: args.prefix, lt: args.upper, limit: args.batchSize }
      : { gt: args.after, lt: args.upper, limit: args.batchSize };
  let horizon = feed.horizons.get(def.name);
  let scanned = 0;
  let collected = 0;
  let last: string | undefined;
  for await (const [indexKey, value] of tx.iterate(range)) {
    scanned++;
    last = indexKey;
    const key = decodeKey(indexKey)[3] as PrimaryKey;
    const indexed = parse<Stamp>(value);
    const state = await feed.store.readState(tx, def.name, key);
    // Stale: the record was re-created, or a later delete indexed itself at a later hub seq.
    if (!isTombstone(state) || compareStamp(state.w.stamp, indexed) !== 0) {
      tx.del(indexKey);
      continue;
    }
    if (state.w.stamp.wall >= args.cutoff) continue; // younger than the retention: keep for a later run
    await feed.store.removeRecord(tx, def, key, feed.store.nodeId);
    tx.del(indexKey);
    collected++;
    if (horizon === undefined || compareStamp(state.w.stamp, horizon) > 0) horizon = state.w.stamp;
  }
  if (collected > 0 && horizon !== undefined) {
    const g = horizon;
    tx.put(horizonKey(def.name), json(g));
    tx.onPrepared(() => feed.horizons.set(def.name, g));
  }
  return { scanned, collected, last };
}
