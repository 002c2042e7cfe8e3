/**
 * Rewrites unsent outbox items inside a store transaction: turns queued transactions into SKIP ranges
 * (drop-oldest, ttl, coalesce) or replaces them by a smaller version of themselves (coalesce). Never renumbers,
 * never re-stamps; contiguous skips of one reason become one range. Callers pass only items that are not in
 * flight (SPEC §5: never touches entries in flight).
 */
import type { Tx } from '../store/commit.js';
import type { Transaction } from '../types.js';
import type { SkipReason } from './config.js';
import { encodeSkip, encodeTxn, type Item, itemKey } from './items.js';

/** What to do with one queued transaction. */
export type Decision = { readonly kind: 'skip'; readonly reason: SkipReason } | RewriteDecision;

/** Replace a queued transaction by `txn` (same seq, same stamp, fewer ops). */
export interface RewriteDecision {
  readonly kind: 'rewrite';
  readonly txn: Transaction;
}

/** A SKIP range of one epoch, as sent to the hub. */
export interface SkipRange {
  readonly epoch: string;
  readonly from: number;
  readonly to: number;
  readonly reason: SkipReason;
}

/** The effect of a rewrite on the table's counters. */
export interface RewriteEffect {
  /** bytes no longer queued */
  freedBytes: number;
  /** queued transactions turned into skips */
  removedCount: number;
  /** seqs newly skipped, per reason (I14: every skip is counted) */
  readonly skipped: Partial<Record<SkipReason, number>>;
  /** smallest seq whose key was written or deleted; undefined if nothing changed */
  minSeq: number | undefined;
  /** the SKIP ranges written (new or extended) */
  readonly ranges: SkipRange[];
}

interface Run {
  from: number;
  to: number;
  readonly reason: SkipReason;
  dirty: boolean;
}

/**
 * Applies `decisions` (by seq) to `items` — consecutive unsent items in seq order — writing through `tx`.
 * Returns the counter changes; memory is not touched (callers apply the effect in tx.onPrepared).
 */
export function applyDecisions(
  tx: Tx,
  table: string,
  epoch: string,
  items: readonly Item[],
  decisions: ReadonlyMap<number, Decision>,
): RewriteEffect {
  const effect: RewriteEffect = {
    freedBytes: 0,
    removedCount: 0,
    skipped: {},
    minSeq: undefined,
    ranges: [],
  };
  const touch = (seq: number): void => {
    if (effect.minSeq === undefined || seq < effect.minSeq) effect.minSeq = seq;
  };
  let run: Run | undefined;
  const close = (): void => {
    if (run?.dirty) {
      tx.put(itemKey(table, epoch, run.from), encodeSkip(run.to, run.reason));
      touch(run.from);
      effect.ranges.push({ epoch, from: run.from, to: run.to, reason: run.reason });
    }
    run = undefined;
  };
  // Extends the open run when `from` follows it with the same reason; otherwise starts a new one.
  const extend = (from: number, to: number, reason: SkipReason, fresh: boolean): void => {
    if (run !== undefined && run.reason === reason && run.to === from - 1) {
      run.to = to;
      run.dirty = true;
      tx.del(itemKey(table, epoch, from));
      touch(from);
      return;
    }
    close();
    run = { from, to, reason, dirty: fresh };
  };
  for (const item of items) {
    if (item.kind === 'skip') {
      extend(item.seq, item.to, item.reason, false);
      continue;
    }
    const decision = decisions.get(item.seq);
    if (decision === undefined) {
      close();
      continue;
    }
    if (decision.kind === 'skip') {
      effect.freedBytes += item.bytes;
      effect.removedCount++;
      effect.skipped[decision.reason] = (effect.skipped[decision.reason] ?? 0) + 1;
      tx.del(itemKey(table, epoch, item.seq));
      touch(item.seq);
      extend(item.seq, item.seq, decision.reason, true);
      continue;
    }
    close();
    const value = encodeTxn(decision.txn);
    effect.freedBytes += item.bytes - value.length;
    tx.put(itemKey(table, epoch, item.seq), value);
    touch(item.seq);
  }
  close();
  return effect;
}
