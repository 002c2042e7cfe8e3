/**
 * The edge's side of a subscription: applying feed pages and live batches (contiguous only, echo skipped, I12)
 * and snapshots (merged by the I4 join, never replacing, I13). The cursor `(hubEpoch, incarnation, hubSeq)` is
 * persisted in the same batch as the data it covers. Edges apply without the I3 check; applying still advances
 * the local HLC (I2).
 */
import { TmError } from '../errors.js';
import { compareStamp } from '../hlc.js';
import { maxStamp } from '../merge.js';
import type { Tx } from '../store/commit.js';
import { decodeKey, encodeKey, prefixEnd } from '../store/keys.js';
import { recordKey, type Store } from '../store/store.js';
import type { TableDef } from '../store/tables.js';
import type { PrimaryKey, Stamp } from '../types.js';
import { edgeCursorKey, pruneCandidateKey, pruneCandidatePrefix } from './keys.js';
import type { FeedCursor, FeedEntry, SnapshotRecord } from './types.js';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');

/** The persisted cursor of a subscribed table, or undefined before anything was applied. */
export async function readFeedCursor(store: Store, table: string): Promise<FeedCursor | undefined> {
  const buf = await store.kv.get(edgeCursorKey(store.requireTable(table).name));
  return buf ? (JSON.parse(buf.toString('utf8')) as FeedCursor) : undefined;
}

/** Result of applying feed entries. */
export type FeedApplyResult =
  | { readonly ok: true; readonly cursor: FeedCursor; readonly applied: number; readonly echoes: number }
  /** the entries do not continue the cursor: start a catch-up from `expected` */
  | {
      readonly ok: false;
      readonly reason: 'not-contiguous';
      readonly expected: number;
      readonly cursor: FeedCursor;
    };

/**
 * Applies `entries` that continue `cursor` (hub seqs cursor.hubSeq + 1, + 2 …; entries at or below the cursor
 * are dropped as already applied) in one batch with the new cursor. I12: entries whose origin is `selfNode` and
 * whose epoch is one of `selfEpochs` are not re-applied, but the cursor passes them.
 */
export async function applyFeedEntries(
  store: Store,
  table: string,
  entries: readonly FeedEntry[],
  cursor: FeedCursor,
  selfNode: string,
  selfEpochs: Iterable<string>,
  /**
   * called with the result once the batch is prepared (visible to later transactions, the cursor included) and
   * before it is durable: a caller may start on the next batch then, which shares the fsync
   */
  onPrepared?: (result: FeedApplyResult) => void,
): Promise<FeedApplyResult> {
  const def = store.requireTable(table);
  const own = new Set(selfEpochs);
  // The records the entries touch are read before the commit lock (one getMany), not one by one under it.
  const prefetch = [edgeCursorKey(def.name)];
  for (const entry of entries) for (const op of entry.tx.ops) prefetch.push(recordKey(def.name, op.key));
  return store.transact(async (tx) => {
    const settle = (result: FeedApplyResult): FeedApplyResult => {
      if (onPrepared) tx.onPrepared(() => onPrepared(result));
      return result;
    };
    // The persisted cursor may be ahead of the caller's (a page and a live batch raced): never apply twice.
    const stored = await tx.get(edgeCursorKey(def.name));
    const persisted = stored ? (JSON.parse(stored.toString('utf8')) as FeedCursor) : undefined;
    const sameFeed =
      persisted && persisted.hubEpoch === cursor.hubEpoch && persisted.incarnation === cursor.incarnation;
    let at = sameFeed ? Math.max(cursor.hubSeq, persisted.hubSeq) : cursor.hubSeq;
    const start = at;
    const due = entries.filter((e) => e.hubSeq > start).sort((a, b) => a.hubSeq - b.hubSeq);
    for (let i = 0; i < due.length; i++) {
      if (due[i]!.hubSeq !== start + i + 1) {
        return settle({
          ok: false,
          reason: 'not-contiguous',
          expected: start + 1,
          cursor: { ...cursor, hubSeq: start },
        });
      }
    }
    let applied = 0;
    let echoes = 0;
    for (const entry of due) {
      const stamp = entry.tx.stamp;
      if (stamp.node === selfNode && own.has(stamp.epoch)) echoes++;
      else {
        await store.applyTransaction(tx, { ...entry.tx, table: def.name });
        applied++;
      }
      at = entry.hubSeq;
    }
    const next: FeedCursor = { hubEpoch: cursor.hubEpoch, incarnation: cursor.incarnation, hubSeq: at };
    if (due.length > 0 || !sameFeed || persisted?.hubSeq !== at) tx.put(edgeCursorKey(def.name), json(next));
    return settle({ ok: true, cursor: next, applied, echoes });
  }, prefetch);
}

/** Progress of a snapshot being applied; start with undefined, pass the returned value to the next page. */
export interface SnapshotProgress {
  readonly table: string;
  /** last key of the pages applied so far (local records up to it were compared) */
  readonly throughKey: PrimaryKey | undefined;
  /** the largest G seen on any page (I5) */
  readonly gcHorizon: Stamp | undefined;
  /** the first page's asOfHubSeq: the feed continues after it */
  readonly asOfHubSeq: number;
  /** false for a partial snapshot (timestamp start point): nothing may be pruned */
  readonly prune: boolean;
  readonly pages: number;
  readonly merged: number;
  /** every page so far was applied, the last one included */
  readonly done: boolean;
}

/** A snapshot page as the edge receives it. */
export interface SnapshotPageIn {
  readonly records: readonly SnapshotRecord[];
  readonly gcHorizon: Stamp | undefined;
  readonly asOfHubSeq: number;
  readonly last: boolean;
  readonly partial?: boolean;
}

const maxOf = (a: Stamp | undefined, b: Stamp | undefined): Stamp | undefined =>
  a === undefined ? b : b === undefined || compareStamp(a, b) >= 0 ? a : b;

/**
 * I13: merges one snapshot page by the I4 join (never replacing) and notes the local records of the range the
 * page covers that it lacks; finishSnapshot decides about them once G is final.
 */
export async function applySnapshotPage(
  store: Store,
  table: string,
  page: SnapshotPageIn,
  progress: SnapshotProgress | undefined,
): Promise<SnapshotProgress> {
  const def = store.requireTable(table);
  if (progress?.done)
    throw new TmError('TM_INVALID_ARGUMENT', 'this snapshot already received its last page');
  const prune = (progress?.prune ?? true) && !page.partial;
  const lastKey = page.records.length > 0 ? page.records[page.records.length - 1]!.key : progress?.throughKey;
  // As for feed entries: the page's records are read in one getMany before the commit lock.
  const prefetch = page.records.map((r) => recordKey(def.name, r.key));
  await store.transact(async (tx) => {
    if (progress === undefined) {
      // A new snapshot: forget candidates of one that was interrupted.
      for await (const [key] of tx.iterate({
        gte: pruneCandidatePrefix(def.name),
        lt: prefixEnd(pruneCandidatePrefix(def.name)),
      })) {
        tx.del(key);
      }
    }
    const inPage = new Set<string>();
    for (const { key, state } of page.records) {
      const top = maxStamp(state);
      if (top) store.clock.observe(top); // I2
      await store.mergeState(tx, def, key, state, top?.node ?? store.nodeId);
      inPage.add(recordKey(def.name, key));
    }
    if (page.gcHorizon) store.clock.observe(page.gcHorizon);
    if (prune) await noteAbsent(tx, def, progress?.throughKey, page.last ? undefined : lastKey, inPage);
  }, prefetch);
  return {
    table: def.name,
    throughKey: lastKey,
    gcHorizon: maxOf(progress?.gcHorizon, page.gcHorizon),
    asOfHubSeq: progress?.asOfHubSeq ?? page.asOfHubSeq,
    prune,
    pages: (progress?.pages ?? 0) + 1,
    merged: (progress?.merged ?? 0) + page.records.length,
    done: page.last,
  };
}

/** Local records in (after, through] (through undefined: to the end) that the page lacks become candidates. */
async function noteAbsent(
  tx: Tx,
  def: TableDef,
  after: PrimaryKey | undefined,
  through: PrimaryKey | undefined,
  inPage: ReadonlySet<string>,
): Promise<void> {
  const prefix = encodeKey(['r', def.name]);
  const lower = after === undefined ? { gte: prefix } : { gt: recordKey(def.name, after) };
  const upper = through === undefined ? { lt: prefixEnd(prefix) } : { lte: recordKey(def.name, through) };
  for await (const [key] of tx.iterate({ ...lower, ...upper })) {
    if (!inPage.has(key))
      tx.put(pruneCandidateKey(def.name, decodeKey(key)[2] as PrimaryKey), Buffer.alloc(0));
  }
}

/** What finishSnapshot did. */
export interface SnapshotFinish {
  readonly cursor: FeedCursor;
  /** local records removed: absent from the snapshot, all stamps ≤ G, no unreceipted outbox entry */
  readonly removed: PrimaryKey[];
  /** absent from the snapshot but kept (a stamp > G, or an unreceipted outbox entry) */
  readonly kept: PrimaryKey[];
}

/**
 * I13: after the last page, removes local records absent from the snapshot whose stamps are all ≤ G and that
 * have no unreceipted outbox entry, and persists the cursor (hubEpoch, incarnation, asOfHubSeq) in the same
 * batch. `hasPendingOutbox` runs inside the store transaction: it may read, but must not call store.transact.
 */
export async function finishSnapshot(
  store: Store,
  progress: SnapshotProgress,
  feed: { readonly hubEpoch: string; readonly incarnation: string },
  hasPendingOutbox: (table: string, key: PrimaryKey) => Promise<boolean>,
): Promise<SnapshotFinish> {
  if (!progress.done) throw new TmError('TM_INVALID_ARGUMENT', 'the snapshot has not received its last page');
  const def = store.requireTable(progress.table);
  const g = progress.gcHorizon;
  const cursor: FeedCursor = {
    hubEpoch: feed.hubEpoch,
    incarnation: feed.incarnation,
    hubSeq: progress.asOfHubSeq,
  };
  return store.transact(async (tx) => {
    const removed: PrimaryKey[] = [];
    const kept: PrimaryKey[] = [];
    const prefix = pruneCandidatePrefix(def.name);
    for await (const [candidate] of tx.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
      tx.del(candidate);
      const key = decodeKey(candidate)[2] as PrimaryKey;
      const state = await store.readState(tx, def.name, key);
      if (!state) continue;
      const top = maxStamp(state);
      const old = g !== undefined && top !== undefined && compareStamp(top, g) <= 0;
      if (progress.prune && old && !(await hasPendingOutbox(def.name, key))) {
        await store.removeRecord(tx, def, key, store.nodeId);
        removed.push(key);
      } else {
        kept.push(key);
      }
    }
    tx.put(edgeCursorKey(def.name), json(cursor));
    return { cursor, removed, kept };
  });
}
