/**
 * Per-table outbox state: the persisted meta (written in the same batch as every change it describes) and the
 * in-memory send state (in flight, durable mark, unsettled rewrites), which a restart resets.
 */
import { randomBytes } from 'node:crypto';
import type { Tx } from '../store/commit.js';
import type { Transaction } from '../types.js';
import { type ResolvedTableConfig, SKIP_REASONS, type SkipReason } from './config.js';
import { metaKey } from './items.js';
import type { RewriteEffect } from './rewrite.js';

/** Why a table's outbox is held (I11 transient refusal). */
export interface Hold {
  readonly code: string;
  readonly message: string;
  /** the seq the hub refused */
  readonly seq: number;
  readonly sinceMs: number;
}

/** What is persisted per published table under ['om', table]. */
export interface OutboxMeta {
  /** publish epoch: random hex, new on first publish and on every rotation (I9, I10) */
  readonly epoch: string;
  readonly nextSeq: number;
  /** the hub's receipt mark in this epoch (I7) */
  readonly receiptedThrough: number;
  /** canonical JSON bytes of queued transactions (I14) */
  readonly bytes: number;
  /** queued transactions */
  readonly count: number;
  /** seqs skipped since the table was first published, per reason (I14) */
  readonly skipped: Readonly<Record<SkipReason, number>>;
  /** transactions in quarantine (I11) */
  readonly quarantined: number;
  readonly held: Hold | null;
}

/** Meta plus memory-only send state of one table. Meta fields change only in tx.onPrepared. */
export interface TableState extends OutboxMeta {
  readonly table: string;
  config: ResolvedTableConfig;
  /** highest seq handed to the publisher (in flight = receiptedThrough < seq ≤ sentThrough); memory only */
  sentThrough: number;
  /** highest seq of this epoch whose append is durable: only durable entries are sent (I6) */
  durableThrough: number;
  /** rewrites prepared but not durable yet → the smallest seq they touched; not sent before they are durable */
  readonly unsettled: Map<object, number>;
  /** the transactions appended since the last rewrite, as appended; memory only (see RecentItems) */
  readonly recent: RecentItems;
}

/**
 * The last transactions appended to a table, kept in memory (up to RECENT_MAX_BYTES of their stored size) so
 * the publisher sends them without reading them back from disk under the commit lock. Only an optimisation:
 * any rewrite of the table's items (drop-oldest, ttl, coalesce: trackUnsettled) empties it, an epoch rotation
 * makes it stale (`epoch`), a receipt drops what it covers, and whatever is missing is read from disk.
 */
export interface RecentItems {
  epoch: string;
  readonly items: Map<number, { readonly txn: Transaction; readonly bytes: number }>;
  bytes: number;
}

/** Stored bytes of transactions kept in a table's RecentItems. */
export const RECENT_MAX_BYTES = 4 * 1024 * 1024;

/** Forgets every recent item (a rewrite changed the table's items). */
export function clearRecent(st: TableState): void {
  st.recent.items.clear();
  st.recent.bytes = 0;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A fresh meta for a table published for the first time. */
export function freshMeta(): OutboxMeta {
  return {
    epoch: newEpoch(),
    nextSeq: 1,
    receiptedThrough: 0,
    bytes: 0,
    count: 0,
    skipped: zeroSkipped(),
    quarantined: 0,
    held: null,
  };
}

/** A new random publish epoch. */
export const newEpoch = (): string => randomBytes(8).toString('hex');

/** Counters of every reason at 0. */
export function zeroSkipped(): Record<SkipReason, number> {
  return Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
}

/** Parses stored meta. */
export function parseMeta(buf: Buffer): OutboxMeta {
  const meta = JSON.parse(buf.toString('utf8')) as OutboxMeta;
  return { ...meta, skipped: { ...zeroSkipped(), ...meta.skipped } };
}

/** Builds the state of a table from its meta; nothing is in flight after a (re)start. */
export function makeState(table: string, config: ResolvedTableConfig, meta: OutboxMeta): TableState {
  return {
    table,
    config,
    ...meta,
    sentThrough: meta.receiptedThrough,
    durableThrough: meta.nextSeq - 1,
    unsettled: new Map(),
    recent: { epoch: meta.epoch, items: new Map(), bytes: 0 },
  };
}

/** The persisted part of a state. */
export function metaOf(st: OutboxMeta): OutboxMeta {
  const { epoch, nextSeq, receiptedThrough, bytes, count, skipped, quarantined, held } = st;
  return { epoch, nextSeq, receiptedThrough, bytes, count, skipped, quarantined, held };
}

/**
 * Writes the table's meta with `patch` applied in the same batch as the change it describes, and applies the
 * patch to memory once the transaction is prepared (never if it fails).
 */
export function writeMeta(tx: Tx, st: TableState, patch: Partial<OutboxMeta>): void {
  const next = { ...metaOf(st), ...patch };
  tx.put(metaKey(st.table), Buffer.from(JSON.stringify(next), 'utf8'));
  tx.onPrepared(() => Object.assign(st as Mutable<TableState>, patch));
}

/** The meta patch of a rewrite's effect (bytes, count, skip counters). */
export function effectPatch(st: OutboxMeta, effect: RewriteEffect | undefined): Partial<OutboxMeta> {
  if (effect === undefined) return {};
  const skipped = { ...st.skipped };
  for (const reason of SKIP_REASONS) skipped[reason] += effect.skipped[reason] ?? 0;
  return { bytes: st.bytes - effect.freedBytes, count: st.count - effect.removedCount, skipped };
}

/**
 * Registers a prepared rewrite as unsettled until durable: the publisher sends nothing at or after the smallest
 * seq it touched before its batch is durable, so nothing sent can be undone by a crash.
 */
export function trackUnsettled(tx: Tx, st: TableState, effect: RewriteEffect | undefined): void {
  if (effect !== undefined) clearRecent(st); // now, under the lock: the publisher reads under it too
  const minSeq = effect?.minSeq;
  if (minSeq === undefined) return;
  const token = {};
  tx.onPrepared(() => st.unsettled.set(token, minSeq));
  tx.onDurable(() => st.unsettled.delete(token));
}

/** Highest seq the publisher may send now: durable and not behind an unsettled rewrite. */
export function sendableThrough(st: TableState): number {
  let bound = st.durableThrough;
  for (const minSeq of st.unsettled.values()) bound = Math.min(bound, minSeq - 1);
  return bound;
}
