/**
 * The edge's durable outbox (SPEC §5 "Edge → hub", "Store-and-forward limits"): one per store, covering every
 * published table. It is the store's LocalTxSink, so each local transaction and its outbox entry land in one
 * batch (I6); entries leave only on receipts (I7), in seq order per (table, publish epoch) (I8); quotas hold (I14).
 *
 * Concurrency: everything that changes the outbox runs inside a store transaction (serialised by the committer's
 * lock) and changes memory only in tx.onPrepared. The publisher's reads take the same lock, so an entry handed
 * out as in flight is never dropped or coalesced by a concurrent write.
 */
import { TmError } from '../errors.js';
import type { Tx } from '../store/commit.js';
import { decodeKey } from '../store/keys.js';
import type { LocalTxSink, Store } from '../store/store.js';
import type { Transaction } from '../types.js';
import {
  type OutboxOptions,
  type OutboxTableConfig,
  resolveRetention,
  resolveTableConfig,
  SKIP_REASONS,
} from './config.js';
import {
  decodeItem,
  encodeTxn,
  type Item,
  itemKey,
  itemRange,
  lastSeqOf,
  metaKey,
  tableItemsRange,
} from './items.js';
import { makeRoom, unsent } from './make-room.js';
import {
  type BatchLimits,
  type OutboxBatch,
  type OutboxStats,
  type ReceiptError,
  type ReceiptOutcome,
  TRANSIENT_CODES,
} from './outbox-types.js';
import { Quarantine, type QuarantinedTx } from './quarantine.js';
import { stampId, writeReupload } from './reupload.js';
import { applyDecisions, type Decision, type SkipRange } from './rewrite.js';
import {
  clearRecent,
  effectPatch,
  freshMeta,
  type Hold,
  makeState,
  parseMeta,
  RECENT_MAX_BYTES,
  sendableThrough,
  type TableState,
  trackUnsettled,
  writeMeta,
} from './table-state.js';

/** The outbox of one store. Open with Outbox.open; it installs itself as the store's local sink. */
export class Outbox implements LocalTxSink {
  private readonly tables = new Map<string, TableState>();
  private order: string[] = [];
  private round = { index: 0, used: 0 };
  private readonly skipListeners = new Set<(table: string, ranges: readonly SkipRange[]) => void>();
  /** quarantine access; retry and drop go through it */
  readonly quarantine: Quarantine;

  private constructor(
    readonly store: Store,
    private readonly tombstoneRetentionMs: number,
  ) {
    this.quarantine = new Quarantine(store, (table) => this.tables.get(table));
  }

  /** Loads the meta of every configured table (creating it on first publish) and attaches to the store. */
  static async open(store: Store, options: OutboxOptions = {}): Promise<Outbox> {
    const outbox = new Outbox(store, resolveRetention(options.tombstoneRetentionMs));
    const configs = (options.tables ?? []).map((c) => resolveTableConfig(c, outbox.tombstoneRetentionMs));
    const names = configs.map((c) => c.table);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) throw new TmError('TM_INVALID_ARGUMENT', `table ${dup} is configured twice`);
    for (const config of configs) await outbox.publish(config);
    store.setLocalSink(outbox);
    return outbox;
  }

  /** Detaches from the store (the store stays open). */
  close(): void {
    this.store.setLocalSink(undefined);
  }

  /**
   * Calls `listener` with the SKIP ranges a rewrite wrote (drop-oldest, ttl, coalesce) once they are durable, so a
   * waiter for the hub's receipt can tell a skipped transaction from an applied one. Returns the unsubscribe.
   */
  onSkip(listener: (table: string, ranges: readonly SkipRange[]) => void): () => void {
    this.skipListeners.add(listener);
    return () => this.skipListeners.delete(listener);
  }

  private emitSkips(tx: Tx, table: string, ranges: readonly SkipRange[] | undefined): void {
    if (!ranges || ranges.length === 0 || this.skipListeners.size === 0) return;
    const copy = [...ranges];
    tx.onDurable(() => {
      for (const listener of this.skipListeners) listener(table, copy);
    });
  }

  /** Published tables, by name. */
  publishedTables(): string[] {
    return [...this.order];
  }

  /**
   * Publishes a table, or updates the limits of a published one. A table seen before keeps its epoch and
   * queue; a new one gets a new random publish epoch at seq 1 (SPEC §5).
   */
  async publish(input: OutboxTableConfig): Promise<void> {
    const config = resolveTableConfig(input, this.tombstoneRetentionMs);
    const existing = this.tables.get(config.table);
    if (existing) {
      existing.config = config;
      return;
    }
    await this.store.transact(async (tx) => {
      const buf = await tx.get(metaKey(config.table));
      const meta = buf ? parseMeta(buf) : freshMeta();
      tx.put(metaKey(config.table), buf ?? Buffer.from(JSON.stringify(meta), 'utf8'));
      tx.onPrepared(() => {
        this.tables.set(config.table, makeState(config.table, config, meta));
        this.order = [...this.tables.keys()].sort();
      });
    });
  }

  /**
   * Stops publishing a table. With `purge` its queue and meta are deleted (a later publish starts a new epoch);
   * without, they stay on disk and a later publish resumes them.
   */
  async unpublish(table: string, options: { purge?: boolean } = {}): Promise<void> {
    const st = this.requireState(table);
    await this.store.transact(async (tx) => {
      if (options.purge) {
        for await (const [key] of tx.iterate(tableItemsRange(st.table))) tx.del(key);
        tx.del(metaKey(st.table));
      } else {
        writeMeta(tx, st, {});
      }
      tx.onPrepared(() => {
        this.tables.delete(st.table);
        this.order = [...this.tables.keys()].sort();
      });
    });
  }

  // ---- LocalTxSink (called by Store.writeLocal inside its transaction) ----

  /** The publish epoch and next seq of a published table. Does not change anything. */
  next(table: string): { epoch: string; seq: number } | undefined {
    const st = this.tables.get(table);
    return st ? { epoch: st.epoch, seq: st.nextSeq } : undefined;
  }

  /** Queues `txn` in the writing batch; TM_QUOTA_FULL refuses the whole request (I6, I14). */
  async append(tx: Tx, txn: Transaction): Promise<void> {
    const st = this.requireState(txn.table);
    if (txn.seq !== st.nextSeq || txn.stamp.epoch !== st.epoch) {
      throw new TmError('TM_INVALID_ARGUMENT', `outbox of ${st.table}: append out of order (seq ${txn.seq})`);
    }
    const value = encodeTxn(txn);
    // I14: the quota is checked before adding, so it is never exceeded.
    const effect =
      st.bytes + value.length > st.config.quotaBytes ? await makeRoom(tx, st, txn, value.length) : undefined;
    const retried = await this.quarantine.claimRetry(tx, st, txn);
    tx.put(itemKey(st.table, st.epoch, txn.seq), value);
    writeMeta(tx, st, {
      ...effectPatch(st, effect),
      nextSeq: txn.seq + 1,
      bytes: st.bytes - (effect?.freedBytes ?? 0) + value.length,
      count: st.count - (effect?.removedCount ?? 0) + 1,
      quarantined: st.quarantined - (retried ? 1 : 0),
    });
    trackUnsettled(tx, st, effect);
    this.emitSkips(tx, st.table, effect?.ranges);
    const epoch = st.epoch;
    tx.onPrepared(() => {
      const recent = st.recent;
      if (recent.epoch !== epoch) {
        clearRecent(st);
        recent.epoch = epoch;
      }
      if (recent.bytes + value.length > RECENT_MAX_BYTES) return;
      recent.items.set(txn.seq, { txn, bytes: value.length });
      recent.bytes += value.length;
    });
    tx.onDurable(() => {
      if (st.epoch === epoch) st.durableThrough = Math.max(st.durableThrough, txn.seq);
    });
  }

  // ---- publisher side ----

  /**
   * The next entries of `table` not yet sent, in seq order, with pending SKIP ranges; marks them in flight.
   * Only durable entries are returned (I6); nothing while the table is held (I11). undefined when none.
   */
  nextBatch(table: string, limits: BatchLimits = {}): Promise<OutboxBatch | undefined> {
    const st = this.requireState(table);
    const maxTxs = limits.maxTxs ?? 100;
    const maxBytes = limits.maxBytes ?? 256 * 1024;
    return this.underLock(async (tx) => {
      const upper = sendableThrough(st);
      if (st.held || upper <= st.sentThrough) return undefined;
      const from = st.sentThrough + 1;
      const recent = this.recentBatch(st, from, upper, maxTxs, maxBytes);
      if (recent) {
        if (limits.mark ?? true) st.sentThrough = recent.toSeq;
        return recent;
      }
      const txs: Transaction[] = [];
      const skips: SkipRange[] = [];
      let bytes = 0;
      let toSeq = st.sentThrough;
      // After a go-back-N reset into a SKIP range, the rest of that range is sent.
      const before = { ...itemRange(st.table, st.epoch, st.receiptedThrough, st.sentThrough), reverse: true };
      for await (const [key, value] of tx.iterate({ ...before, limit: 1 })) {
        const item = decodeItem(key, value);
        if (item.kind === 'skip' && item.to >= from) {
          skips.push({ epoch: st.epoch, from, to: item.to, reason: item.reason });
          toSeq = item.to;
        }
      }
      for await (const [key, value] of tx.iterate(itemRange(st.table, st.epoch, toSeq, upper))) {
        const item = decodeItem(key, value);
        if (item.kind === 'skip') {
          skips.push({ epoch: st.epoch, from: item.seq, to: item.to, reason: item.reason });
        } else {
          if (txs.length >= maxTxs || (txs.length > 0 && bytes + item.bytes > maxBytes)) break;
          txs.push(item.txn);
          bytes += item.bytes;
        }
        toSeq = lastSeqOf(item);
      }
      if (toSeq < from) return undefined;
      if (limits.mark ?? true) st.sentThrough = toSeq;
      return { table: st.table, epoch: st.epoch, fromSeq: from, toSeq, txs, skips, bytes };
    });
  }

  /**
   * nextBatch from the table's recent items (memory), when they hold `from` and nothing before it can be a SKIP
   * range reaching into it (the item before `from` is a recent transaction, or `from` follows the last receipt).
   * Stops at the first seq not held; undefined when `from` is not held.
   */
  private recentBatch(
    st: TableState,
    from: number,
    upper: number,
    maxTxs: number,
    maxBytes: number,
  ): OutboxBatch | undefined {
    const recent = st.recent;
    if (recent.epoch !== st.epoch || !recent.items.has(from)) return undefined;
    if (from - 1 > st.receiptedThrough && !recent.items.has(from - 1)) return undefined;
    const txs: Transaction[] = [];
    let bytes = 0;
    let seq = from;
    for (; seq <= upper && txs.length < maxTxs; seq++) {
      const item = recent.items.get(seq);
      if (item === undefined || (txs.length > 0 && bytes + item.bytes > maxBytes)) break;
      txs.push(item.txn);
      bytes += item.bytes;
    }
    return { table: st.table, epoch: st.epoch, fromSeq: from, toSeq: seq - 1, txs, skips: [], bytes };
  }

  /** Marks entries through `throughSeq` of `epoch` as sent (when nextBatch was called with mark: false). */
  markSent(table: string, epoch: string, throughSeq: number): Promise<void> {
    const st = this.requireState(table);
    return this.underLock(async () => {
      if (epoch === st.epoch)
        st.sentThrough = Math.max(st.sentThrough, Math.min(throughSeq, sendableThrough(st)));
    });
  }

  /**
   * Go-back-N (I8): after a gap receipt or a reconnect, sending restarts at `fromSeq` (default: right after the
   * last receipt). Nothing is removed.
   */
  resetInFlight(table: string, fromSeq?: number): void {
    const st = this.requireState(table);
    const resume = fromSeq ?? st.receiptedThrough + 1;
    st.sentThrough = Math.max(st.receiptedThrough, Math.min(st.sentThrough, resume - 1));
  }

  /**
   * Weighted round-robin over tables with sendable entries (SPEC §5 priority): tables in name order, each gets up
   * to `priority` consecutive picks per round, every pending table at least one. undefined when none is pending.
   */
  pickTable(): string | undefined {
    const n = this.order.length;
    const start = this.round;
    for (let step = 0; step <= n; step++) {
      const name = this.order[this.round.index % n];
      const st = name === undefined ? undefined : this.tables.get(name);
      if (st && this.round.used < st.config.priority && !st.held && sendableThrough(st) > st.sentThrough) {
        this.round.used++;
        return st.table;
      }
      this.round = { index: (this.round.index + 1) % Math.max(n, 1), used: 0 };
    }
    this.round = start; // nothing pending: the round stays where it was
    return undefined;
  }

  /**
   * Applies a receipt (I7): drops entries of `epoch` through `appliedThrough`, moves poison ones to quarantine
   * (I11) in the same batch, and holds the table on a transient refusal until a later good receipt or clearHold.
   */
  async onReceipt(
    table: string,
    epoch: string,
    appliedThrough: number,
    errors: readonly ReceiptError[] = [],
  ): Promise<ReceiptOutcome> {
    const st = this.requireState(table);
    const isPoison = (e: ReceiptError): boolean => e.poison ?? !TRANSIENT_CODES.has(e.code);
    const transient = errors.find((e) => !isPoison(e));
    const poison = new Map(errors.filter(isPoison).map((e) => [e.seq, e]));
    // A plain truncation need not wait for its own fsync: if it is lost in a crash, the entries are resent and
    // the hub re-receipts them as duplicates (I9). Quarantine and holds are written durably before we go on.
    const lazy = poison.size === 0 && transient === undefined;
    return this.store.transact(
      async (tx) => {
        if (epoch !== st.epoch) {
          writeMeta(tx, st, {});
          return { ignored: true, truncated: 0, quarantined: [], held: st.held };
        }
        // A mark beyond what was queued cannot be ours (the hub answers TM_EPOCH_CONFLICT for it, I9).
        const through = Math.min(appliedThrough, st.nextSeq - 1);
        let freed = 0;
        let removed = 0;
        const quarantined: string[] = [];
        // Without poison, recent items in memory name what to delete: no disk read under the lock.
        const recent = poison.size === 0 ? recentItems(st, st.receiptedThrough, through) : undefined;
        for (const [seq, bytes] of recent ?? []) {
          tx.del(itemKey(st.table, epoch, seq));
          freed += bytes;
          removed++;
        }
        const onDisk = recent ? [] : tx.iterate(itemRange(st.table, epoch, st.receiptedThrough, through));
        for await (const [key, value] of onDisk) {
          const item = decodeItem(key, value);
          tx.del(key);
          if (item.kind === 'skip') {
            if (item.to > through) tx.put(itemKey(st.table, epoch, through + 1), value);
            continue;
          }
          freed += item.bytes;
          removed++;
          const error = poison.get(item.seq);
          if (error) quarantined.push(this.quarantine.put(tx, st, item, error));
        }
        const receiptedThrough = Math.max(st.receiptedThrough, through);
        const held: Hold | null = transient
          ? {
              code: transient.code,
              message: transient.message,
              seq: transient.seq,
              sinceMs: this.store.now(),
            }
          : null;
        writeMeta(tx, st, {
          receiptedThrough,
          bytes: st.bytes - freed,
          count: st.count - removed,
          quarantined: st.quarantined + quarantined.length,
          held,
        });
        tx.onPrepared(() => {
          // A transient refusal stops the hub at receiptedThrough + 1: resend from there once released.
          st.sentThrough = transient ? receiptedThrough : Math.max(st.sentThrough, receiptedThrough);
          // Recent items are in seq order (appended in order; a new epoch starts afresh).
          for (const [seq, item] of st.recent.items) {
            if (seq > through) break;
            st.recent.items.delete(seq);
            st.recent.bytes -= item.bytes;
          }
        });
        return { ignored: false, truncated: removed, quarantined, held };
      },
      undefined,
      { lazy },
    );
  }

  /**
   * The keys of `table` with a queued (unreceipted) transaction, as JSON text ("1" and 1 differ), from durable
   * data (I13: a snapshot never removes a record whose local write has not been receipted). Takes no lock, so it
   * may be called from inside another transaction.
   */
  async pendingKeys(table: string): Promise<Set<string>> {
    const keys = new Set<string>();
    if (!this.tables.has(table)) return keys;
    for await (const [k, value] of this.store.kv.iterate(tableItemsRange(table))) {
      const item = decodeItem(k, value);
      if (item.kind === 'tx') for (const op of item.txn.ops) keys.add(JSON.stringify(op.key));
    }
    return keys;
  }

  /** Releases a held table (e.g. after the hub's retry-after); sending resumes after the last receipt. */
  async clearHold(table: string): Promise<void> {
    const st = this.requireState(table);
    await this.store.transact((tx) => writeMeta(tx, st, { held: null }));
  }

  /** Skips unsent entries older than their table's ttl (by stamp wall time); returns the number skipped. */
  async expire(nowMs: number = this.store.now()): Promise<number> {
    let total = 0;
    for (const st of [...this.tables.values()]) {
      const ttl = st.config.ttlMs;
      if (ttl === undefined) continue;
      total += await this.store.transact(async (tx) => {
        const items: Item[] = [];
        const decisions = new Map<number, Decision>();
        // Seq order is stamp order (I1), so the first young entry ends the walk.
        for await (const item of unsent(tx, st)) {
          if (item.kind === 'tx' && nowMs - item.txn.stamp.wall <= ttl) break;
          items.push(item);
          if (item.kind === 'tx') decisions.set(item.seq, { kind: 'skip', reason: 'ttl' });
        }
        const effect = applyDecisions(tx, st.table, st.epoch, items, decisions);
        writeMeta(tx, st, effectPatch(st, effect));
        trackUnsettled(tx, st, effect);
        this.emitSkips(tx, st.table, effect.ranges);
        return effect.removedCount;
      });
    }
    return total;
  }

  /**
   * Starts a new publish epoch at seq 1 (I9 TM_EPOCH_CONFLICT, I10 unseen hub epoch) and re-uploads: every
   * queued entry of the old epoch (in flight or not) plus this node's part of the table's current merge state,
   * split by stamp (see reupload.ts), all with their original stamps, in stamp order, in one batch. The new
   * queue may exceed the quota: it is data already acknowledged, so it is never refused or dropped here.
   */
  async rotateEpoch(table: string): Promise<{ epoch: string; count: number; bytes: number }> {
    const st = this.requireState(table);
    const excluded = new Set<string>();
    for (const q of await this.quarantine.list(st.table)) excluded.add(stampId(q.txn.stamp));
    return this.store.transact((tx) =>
      writeReupload(tx, st, this.store.nodeId, this.store.maxOpsPerTx, excluded),
    );
  }

  // ---- quarantine (I11) ----

  /** Quarantined transactions of one table, or of all tables. */
  listQuarantine(table?: string): Promise<QuarantinedTx[]> {
    return this.quarantine.list(table);
  }

  /** Re-enqueues a quarantined transaction's ops as a new local transaction (new stamp and seq). */
  retryQuarantined(id: string): Promise<Transaction> {
    return this.quarantine.retry(id);
  }

  /** Forgets a quarantined transaction; TM_NOT_FOUND if absent. */
  dropQuarantined(id: string): Promise<void> {
    return this.quarantine.drop(id);
  }

  // ---- status ----

  /** Backlog, in flight, receipts, skips, quarantine and hold of a table (I14: every skip counted). */
  async stats(table: string): Promise<OutboxStats> {
    const st = this.requireState(table);
    let oldest: number | null = null;
    for await (const [key, value] of this.store.kv.iterate(itemRange(st.table, st.epoch, st.sentThrough))) {
      const item = decodeItem(key, value);
      if (item.kind !== 'tx') continue;
      oldest = Math.max(0, this.store.now() - item.txn.stamp.wall);
      break;
    }
    return {
      table: st.table,
      epoch: st.epoch,
      nextSeq: st.nextSeq,
      backlogCount: st.count,
      backlogBytes: st.bytes,
      quotaBytes: st.config.quotaBytes,
      oldestUnsentAgeMs: oldest,
      inFlight: st.sentThrough - st.receiptedThrough,
      sentThrough: st.sentThrough,
      receiptedThrough: st.receiptedThrough,
      skipped: { ...st.skipped },
      skippedTotal: SKIP_REASONS.reduce((sum, r) => sum + st.skipped[r], 0),
      quarantined: st.quarantined,
      held: st.held,
    };
  }

  /**
   * Recounts a table's queue from disk (durable data): bytes, count and skipped seqs, and whether the items tile
   * (receiptedThrough, nextSeq) without gap or overlap. For tests and `status --verify`.
   */
  async audit(table: string): Promise<{ bytes: number; count: number; skipSeqs: number; tiled: boolean }> {
    const st = this.requireState(table);
    await this.store.committer.flush();
    let bytes = 0;
    let count = 0;
    let skipSeqs = 0;
    let expected = st.receiptedThrough + 1;
    let tiled = true;
    for await (const [key, value] of this.store.kv.iterate(tableItemsRange(st.table))) {
      const item = decodeItem(key, value);
      const epoch = decodeKey(key)[2];
      if (epoch !== st.epoch || item.seq !== expected) tiled = false;
      expected = lastSeqOf(item) + 1;
      if (item.kind === 'tx') {
        bytes += item.bytes;
        count++;
      } else skipSeqs += item.to - item.seq + 1;
    }
    return { bytes, count, skipSeqs, tiled: tiled && expected === st.nextSeq };
  }

  // ---- helpers ----

  private requireState(table: string): TableState {
    const st = this.tables.get(table) ?? this.tables.get(`data.${table}`);
    if (!st) throw new TmError('TM_UNKNOWN_TABLE', `table ${table} is not published`);
    return st;
  }

  /**
   * Runs a read-only `fn` under the committer's lock and resolves with its result without waiting for a batch:
   * it writes nothing, so nothing needs to become durable.
   */
  private underLock<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.store
        .transact(async (tx) => {
          resolve(await fn(tx));
        })
        .catch(reject);
    });
  }
}

/**
 * [seq, stored bytes] of every item in (after, through] when all of them are recent transactions of the table's
 * current epoch (so no SKIP range is among them); undefined otherwise (read them from disk).
 */
function recentItems(st: TableState, after: number, through: number): [number, number][] | undefined {
  const recent = st.recent;
  if (recent.epoch !== st.epoch || through - after > recent.items.size) return undefined;
  const out: [number, number][] = [];
  for (let seq = after + 1; seq <= through; seq++) {
    const item = recent.items.get(seq);
    if (item === undefined) return undefined;
    out.push([seq, item.bytes]);
  }
  return out;
}
