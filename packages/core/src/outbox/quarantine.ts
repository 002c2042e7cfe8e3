/**
 * Quarantine of poison transactions (I11): refused by the hub for their content, kept under ['q', table, id]
 * with the error, shown in status; `retry` re-enqueues the ops as a new local transaction (new stamp, new seq),
 * `drop` forgets them. Moving in and out happens in the same batch as the matching outbox change.
 */
import { canonicalJson } from '../canonical-json.js';
import { TmError } from '../errors.js';
import type { Tx } from '../store/commit.js';
import type { Store } from '../store/store.js';
import { tableRef } from '../store/tables.js';
import type { JsonValue, Transaction } from '../types.js';
import { quarantineKey, quarantineRange, type TxItem } from './items.js';
import { type TableState, writeMeta } from './table-state.js';

/** A quarantined transaction. */
export interface QuarantinedTx {
  /** `table:epoch:seq` */
  readonly id: string;
  readonly table: string;
  readonly epoch: string;
  readonly seq: number;
  readonly code: string;
  readonly message: string;
  readonly txn: Transaction;
  readonly quarantinedMs: number;
}

interface PendingRetry {
  readonly id: string;
  readonly ops: string;
  claimed: boolean;
}

/** Canonical JSON of a transaction's ops: how a retry's new transaction is recognised in append. */
const opsId = (ops: Transaction['ops']): string => canonicalJson(ops as unknown as JsonValue);

/** The quarantine of one outbox. */
export class Quarantine {
  private readonly retries = new Map<string, PendingRetry[]>();

  constructor(
    private readonly store: Store,
    private readonly stateOf: (table: string) => TableState | undefined,
  ) {}

  /** Writes a refused entry to quarantine in `tx` (the receipt's batch); returns its id. */
  put(tx: Tx, st: TableState, item: TxItem, error: { code: string; message: string }): string {
    const id = `${st.table}:${st.epoch}:${item.seq}`;
    const entry: QuarantinedTx = {
      id,
      table: st.table,
      epoch: st.epoch,
      seq: item.seq,
      code: error.code,
      message: error.message,
      txn: item.txn,
      quarantinedMs: this.store.now(),
    };
    tx.put(quarantineKey(st.table, id), Buffer.from(JSON.stringify(entry), 'utf8'));
    return id;
  }

  /** Quarantined transactions of one table or all, in key order (durable data). */
  async list(table?: string): Promise<QuarantinedTx[]> {
    const out: QuarantinedTx[] = [];
    const ref = table === undefined ? undefined : tableRef(table);
    for await (const [, value] of this.store.kv.iterate(quarantineRange(ref))) {
      out.push(JSON.parse(value.toString('utf8')) as QuarantinedTx);
    }
    return out;
  }

  private async get(id: string): Promise<QuarantinedTx> {
    const table = tableOfId(id);
    const buf = await this.store.kv.get(quarantineKey(table, id));
    if (!buf) throw new TmError('TM_NOT_FOUND', `no quarantined transaction ${id}`);
    return JSON.parse(buf.toString('utf8')) as QuarantinedTx;
  }

  /**
   * Re-enqueues the ops of a quarantined transaction as a new local transaction through store.writeLocal (new
   * stamp, new seq); the entry leaves quarantine in that same batch. Resolves with the new transaction.
   */
  async retry(id: string): Promise<Transaction> {
    const entry = await this.get(id);
    const pending: PendingRetry = { id, ops: opsId(entry.txn.ops), claimed: false };
    const list = this.retries.get(entry.table) ?? [];
    list.push(pending);
    this.retries.set(entry.table, list);
    let txn: Transaction;
    try {
      [txn] = (await this.store.writeLocal([{ table: entry.table, ops: entry.txn.ops }])) as [Transaction];
    } finally {
      list.splice(list.indexOf(pending), 1);
      if (list.length === 0) this.retries.delete(entry.table);
    }
    // The table is no longer published (no append ran): remove the entry on its own.
    if (!pending.claimed) await this.remove(entry.table, id);
    return txn;
  }

  /** Forgets a quarantined transaction; TM_NOT_FOUND if there is none with this id. */
  async drop(id: string): Promise<void> {
    const table = tableOfId(id);
    await this.store.transact(async (tx) => {
      if (!(await tx.get(quarantineKey(table, id)))) {
        throw new TmError('TM_NOT_FOUND', `no quarantined transaction ${id}`);
      }
      this.delete(tx, table, id);
    });
  }

  private async remove(table: string, id: string): Promise<void> {
    await this.store.transact(async (tx) => {
      const exists = (await tx.get(quarantineKey(table, id))) !== undefined;
      tx.del(quarantineKey(table, id)); // always one write, so the transaction's batch is written
      if (exists) this.delete(tx, table, id);
    });
  }

  private delete(tx: Tx, table: string, id: string): void {
    tx.del(quarantineKey(table, id));
    const st = this.stateOf(table);
    if (st) writeMeta(tx, st, { quarantined: st.quarantined - 1 });
  }

  /**
   * Called by append: when `txn` is the new transaction of a pending retry, deletes the quarantine entry in the
   * same batch and reports it (the caller lowers the quarantined count in its own meta write).
   */
  async claimRetry(tx: Tx, st: TableState, txn: Transaction): Promise<boolean> {
    const list = this.retries.get(st.table);
    if (list === undefined) return false;
    const ops = opsId(txn.ops);
    for (const pending of list) {
      if (pending.claimed || pending.ops !== ops) continue;
      const key = quarantineKey(st.table, pending.id);
      if (!(await tx.get(key))) continue;
      tx.del(key);
      tx.onPrepared(() => {
        pending.claimed = true;
      });
      return true;
    }
    return false;
  }
}

/** The table of a quarantine id `table:epoch:seq`; TM_NOT_FOUND when malformed. */
function tableOfId(id: unknown): string {
  const parts = typeof id === 'string' ? id.split(':') : [];
  if (parts.length !== 3 || !parts[0])
    throw new TmError('TM_NOT_FOUND', `no quarantined transaction ${String(id)}`);
  return parts[0];
}
