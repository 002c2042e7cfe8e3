/** Shapes shared by the hub's feed, snapshots, tombstone GC and the edge's feed apply (SPEC §5, I5, I12, I13). */
import type { PrimaryKey, RecordState, Stamp, Transaction } from '../types.js';

/** One applied transaction in a table's feed, as it was applied (origin, epoch and seq ride in `tx`). */
export interface FeedEntry {
  /** the table's feed sequence, ≥ 1 */
  readonly hubSeq: number;
  /** hub wall time (ms) when appended; non-decreasing per table */
  readonly wall: number;
  readonly tx: Transaction;
}

/** A subscriber's position in a table's feed: the last applied hub seq of one hub epoch and table incarnation. */
export interface FeedCursor {
  readonly hubEpoch: string;
  readonly incarnation: string;
  /** last applied hub seq; 0 = nothing applied yet */
  readonly hubSeq: number;
}

/** Why a cursor cannot continue in the feed and needs a snapshot (I13). */
export type SnapshotReason = 'retention' | 'hub-epoch' | 'incarnation' | 'beyond-head';

/** Whether a cursor can continue in the feed (I13). */
export type CursorStatus =
  | { readonly status: 'ok' }
  | { readonly status: 'snapshot'; readonly reason: SnapshotReason };

/** A page of the feed (SPEC §5 catch-up). */
export interface FeedPage {
  /** contiguous, ascending hub seqs starting at afterHubSeq + 1 */
  readonly entries: FeedEntry[];
  /** the table's durable head when the page was made */
  readonly headSeq: number;
  /** the page ends at the head: the subscriber is caught up */
  readonly headReached: boolean;
}

/** Page limits (SPEC §7: 500 entries or 256 KiB). */
export interface PageLimits {
  readonly maxEntries?: number;
  readonly maxBytes?: number;
}

/** One record of a snapshot: its key and full merge state (live record or tombstone, I4). */
export interface SnapshotRecord {
  readonly key: PrimaryKey;
  readonly state: RecordState;
}

/** A page of a table snapshot (I13). */
export interface SnapshotPage {
  readonly table: string;
  readonly hubEpoch: string;
  readonly incarnation: string;
  /** records in key order, live ones and tombstones */
  readonly records: SnapshotRecord[];
  /** G of I5 when the page was read; undefined while nothing was ever collected */
  readonly gcHorizon: Stamp | undefined;
  /** the feed position the snapshot is consistent with (the head when its first page was read) */
  readonly asOfHubSeq: number;
  /** the final page */
  readonly last: boolean;
  /** opaque token to read the next page; '' on the last page */
  readonly resumeAfter: string;
  /** only records with stamps ≥ a time were included (timestamp start point): the receiver must not prune */
  readonly partial: boolean;
}

/** Where a new subscription starts (SPEC §5 start points). */
export type StartSpec = 'now' | 'beginning' | { readonly timeMs: number };

/** The answer to a start point: continue in the feed, or take a snapshot first. */
export type StartPlan =
  | { readonly kind: 'feed'; readonly afterHubSeq: number }
  | { readonly kind: 'snapshot'; readonly minStampWall?: number };
