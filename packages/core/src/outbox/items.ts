/**
 * Storage layout of the outbox. Per table and publish epoch the outbox is a run of *items* in seq order, one key
 * per item: a queued transaction at its seq, or a SKIP range `(from … to, reason)` at key `from`. Together the
 * items tile every seq in `(receiptedThrough, nextSeq)` — nothing is renumbered, gaps never appear.
 *
 *   ['o', table, epoch, seq]  → canonical JSON of the Transaction, or {"skip":{"reason":…,"to":…}}
 *   ['om', table]             → the table's meta (epoch, next seq, receipted through, bytes, counters, hold)
 *   ['q', table, id]          → a quarantined transaction (I11)
 */
import { canonicalJson } from '../canonical-json.js';
import { type BinKey, decodeKey, encodeKey, prefixEnd } from '../store/keys.js';
import type { JsonValue, Transaction } from '../types.js';
import type { SkipReason } from './config.js';

/** A queued transaction. `bytes` is the size of its canonical JSON, the unit of the quota (I14). */
export interface TxItem {
  readonly kind: 'tx';
  readonly seq: number;
  readonly txn: Transaction;
  readonly bytes: number;
}

/** A range of seqs given up, sent as SKIP(epoch, seq, to, reason). Counts 0 bytes. */
export interface SkipItem {
  readonly kind: 'skip';
  readonly seq: number;
  readonly to: number;
  readonly reason: SkipReason;
}

/** One outbox item. */
export type Item = TxItem | SkipItem;

/** Key of the item starting at `seq`. */
export const itemKey = (table: string, epoch: string, seq: number): BinKey =>
  encodeKey(['o', table, epoch, seq]);

/** Range of every item of (table, epoch) with seq in (afterSeq, throughSeq]. */
export function itemRange(table: string, epoch: string, afterSeq: number, throughSeq?: number) {
  const prefix = encodeKey(['o', table, epoch]);
  return throughSeq === undefined
    ? { gt: itemKey(table, epoch, afterSeq), lt: prefixEnd(prefix) }
    : { gt: itemKey(table, epoch, afterSeq), lte: itemKey(table, epoch, throughSeq) };
}

/** Range of every item of a table, all epochs. */
export function tableItemsRange(table: string) {
  const prefix = encodeKey(['o', table]);
  return { gte: prefix, lt: prefixEnd(prefix) };
}

/** Key of a table's meta. */
export const metaKey = (table: string): BinKey => encodeKey(['om', table]);

/** Range of every table meta. */
export function metaRange() {
  const prefix = encodeKey(['om']);
  return { gte: prefix, lt: prefixEnd(prefix) };
}

/** Key of a quarantined transaction. */
export const quarantineKey = (table: string, id: string): BinKey => encodeKey(['q', table, id]);

/** Range of the quarantine of one table, or of all tables. */
export function quarantineRange(table?: string) {
  const prefix = encodeKey(table === undefined ? ['q'] : ['q', table]);
  return { gte: prefix, lt: prefixEnd(prefix) };
}

/** The stored value of a queued transaction: its canonical JSON (RFC 8785). */
export function encodeTxn(txn: Transaction): Buffer {
  return Buffer.from(canonicalJson(txn as unknown as JsonValue), 'utf8');
}

/** The stored value of a SKIP range item. */
export function encodeSkip(to: number, reason: SkipReason): Buffer {
  return Buffer.from(canonicalJson({ skip: { to, reason } }), 'utf8');
}

/** Decodes an item from its key and value. */
export function decodeItem(key: BinKey, value: Buffer): Item {
  const seq = decodeKey(key)[3] as number;
  const doc = JSON.parse(value.toString('utf8')) as { skip?: { to: number; reason: SkipReason } };
  if (doc.skip !== undefined) return { kind: 'skip', seq, to: doc.skip.to, reason: doc.skip.reason };
  return { kind: 'tx', seq, txn: doc as unknown as Transaction, bytes: value.length };
}

/** The last seq an item covers. */
export const lastSeqOf = (item: Item): number => (item.kind === 'skip' ? item.to : item.seq);
