/**
 * Reading a stopped node's store directly with core: the hub's feed (the log of applied transactions, one entry
 * per apply with origin, epoch and seq in `entry.tx`) and an edge's quarantine. Open only while the node is
 * stopped: LevelDB allows one process per store.
 */
import { Feed, type FeedEntry, LevelKv, Outbox, type QuarantinedTx, Store, tableRef } from '@tablemesh/core';

async function withStore<T>(storeDir: string, nodeId: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await Store.open({ kv: new LevelKv(storeDir), nodeId, sync: false });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Every retained feed entry of `table` in a hub store, in hub-seq order. */
export function readHubFeed(storeDir: string, table: string): Promise<FeedEntry[]> {
  return withStore(storeDir, 'hub', async (store) => {
    const feed = await Feed.open(store);
    const entries: FeedEntry[] = [];
    if (!store.getTable(tableRef(table))) return entries;
    let after = feed.oldest(tableRef(table)) - 1;
    for (let pages = 0; pages < 100_000; pages++) {
      const page = await feed.readPage(tableRef(table), after, { maxEntries: 10_000, maxBytes: 64 << 20 });
      entries.push(...page.entries);
      if (page.headReached || page.entries.length === 0) break;
      after = page.entries[page.entries.length - 1]!.hubSeq;
    }
    return entries;
  });
}

/** The quarantined transactions of a published `table` in an edge store. */
export function readQuarantine(storeDir: string, nodeId: string, table: string): Promise<QuarantinedTx[]> {
  return withStore(storeDir, nodeId, async (store) => {
    const outbox = await Outbox.open(store, { tables: [{ table: tableRef(table) }] });
    try {
      return await outbox.listQuarantine(tableRef(table));
    } finally {
      outbox.close();
    }
  });
}

/** Result of checking a feed as an apply log. */
export interface ApplyCheck {
  /** applied transactions per origin node */
  readonly perOrigin: Readonly<Record<string, number>>;
  /** (origin, epoch, seq) that appear more than once */
  readonly duplicates: string[];
  /** places where seq did not go up by exactly 1 within an (origin, epoch) */
  readonly outOfOrder: string[];
}

/**
 * Checks the hub's feed as its apply log (I7–I9): each (origin, stamp epoch, seq) at most once, and per
 * (origin, epoch) seqs 1, 2, 3 … in hub-seq order. Entries of `skipOrigins` (e.g. the hub's own writes, numbered
 * by hub seq) are not counted. Valid while no re-upload happened (a re-upload keeps its original stamps, I10).
 */
export function checkApplyLog(
  entries: readonly FeedEntry[],
  skipOrigins: readonly string[] = [],
): ApplyCheck {
  const perOrigin: Record<string, number> = {};
  const seen = new Set<string>();
  const lastSeq = new Map<string, number>();
  const duplicates: string[] = [];
  const outOfOrder: string[] = [];
  for (const { hubSeq, tx } of entries) {
    const origin = tx.stamp.node;
    if (skipOrigins.includes(origin)) continue;
    const stream = `${origin}/${tx.stamp.epoch}`;
    const id = `${stream}#${tx.seq}`;
    if (seen.has(id)) duplicates.push(`${id} (hub seq ${hubSeq})`);
    seen.add(id);
    const prev = lastSeq.get(stream) ?? 0;
    if (tx.seq !== prev + 1) outOfOrder.push(`${stream}: seq ${tx.seq} after ${prev} (hub seq ${hubSeq})`);
    lastSeq.set(stream, tx.seq);
    perOrigin[origin] = (perOrigin[origin] ?? 0) + 1;
  }
  return { perOrigin, duplicates, outOfOrder };
}
