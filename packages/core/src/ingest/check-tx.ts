/**
 * Content checks of one received transaction (I11): a transaction that fails here is *poison* — refused for what
 * it is, not for the hub's state — so the hub consumes its seq with an error receipt and the link moves on.
 */
import { isTmError, TmError } from '../errors.js';
import { assertHlc } from '../hlc.js';
import type { Store } from '../store/store.js';
import type { TableDef } from '../store/tables.js';
import { tableRef } from '../store/tables.js';
import type { Op, PrimaryKey, Stamp, Transaction } from '../types.js';
import { assertPrimaryKey, assertRecordSize, opJsonBytes, validateRecordAttrs } from '../validate.js';

/** The outcome of the content checks: the transaction as it will be applied, or why it is poison. */
export type TxCheck =
  | { readonly ok: true; readonly txn: Transaction }
  | {
      readonly ok: false;
      readonly code: string;
      readonly message: string;
      readonly stamp: Stamp | undefined;
    };

/** The stamp of a received transaction if it is well-formed, else undefined. */
export function wellFormedStamp(txn: Transaction): Stamp | undefined {
  const s = (txn as { stamp?: unknown }).stamp as Partial<Stamp> | undefined;
  if (typeof s !== 'object' || s === null || typeof s.node !== 'string' || typeof s.epoch !== 'string') {
    return undefined;
  }
  try {
    const hlc = assertHlc(s);
    return { wall: hlc.wall, counter: hlc.counter, node: s.node, epoch: s.epoch };
  } catch {
    return undefined;
  }
}

/**
 * I11: validates a received transaction of (origin, epoch) for `def` and returns it normalised (ops validated,
 * primary key and derived attributes stripped), or the poison code: TM_INVALID_ARGUMENT (shape, unknown op,
 * stamp of another origin or epoch, two ops on one key), TM_INVALID_VALUE/TM_INVALID_KEY/TM_INVALID_NAME,
 * TM_RECORD_TOO_LARGE, TM_TX_TOO_LARGE.
 */
/** (opJsonBytes moved to validate.ts: the edge measures a transaction the same way, SPEC §7 maxTxBytes.) */
export { opJsonBytes };

export function checkTx(
  store: Store,
  def: TableDef,
  origin: string,
  _epoch: string,
  txn: Transaction,
): TxCheck {
  const stamp = wellFormedStamp(txn);
  try {
    if (stamp === undefined) throw new TmError('TM_INVALID_ARGUMENT', 'transaction stamp is malformed');
    // I15: a node publishes only its own transactions. The stamp's epoch may be an older publish epoch of the
    // same node: a re-upload after an epoch rotation (I10) keeps the original stamps so the merge is unchanged.
    // Order and dedupe use the batch's epoch and seq, never stamp.epoch.
    if (stamp.node !== origin) {
      throw new TmError('TM_INVALID_ARGUMENT', `stamp of node ${stamp.node} in a batch of origin ${origin}`);
    }
    if (txn.table !== undefined && txn.table !== '' && tableRef(txn.table) !== def.name) {
      throw new TmError('TM_INVALID_ARGUMENT', `transaction of table ${txn.table} in a batch of ${def.name}`);
    }
    if (!Array.isArray(txn.ops)) throw new TmError('TM_INVALID_ARGUMENT', 'ops must be an array');
    if (txn.ops.length > store.maxOpsPerTx) {
      throw new TmError('TM_TX_TOO_LARGE', `${txn.ops.length} operations; the limit is ${store.maxOpsPerTx}`);
    }
    const seen = new Set<PrimaryKey>();
    // The size is that of the ops' canonical JSON, summed from the parts already measured (opJsonBytes).
    let bytes = txn.ops.length === 0 ? 2 : txn.ops.length + 1;
    const ops = txn.ops.map((op) => {
      const { checked, attrBytes } = checkOp(store, def, op);
      if (seen.has(checked.key)) {
        throw new TmError('TM_INVALID_ARGUMENT', `two operations on key ${JSON.stringify(checked.key)}`);
      }
      seen.add(checked.key);
      bytes += opJsonBytes(checked, attrBytes);
      return checked;
    });
    if (bytes > store.maxTxBytes) {
      throw new TmError('TM_TX_TOO_LARGE', `transaction is ${bytes} bytes; the limit is ${store.maxTxBytes}`);
    }
    return { ok: true, txn: { table: def.name, stamp, seq: txn.seq, ops } };
  } catch (err) {
    if (!isTmError(err)) throw err;
    return { ok: false, code: err.code, message: err.message, stamp };
  }
}

function checkOp(store: Store, def: TableDef, op: Op): { checked: Op; attrBytes: number } {
  if (typeof op !== 'object' || op === null)
    throw new TmError('TM_INVALID_ARGUMENT', 'an operation must be an object');
  const key = assertPrimaryKey(op.key);
  if (op.kind === 'delete') return { checked: { kind: 'delete', key }, attrBytes: 0 };
  if (op.kind !== 'put' && op.kind !== 'patch') {
    throw new TmError('TM_INVALID_ARGUMENT', `unknown operation '${String((op as { kind: unknown }).kind)}'`);
  }
  const attrs = validateRecordAttrs(op.attrs, def.primaryKey);
  const given = (op.attrs as Record<string, unknown>)[def.primaryKey];
  if (given !== undefined && given !== key) {
    throw new TmError(
      'TM_INVALID_KEY',
      `record ${JSON.stringify(given)} does not match key ${JSON.stringify(key)}`,
    );
  }
  const attrBytes = assertRecordSize(attrs, store.maxRecordBytes);
  return { checked: { kind: op.kind, key, attrs }, attrBytes };
}
