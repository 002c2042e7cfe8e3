/**
 * The hub's ingest of one batch of an (origin, epoch, table): dedupe/order → check → merge → feed → mark, all in
 * ONE store transaction, and the receipt only after that batch is durable (I7). Per item, in seq order:
 * - seq ≤ mark: duplicate, re-receipted, not applied (I9); with a different remembered stamp: TM_EPOCH_CONFLICT.
 * - seq > mark + 1: gap, refused, resume from mark + 1 (I8); an unknown epoch has mark 0, so only seq 1 (I10).
 * - content invalid: poison, error receipt, the mark moves past it in the same batch (I11).
 * - HLC too far ahead: transient TM_CLOCK_AHEAD; the batch stops there, the mark and the hub clock stay (I3).
 * - SKIP ranges consume their seqs and are counted (SPEC §5 store-and-forward limits).
 */
import { type ErrorCode, TmError } from '../errors.js';
import type { Failpoints } from '../failpoints.js';
import type { Feed } from '../feed/feed.js';
import { checkClockAhead, compareStamp } from '../hlc.js';
import type { Tx } from '../store/commit.js';
import type { BinKey } from '../store/keys.js';
import { recordKey, type Store } from '../store/store.js';
import type { TableDef } from '../store/tables.js';
import type { Stamp, Transaction } from '../types.js';
import { assertName } from '../validate.js';
import { checkTx, wellFormedStamp } from './check-tx.js';
import {
  advanceSkip,
  advanceTx,
  decideSkip,
  decideTx,
  decodeMark,
  encodeMark,
  type HelloConflict,
  helloConflicts,
  type Mark,
  markKey,
  type PublishClaim,
} from './marks.js';

/** A SKIP(epoch, from, to, reason) range: seqs the edge gave up (drop-oldest, ttl). */
export interface IngestSkipRange {
  /** must equal the batch's epoch when given */
  readonly epoch?: string;
  readonly from: number;
  /** inclusive */
  readonly to: number;
  readonly reason?: string;
}

/** One received batch of transactions and SKIP ranges of (origin, epoch, table). */
export interface IngestBatch {
  readonly origin: string;
  readonly table: string;
  readonly epoch: string;
  readonly txs: readonly Transaction[];
  readonly skips?: readonly IngestSkipRange[];
}

/** Per-call ingest parameters. */
export interface IngestOptions {
  /** the hub's wall clock now, ms (I3) */
  readonly hubNowMs: number;
  /** I3 bound; default 60 000 */
  readonly maxClockSkewMs?: number;
  /** a G to use on top of the feed's (I5); the larger one wins */
  readonly gcHorizon?: Stamp;
  /** counters and the apply log to update */
  readonly stats?: IngestStats;
  /** test builds only (SPEC §7): `dedup-off` applies duplicates again */
  readonly failpoints?: Failpoints;
  /**
   * Called once the batch's transaction is prepared (its writes, the mark included, are visible to later
   * transactions) but before it is durable: the next batch of the same (origin, table) may start then and share
   * the fsync. Not called if the transaction fails. The receipt still waits for durability (I7).
   */
  readonly onPrepared?: () => void;
}

/** One refused transaction in a receipt (proto TxError). */
export interface TxError {
  readonly seq: number;
  readonly code: ErrorCode;
  readonly message: string;
  /** true: consumed, the edge quarantines it (I11); false: held, see the receipt's errorKind */
  readonly poison: boolean;
}

/** What stopped the batch (proto ErrorKind). */
export type ErrorKind = 'none' | 'transient' | 'gap' | 'epoch-conflict';

/** The hub's answer to one batch, sent only once the batch is durable (I7). */
export interface IngestReceipt {
  readonly table: string;
  readonly epoch: string;
  /** the applied mark of (origin, epoch, table): applied, poison and skipped seqs included */
  readonly appliedThrough: number;
  readonly errors: TxError[];
  readonly errorKind: ErrorKind;
  /** TM_GAP, TM_EPOCH_CONFLICT or TM_CLOCK_AHEAD when errorKind is not 'none' */
  readonly code?: ErrorCode;
  readonly message?: string;
  /** gap: the seq to send next (= appliedThrough + 1) */
  readonly resumeFrom?: number;
  readonly conflict?: 'TM_EPOCH_CONFLICT';
  /** transient: wait at least this long */
  readonly retryAfterMs?: number;
  /** the hub's store epoch (I10) */
  readonly hubEpoch: string;
  /** what this batch did */
  readonly applied: number;
  readonly duplicates: number;
  readonly skipped: number;
}

/** One applied transaction, for tests: each (origin, epoch, table, seq) must appear exactly once. */
export interface ApplyLogEntry {
  readonly origin: string;
  readonly epoch: string;
  readonly table: string;
  readonly seq: number;
  readonly hubSeq: number;
}

/** Ingest counters (metrics) and, when asked for, the apply log. Updated only for committed batches. */
export class IngestStats {
  applied = 0;
  duplicates = 0;
  gaps = 0;
  skipped = 0;
  poison = 0;
  conflicts = 0;
  transient = 0;
  /** every applied (origin, epoch, table, seq) in apply order; undefined unless keepApplyLog */
  readonly applyLog: ApplyLogEntry[] | undefined;

  constructor(options: { keepApplyLog?: boolean } = {}) {
    this.applyLog = options.keepApplyLog ? [] : undefined;
  }
}

type Counts = Omit<IngestStats, 'applyLog'>;
type Item =
  | { readonly kind: 'tx'; readonly seq: number; readonly txn: Transaction }
  | { readonly kind: 'skip'; readonly seq: number; readonly to: number };
type Stop = Pick<
  IngestReceipt,
  'errorKind' | 'code' | 'message' | 'resumeFrom' | 'conflict' | 'retryAfterMs'
>;

const isSeq = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;

/** Checks the batch's envelope; TM_BAD_MESSAGE (nothing is consumed) if it is malformed. */
function itemsOf(batch: IngestBatch): Item[] {
  const bad = (why: string): TmError => new TmError('TM_BAD_MESSAGE', `malformed batch: ${why}`);
  if (typeof batch !== 'object' || batch === null) throw bad('not an object');
  assertName('node', batch.origin);
  if (typeof batch.epoch !== 'string' || batch.epoch === '') throw bad('epoch must be a non-empty string');
  if (!Array.isArray(batch.txs)) throw bad('txs must be an array');
  const skips = batch.skips ?? [];
  if (!Array.isArray(skips)) throw bad('skips must be an array');
  const items: Item[] = [];
  for (const txn of batch.txs) {
    if (typeof txn !== 'object' || txn === null || !isSeq(txn.seq)) throw bad('every tx needs a seq ≥ 1');
    items.push({ kind: 'tx', seq: txn.seq, txn });
  }
  for (const skip of skips) {
    if (!isSeq(skip?.from) || !isSeq(skip.to) || skip.from > skip.to) throw bad('a skip needs 1 ≤ from ≤ to');
    if (skip.epoch !== undefined && skip.epoch !== batch.epoch) throw bad('a skip of another epoch');
    items.push({ kind: 'skip', seq: skip.from, to: skip.to });
  }
  // I8: the hub applies in seq order whatever order the batch lists them in.
  return items.sort((a, b) => a.seq - b.seq);
}

/** Reads the applied mark of (origin, epoch, table) from durable data. */
export async function readMark(store: Store, origin: string, epoch: string, table: string): Promise<Mark> {
  const def = store.requireTable(table);
  return decodeMark(await store.kv.get(markKey(def.name, origin, epoch)));
}

/** I9: the claims of an edge's hello that exceed the hub's marks (a restored or cloned edge store). */
export async function helloCheck(
  store: Store,
  origin: string,
  claims: readonly PublishClaim[],
): Promise<HelloConflict[]> {
  const marks = new Map<PublishClaim, number>();
  for (const claim of claims) {
    const def = store.getTable(claim.table);
    marks.set(claim, def ? (await readMark(store, origin, claim.epoch, def.name)).applied : 0);
  }
  return helloConflicts(claims, (claim) => marks.get(claim) ?? 0);
}

/**
 * Ingests one batch (see the file comment) and resolves with its receipt once the batch is durable (I7).
 * Throws (consuming nothing) for a malformed envelope (TM_BAD_MESSAGE) or an unknown table (TM_UNKNOWN_TABLE).
 */
export async function ingestBatch(
  store: Store,
  feed: Feed,
  batch: IngestBatch,
  options: IngestOptions,
): Promise<IngestReceipt> {
  const items = itemsOf(batch);
  const def = store.requireTable(batch.table);
  const stats = options.stats;
  // The records the batch touches are read before the commit lock (one getMany), not one by one under it.
  const prefetch: BinKey[] = [];
  for (const txn of batch.txs) {
    for (const op of Array.isArray(txn.ops) ? txn.ops : []) {
      const key = (op as { key?: unknown } | null)?.key;
      if (typeof key === 'string' || (typeof key === 'number' && Number.isFinite(key)))
        prefetch.push(recordKey(def.name, key));
    }
  }
  return store.transact(async (tx) => {
    const key = markKey(def.name, batch.origin, batch.epoch);
    const before = decodeMark(await tx.get(key));
    const run = new BatchRun(store, feed, tx, def, batch, options, before);
    const stop = await run.process(items);
    if (run.mark !== before) tx.put(key, encodeMark(run.mark));
    if (stats) tx.onPrepared(() => run.addTo(stats));
    if (options.onPrepared) tx.onPrepared(options.onPrepared);
    return {
      table: def.name,
      epoch: batch.epoch,
      appliedThrough: run.mark.applied,
      errors: run.errors,
      errorKind: 'none',
      ...stop,
      hubEpoch: store.epoch,
      applied: run.counts.applied,
      duplicates: run.counts.duplicates,
      skipped: run.counts.skipped,
    } satisfies IngestReceipt;
  }, prefetch);
}

/** The work of one batch inside its transaction. */
class BatchRun {
  readonly counts: Counts = {
    applied: 0,
    duplicates: 0,
    gaps: 0,
    skipped: 0,
    poison: 0,
    conflicts: 0,
    transient: 0,
  };
  readonly errors: TxError[] = [];
  private readonly log: ApplyLogEntry[] = [];
  private readonly horizon: Stamp | undefined;

  constructor(
    private readonly store: Store,
    private readonly feed: Feed,
    private readonly tx: Tx,
    private readonly def: TableDef,
    private readonly batch: IngestBatch,
    private readonly options: IngestOptions,
    public mark: Mark,
  ) {
    // Read under the commit lock: a tombstone collected by an earlier transaction is already in G (I5).
    const g = feed.gcHorizon(def.name);
    const extra = options.gcHorizon;
    this.horizon = g === undefined || (extra !== undefined && compareStamp(extra, g) > 0) ? extra : g;
  }

  /** Processes the items in seq order; returns what stopped the batch, if anything. */
  async process(items: readonly Item[]): Promise<Stop | undefined> {
    for (const item of items) {
      const stop = item.kind === 'skip' ? this.skip(item.seq, item.to) : await this.one(item.seq, item.txn);
      if (stop) return stop;
    }
    return undefined;
  }

  private skip(from: number, to: number): Stop | undefined {
    const d = decideSkip(this.mark, from, to);
    if (d.kind === 'duplicate') return undefined;
    if (d.kind === 'gap') return this.gap(d.resumeFrom);
    this.counts.skipped += d.count;
    this.mark = advanceSkip(this.mark, to);
    return undefined;
  }

  private gap(resumeFrom: number): Stop {
    this.counts.gaps++;
    const message = `expected seq ${resumeFrom} of epoch ${this.batch.epoch}`;
    return { errorKind: 'gap', code: 'TM_GAP', message, resumeFrom };
  }

  private async one(seq: number, received: Transaction): Promise<Stop | undefined> {
    const d = decideTx(this.mark, seq, wellFormedStamp(received));
    if (d.kind === 'duplicate') {
      if (this.options.failpoints?.has('dedup-off')) return this.applyAgain(seq, received);
      this.counts.duplicates++; // I9: re-receipted (appliedThrough covers it), not re-applied
      return undefined;
    }
    if (d.kind === 'gap') return this.gap(d.resumeFrom);
    if (d.kind === 'conflict') {
      this.counts.conflicts++;
      const message = `seq ${seq} of epoch ${this.batch.epoch} was applied with another stamp: restored or cloned store`;
      this.errors.push({ seq, code: 'TM_EPOCH_CONFLICT', message, poison: false });
      return {
        errorKind: 'epoch-conflict',
        code: 'TM_EPOCH_CONFLICT',
        message,
        conflict: 'TM_EPOCH_CONFLICT',
      };
    }
    const check = checkTx(this.store, this.def, this.batch.origin, this.batch.epoch, received);
    if (!check.ok) return this.poison(seq, check.code as ErrorCode, check.message, check.stamp);
    const txn = check.txn;
    // I3: checked before applyTransaction, which would advance the hub clock (I2).
    const ahead = checkClockAhead(txn.stamp, this.options.hubNowMs, this.options.maxClockSkewMs ?? 60_000);
    if (!ahead.ok) {
      this.counts.transient++;
      const message = `HLC is ${ahead.aheadMs} ms ahead of the hub clock`;
      this.errors.push({ seq, code: 'TM_CLOCK_AHEAD', message, poison: false });
      return { errorKind: 'transient', code: 'TM_CLOCK_AHEAD', message, retryAfterMs: ahead.retryAfterMs };
    }
    if (await this.belowHorizon(txn)) {
      const message = 'write stamped at or below the GC horizon to a key the hub does not hold';
      return this.poison(seq, 'TM_BELOW_GC_HORIZON', message, txn.stamp);
    }
    await this.store.applyTransaction(this.tx, txn);
    const hubSeq = await this.feed.appendFeed(this.tx, this.def.name, txn);
    this.counts.applied++;
    this.log.push({ origin: this.batch.origin, epoch: this.batch.epoch, table: this.def.name, seq, hubSeq });
    this.mark = advanceTx(this.mark, seq, txn.stamp);
    return undefined;
  }

  /** Failpoint dedup-off (a mutant of I9): a duplicate is merged and appended to the feed again. */
  private async applyAgain(seq: number, received: Transaction): Promise<undefined> {
    const check = checkTx(this.store, this.def, this.batch.origin, this.batch.epoch, received);
    if (!check.ok) return undefined;
    await this.store.applyTransaction(this.tx, check.txn);
    const hubSeq = await this.feed.appendFeed(this.tx, this.def.name, check.txn);
    this.counts.applied++;
    this.log.push({ origin: this.batch.origin, epoch: this.batch.epoch, table: this.def.name, seq, hubSeq });
    return undefined;
  }

  /** I11: poison is consumed in this batch; the receipt names it. */
  private poison(seq: number, code: ErrorCode, message: string, stamp: Stamp | undefined): undefined {
    this.counts.poison++;
    this.errors.push({ seq, code, message, poison: true });
    this.mark = advanceTx(this.mark, seq, stamp);
    return undefined;
  }

  /** I5: a write stamped ≤ G to a key the hub does not hold could resurrect a collected record. */
  private async belowHorizon(txn: Transaction): Promise<boolean> {
    if (this.horizon === undefined || compareStamp(txn.stamp, this.horizon) > 0) return false;
    for (const op of txn.ops) {
      if ((await this.store.readState(this.tx, this.def.name, op.key)) === undefined) return true;
    }
    return false;
  }

  addTo(stats: IngestStats): void {
    for (const name of Object.keys(this.counts) as (keyof Counts)[]) stats[name] += this.counts[name];
    stats.applyLog?.push(...this.log);
  }
}
