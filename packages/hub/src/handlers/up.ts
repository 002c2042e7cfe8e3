/**
 * ## handleUp — `tm/v1/up/{node}/{db.table}`
 * The ingest pipeline as named steps: decode → check origin (topic, envelope, identity: I15) → grant →
 * table definition → [clock check (I3) → order/dedupe (I8–I10) → merge (I4) → feed → fsync'd batch] → receipt
 * (I7) → live feed (published by the feed's onAppend listener once durable). The bracketed steps are one
 * store transaction in core's ingestBatch. Batches of one (origin, table) are taken in arrival order, each once
 * the one before it is prepared (see the returned function); each receipt waits for its own batch's fsync.
 */
import {
  decodeTransactionBatch,
  encodeReceipt,
  type Failpoints,
  type Feed,
  type IngestReceipt,
  type IngestStats,
  ingestBatch,
  isTmError,
  readMark,
  type Store,
  TmError,
  topics,
  type WireReceipt,
  type WireTransactionBatch,
} from '@tablemesh/core';
import type { Grants } from '../grants.js';

/** What the up handler needs. */
export interface UpDeps {
  readonly store: Store;
  readonly feed: Feed;
  readonly grants: Grants;
  readonly stats: IngestStats;
  readonly maxClockSkewMs: number;
  readonly now: () => number;
  publish(topic: string, payload: Uint8Array): Promise<void>;
  log: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
  /** test builds only (SPEC §7): receipt-before-fsync, dedup-off, trace-receipts */
  readonly failpoints?: Failpoints;
  /** counters of refusals before ingest */
  readonly refused: { forged: number; notGranted: number; schemaMismatch: number; badMessage: number };
}

/** Transient refusals ask the edge to retry after this long. */
const RETRY_AFTER_MS = 5_000;

function receiptOf(r: IngestReceipt): WireReceipt {
  return {
    table: r.table,
    epoch: r.epoch,
    appliedThrough: r.appliedThrough,
    errors: r.errors.map((e) => ({ seq: e.seq, code: e.code, message: e.message, poison: e.poison })),
    errorKind: r.errorKind,
    code: r.code ?? '',
    message: r.message ?? '',
    resumeFrom: r.resumeFrom ?? 0,
    retryAfterMs: r.retryAfterMs ?? 0,
    hubEpoch: r.hubEpoch,
  };
}

/** Builds the handler; returns a function taking (node, table from topic, payload). */
export function makeUpHandler(deps: UpDeps) {
  const chains = new Map<string, Promise<void>>();
  const fp = deps.failpoints;
  const trace = (
    event: 'durable' | 'receipt',
    node: string,
    r: Pick<WireReceipt, 'table' | 'epoch'>,
    through: number,
  ) => {
    if (fp?.has('trace-receipts'))
      deps.log.info?.({ tm_trace: event, node, table: r.table, epoch: r.epoch, through }, 'trace');
  };
  /** Every receipt leaves through here (traced for the ordering check of the reliability suite). */
  const sendReceipt = async (node: string, receipt: WireReceipt): Promise<void> => {
    trace('receipt', node, receipt, receipt.appliedThrough);
    await deps.publish(topics.receipt(node), encodeReceipt(receipt));
  };

  async function refuse(
    node: string,
    batch: WireTransactionBatch,
    code: string,
    message: string,
  ): Promise<void> {
    const def = deps.store.getTable(batch.table);
    const applied = def ? (await readMark(deps.store, node, batch.epoch, def.name)).applied : 0;
    const receipt: WireReceipt = {
      table: batch.table,
      epoch: batch.epoch,
      appliedThrough: applied,
      errors: [],
      errorKind: 'transient',
      code,
      message,
      resumeFrom: applied + 1,
      retryAfterMs: RETRY_AFTER_MS,
      hubEpoch: deps.store.epoch,
    };
    trace('durable', node, receipt, applied); // read from durable data
    await sendReceipt(node, receipt);
  }

  /**
   * Handles one batch. `prepared` is called once the next batch of this (origin, table) may start: when this
   * one's store transaction is prepared (I8: the next one reads its mark through the commit overlay), or when
   * it ends without one. The receipt waits for this batch's fsync either way (I7).
   */
  async function handle(
    node: string,
    topicTable: string,
    payload: Buffer,
    prepared: () => void,
  ): Promise<void> {
    let batch: WireTransactionBatch;
    try {
      batch = decodeTransactionBatch(payload);
    } catch (err) {
      deps.refused.badMessage++;
      deps.log.warn({ node, err: String(err) }, 'undecodable batch dropped');
      return;
    }
    // I15: topic, envelope and authenticated identity must agree; so must every transaction's origin.
    const forged =
      batch.origin !== node || batch.table !== topicTable || batch.txs.some((t) => t.stamp.node !== node);
    if (forged) {
      deps.refused.forged++;
      deps.log.warn(
        { node, origin: batch.origin, table: batch.table, topicTable },
        'forged origin refused (I15)',
      );
      return;
    }
    if (!deps.grants.canPublish(node, batch.table)) {
      deps.refused.notGranted++;
      return refuse(node, batch, 'TM_NOT_GRANTED', `node '${node}' may not publish '${batch.table}'`);
    }
    const def = deps.store.getTable(batch.table);
    if (!def) {
      // SPEC §5: a granted publish to a table the hub lacks creates it, primary key from the batch header.
      await deps.store
        .createTable({ name: batch.table, primaryKey: batch.primaryKey || 'id' })
        .catch((err) => {
          if (!isTmError(err, 'TM_TABLE_EXISTS')) throw err;
        });
    } else if (batch.primaryKey && def.primaryKey !== batch.primaryKey) {
      deps.refused.schemaMismatch++;
      return refuse(
        node,
        batch,
        'TM_SCHEMA_MISMATCH',
        `'${def.name}' has primary key '${def.primaryKey}', the batch says '${batch.primaryKey}'`,
      );
    }
    if (fp?.has('receipt-before-fsync')) await receiptBeforeFsync(node, batch);
    const receipt = await ingestBatch(
      deps.store,
      deps.feed,
      {
        origin: node,
        table: batch.table,
        epoch: batch.epoch,
        txs: batch.txs,
        skips: batch.skips.map((s) => ({ epoch: s.epoch, from: s.fromSeq, to: s.toSeq, reason: s.reason })),
      },
      {
        hubNowMs: deps.now(),
        maxClockSkewMs: deps.maxClockSkewMs,
        stats: deps.stats,
        onPrepared: prepared,
        ...(fp ? { failpoints: fp } : {}),
      },
    );
    trace('durable', node, receipt, receipt.appliedThrough);
    // I7: ingestBatch resolved, so the batch is durable; only now the receipt.
    await sendReceipt(node, receiptOf(receipt));
  }

  /** Failpoint receipt-before-fsync (a mutant of I7): receipt the whole batch as soon as it is received. */
  async function receiptBeforeFsync(node: string, batch: WireTransactionBatch): Promise<void> {
    const seqs = batch.txs.map((t) => t.seq);
    if (seqs.length === 0) return;
    await sendReceipt(node, {
      table: deps.store.getTable(batch.table)?.name ?? batch.table,
      epoch: batch.epoch,
      appliedThrough: Math.max(...seqs),
      errors: [],
      errorKind: 'none',
      code: '',
      message: '',
      resumeFrom: 0,
      retryAfterMs: 0,
      hubEpoch: deps.store.epoch,
    });
  }

  // Batches of one (origin, table) are taken in arrival order; each starts once the one before it is prepared
  // (not durable), so a burst of batches is group-committed with few fsyncs instead of one fsync each.
  return (node: string, topicTable: string, payload: Buffer): Promise<void> => {
    const key = `${node}\u0000${topicTable}`;
    let release!: () => void;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const run = (chains.get(key) ?? Promise.resolve())
      .then(() => handle(node, topicTable, payload, release))
      .catch((err) => {
        const message = err instanceof TmError ? `${err.code}: ${err.message}` : String(err);
        deps.log.warn({ node, table: topicTable, err: message }, 'batch not ingested');
      })
      .finally(release);
    chains.set(key, turn);
    void turn.then(() => {
      if (chains.get(key) === turn) chains.delete(key);
    });
    return run;
  };
}
