/** Making room in a full outbox (SPEC §5 onFull: reject, drop-oldest, coalesce; I14). */
import { TmError } from '../errors.js';
import type { Tx } from '../store/commit.js';
import type { Transaction } from '../types.js';
import { planCoalesce } from './coalesce.js';
import { decodeItem, type Item, itemRange, type TxItem } from './items.js';
import { applyDecisions, type Decision, type RewriteEffect } from './rewrite.js';
import type { TableState } from './table-state.js';

/**
 * Frees room for a transaction of `needed` bytes by the table's onFull policy, in `tx`, or throws TM_QUOTA_FULL
 * (the whole request is then refused and nothing is written, I6). Only items not in flight are touched.
 */
export async function makeRoom(
  tx: Tx,
  st: TableState,
  txn: Transaction,
  needed: number,
): Promise<RewriteEffect> {
  const excess = st.bytes + needed - st.config.quotaBytes;
  if (st.config.onFull === 'drop-oldest') {
    // Drop the oldest entries not in flight until the new one fits.
    const items: Item[] = [];
    const decisions = new Map<number, Decision>();
    let freed = 0;
    for await (const item of unsent(tx, st)) {
      items.push(item);
      if (item.kind !== 'tx') continue;
      decisions.set(item.seq, { kind: 'skip', reason: 'drop-oldest' });
      freed += item.bytes;
      if (freed >= excess) break;
    }
    if (freed < excess) throw quotaFull(st, needed, ' (the rest is in flight)');
    return applyDecisions(tx, st.table, st.epoch, items, decisions);
  }
  if (st.config.onFull === 'coalesce') {
    const items: Item[] = [];
    for await (const item of unsent(tx, st)) items.push(item);
    const queued = items.filter((i): i is TxItem => i.kind === 'tx');
    const decisions = new Map<number, Decision>();
    const byQueued = new Map(queued.map((i) => [i.seq, i.txn]));
    for (const [seq, kept] of planCoalesce(queued, txn)) {
      decisions.set(
        seq,
        kept.length === 0
          ? { kind: 'skip', reason: 'coalesced' }
          : { kind: 'rewrite', txn: { ...byQueued.get(seq)!, ops: kept } },
      );
    }
    const effect = applyDecisions(tx, st.table, st.epoch, items, decisions);
    // Still full after coalescing: reject (SPEC §5); the transaction's writes are discarded with it.
    if (effect.freedBytes < excess) throw quotaFull(st, needed, ' after coalescing');
    return effect;
  }
  throw quotaFull(st, needed, '');
}

/** The TM_QUOTA_FULL error: table, used, quota (SPEC §5: the local API answers 507 with it). */
export function quotaFull(st: TableState, needed: number, why: string): TmError {
  const { table, bytes, config } = st;
  return new TmError(
    'TM_QUOTA_FULL',
    `outbox of ${table} is full${why}: ${bytes} of ${config.quotaBytes} bytes used, ` +
      `the transaction needs ${needed} more (onFull: ${config.onFull})`,
    { table, usedBytes: bytes, quotaBytes: config.quotaBytes, neededBytes: needed, onFull: config.onFull },
  );
}

/** Items not in flight, in seq order, read through `tx`. */
export async function* unsent(tx: Tx, st: TableState): AsyncIterable<Item> {
  for await (const [key, value] of tx.iterate(itemRange(st.table, st.epoch, st.sentThrough))) {
    yield decodeItem(key, value);
  }
}
