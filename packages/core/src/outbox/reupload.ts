/**
 * Re-upload of a table's current state under a new publish epoch (I9, I10).
 *
 * A Transaction carries one stamp, so the merge state (W, A) of a record cannot travel in one op. Instead the
 * state is split **by stamp**: for every stamp s of this node that survives in the state, one transaction at s
 * holding, per key, `put` (W is a put at s; its attributes still at s), `delete` (W is a delete at s) or `patch`
 * (attributes at s, W not at s). Joining these transactions (I4) rebuilds exactly the state's part stamped by
 * this node, so the receiver's merge is the same as if it had seen the original history.
 *
 * Limits (by design):
 * - Only this node's stamps are re-uploaded: the hub accepts only transactions whose origin is the sender (I15);
 *   parts written by other nodes are re-uploaded by their origins. Data only the hub held needs a hub backup (I10).
 * - The transactions keep their original stamps, so `stamp.epoch` is the publish epoch at write time, not the new
 *   epoch the batch carries: the hub must key order and dedupe on the batch epoch and seq, not on stamp.epoch.
 * - Stamps of quarantined transactions are left out (their content was refused; `quarantine retry` resends them).
 */
import { compareStamp } from '../hlc.js';
import { decodeState } from '../merge.js';
import type { Tx } from '../store/commit.js';
import { decodeKey, encodeKey, prefixEnd } from '../store/keys.js';
import type { Op, PrimaryKey, RecordState, Stamp, Transaction } from '../types.js';
import { decodeItem, encodeTxn, itemKey, tableItemsRange } from './items.js';
import { newEpoch, type TableState, writeMeta } from './table-state.js';

/** Identity of a stamp as a string. */
export const stampId = (s: Stamp): string => `${s.wall}.${s.counter}.${s.node}.${s.epoch}`;

/** Ops at one stamp. */
export interface StampGroup {
  readonly stamp: Stamp;
  readonly ops: Op[];
}

/** Collects, per stamp of `nodeId` not in `exclude`, the ops that rebuild that stamp's part of each state. */
export class StateSplitter {
  private readonly groups = new Map<string, StampGroup>();

  constructor(
    private readonly nodeId: string,
    private readonly exclude: ReadonlySet<string>,
  ) {}

  /** Adds one record's merge state. */
  add(key: PrimaryKey, state: RecordState): void {
    const byStamp = new Map<
      string,
      { stamp: Stamp; attrs: Record<string, RecordState['attrs'][string]['value']> }
    >();
    for (const name of Object.keys(state.attrs)) {
      const { value, stamp } = state.attrs[name]!;
      const id = stampId(stamp);
      const entry = byStamp.get(id) ?? { stamp, attrs: {} };
      entry.attrs[name] = value;
      byStamp.set(id, entry);
    }
    if (state.w !== undefined) {
      const { stamp, kind } = state.w;
      const id = stampId(stamp);
      const attrs = byStamp.get(id)?.attrs ?? {};
      byStamp.delete(id);
      // Under a delete no attribute has W's stamp (I4), so `attrs` is empty then.
      this.push(stamp, kind === 'put' ? { kind: 'put', key, attrs } : { kind: 'delete', key });
    }
    for (const { stamp, attrs } of byStamp.values()) this.push(stamp, { kind: 'patch', key, attrs });
  }

  private push(stamp: Stamp, op: Op): void {
    if (stamp.node !== this.nodeId) return;
    const id = stampId(stamp);
    if (this.exclude.has(id)) return;
    const group = this.groups.get(id) ?? { stamp, ops: [] };
    group.ops.push(op);
    this.groups.set(id, group);
  }

  /** The groups in stamp order (= this node's commit order, I1). */
  result(): StampGroup[] {
    return [...this.groups.values()].sort((a, b) => compareStamp(a.stamp, b.stamp));
  }
}

/**
 * Writes the re-upload of `st`'s table into `tx` under a new epoch: every queued entry of the old epoch (in flight
 * or not) plus this node's part of the current merge state not already covered by one (same stamp) or excluded
 * (quarantined stamps), all with original stamps, in stamp order, ≤ maxOpsPerTx ops per transaction.
 */
export async function writeReupload(
  tx: Tx,
  st: TableState,
  nodeId: string,
  maxOpsPerTx: number,
  excluded: Set<string>,
): Promise<{ epoch: string; count: number; bytes: number }> {
  const groups: { stamp: Transaction['stamp']; ops: Transaction['ops'] }[] = [];
  for await (const [key, value] of tx.iterate(tableItemsRange(st.table))) {
    tx.del(key);
    const item = decodeItem(key, value);
    if (item.kind !== 'tx') continue;
    groups.push({ stamp: item.txn.stamp, ops: item.txn.ops });
    excluded.add(stampId(item.txn.stamp));
  }
  const splitter = new StateSplitter(nodeId, excluded);
  // Records live under ['r', table, key] (store.ts recordKey); read through tx for a consistent cut.
  const records = encodeKey(['r', st.table]);
  for await (const [key, value] of tx.iterate({ gte: records, lt: prefixEnd(records) })) {
    splitter.add(decodeKey(key)[2] as PrimaryKey, decodeState(value.toString('utf8')));
  }
  groups.push(...splitter.result());
  groups.sort((a, b) => compareStamp(a.stamp, b.stamp));
  const epoch = newEpoch();
  let seq = 1;
  let bytes = 0;
  for (const { stamp, ops } of groups) {
    for (let i = 0; i < ops.length; i += maxOpsPerTx) {
      const txn: Transaction = {
        table: st.table,
        stamp,
        seq,
        ops: ops.slice(i, i + maxOpsPerTx),
      };
      const value = encodeTxn(txn);
      tx.put(itemKey(st.table, epoch, seq++), value);
      bytes += value.length;
    }
  }
  const count = seq - 1;
  writeMeta(tx, st, { epoch, nextSeq: seq, receiptedThrough: 0, bytes, count, held: null });
  tx.onPrepared(() => {
    st.sentThrough = 0;
    st.durableThrough = 0;
    st.unsettled.clear();
  });
  tx.onDurable(() => {
    if (st.epoch === epoch) st.durableThrough = Math.max(st.durableThrough, count);
  });
  return { epoch, count, bytes };
}
