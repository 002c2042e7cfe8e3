/**
 * Applied marks of the hub's ingest (I7–I10): per (origin, publish epoch, table) the highest seq consumed and the
 * stamps of the most recent seqs, so a "duplicate" carrying another stamp is recognised as a restored or cloned
 * store (I9). The decisions here are pure; ingest.ts stores marks under `['k', table, origin, epoch]`.
 */
import { compareStamp } from '../hlc.js';
import { encodeKey } from '../store/keys.js';
import type { Stamp } from '../types.js';

/** How many recent seqs keep their stamp for the I9 duplicate check. */
export const RECENT_MARKS = 64;

/** One remembered seq: the stamp it was consumed with (undefined for seqs covered by a SKIP range). */
export interface RecentMark {
  readonly seq: number;
  readonly stamp?: Stamp;
}

/** The applied mark of one (origin, epoch, table). An epoch the hub never saw has mark 0 (I10). */
export interface Mark {
  /** highest seq consumed: applied, poisoned (I11) or skipped; every seq ≤ it is a duplicate (I9) */
  readonly applied: number;
  /** stamps of the seqs in (applied - RECENT_MARKS, applied], ascending by seq */
  readonly recent: readonly RecentMark[];
}

/** The mark of an epoch the hub has no mark for: only seq 1 is accepted (I10). */
export const EMPTY_MARK: Mark = Object.freeze({ applied: 0, recent: Object.freeze([]) });

/** Storage key of a mark (namespace 'k'); a table's marks share the prefix `['k', table]`. */
export const markKey = (table: string, origin: string, epoch: string): string =>
  encodeKey(['k', table, origin, epoch]);

/** What to do with the next transaction of a batch, given the mark. */
export type TxDecision =
  /** seq ≤ mark with the remembered stamp, or one no longer remembered: re-receipt only (I9) */
  | { readonly kind: 'duplicate' }
  /** seq ≤ mark with a different remembered stamp: restored or cloned store (I9) */
  | { readonly kind: 'conflict'; readonly remembered: Stamp }
  /** seq = mark + 1: apply (or poison) it */
  | { readonly kind: 'next' }
  /** seq > mark + 1: refuse, resume from mark + 1 (I8; I10 for an unknown epoch: resume from 1) */
  | { readonly kind: 'gap'; readonly resumeFrom: number };

/** Decides a transaction with `seq` and `stamp` against `mark` (I8, I9, I10). */
export function decideTx(mark: Mark, seq: number, stamp: Stamp | undefined): TxDecision {
  if (seq > mark.applied + 1) return { kind: 'gap', resumeFrom: mark.applied + 1 };
  if (seq === mark.applied + 1) return { kind: 'next' };
  const remembered = mark.recent.find((r) => r.seq === seq)?.stamp;
  // A seq consumed by a SKIP range has no stamp: the edge gave it up, so a late copy is a plain duplicate.
  if (remembered === undefined || stamp === undefined || sameStamp(remembered, stamp)) {
    return { kind: 'duplicate' };
  }
  return { kind: 'conflict', remembered };
}

/** What to do with a SKIP range `from..to` (inclusive) given the mark. */
export type SkipDecision =
  | { readonly kind: 'duplicate' }
  /** consume the seqs `mark + 1 .. to`; `count` of them are new */
  | { readonly kind: 'next'; readonly count: number }
  | { readonly kind: 'gap'; readonly resumeFrom: number };

/** Decides a SKIP range against `mark`: seqs already consumed are duplicates, the rest must be contiguous. */
export function decideSkip(mark: Mark, from: number, to: number): SkipDecision {
  if (to <= mark.applied) return { kind: 'duplicate' };
  if (from > mark.applied + 1) return { kind: 'gap', resumeFrom: mark.applied + 1 };
  return { kind: 'next', count: to - mark.applied };
}

/** The mark after consuming `seq` (applied or poisoned) with `stamp`. */
export function advanceTx(mark: Mark, seq: number, stamp: Stamp | undefined): Mark {
  const entry: RecentMark = stamp === undefined ? { seq } : { seq, stamp };
  return trim({ applied: seq, recent: [...mark.recent, entry] });
}

/** The mark after consuming a SKIP range through `to`. */
export function advanceSkip(mark: Mark, to: number): Mark {
  return to <= mark.applied ? mark : trim({ applied: to, recent: mark.recent });
}

function trim(mark: Mark): Mark {
  const floor = mark.applied - RECENT_MARKS;
  return { applied: mark.applied, recent: mark.recent.filter((r) => r.seq > floor) };
}

function sameStamp(a: Stamp, b: Stamp): boolean {
  return compareStamp(a, b) === 0;
}

/** Serialises a mark for storage. */
export function encodeMark(mark: Mark): Buffer {
  return Buffer.from(JSON.stringify(mark), 'utf8');
}

/** Parses a stored mark. */
export function decodeMark(buf: Buffer | undefined): Mark {
  if (!buf) return EMPTY_MARK;
  return JSON.parse(buf.toString('utf8')) as Mark;
}

/** What an edge's hello claims for one published table (proto PublishState). */
export interface PublishClaim {
  readonly table: string;
  readonly epoch: string;
  /** the highest applied_through the edge holds a receipt for */
  readonly receiptedThrough: number;
}

/** A claim the hub cannot have issued: the edge's store was restored or cloned (I9). */
export interface HelloConflict extends PublishClaim {
  readonly code: 'TM_EPOCH_CONFLICT';
  /** the hub's mark for (origin, epoch, table) */
  readonly mark: number;
}

/** I9: a hello claiming receipts beyond the hub's mark is a conflict. Pure; `markOf` gives the hub's mark. */
export function helloConflicts(
  claims: readonly PublishClaim[],
  markOf: (claim: PublishClaim) => number,
): HelloConflict[] {
  const conflicts: HelloConflict[] = [];
  for (const claim of claims) {
    const mark = markOf(claim);
    if (claim.receiptedThrough > mark) conflicts.push({ ...claim, code: 'TM_EPOCH_CONFLICT', mark });
  }
  return conflicts;
}
