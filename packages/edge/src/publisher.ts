/**
 * The publisher drains each published table's outbox to the hub (SPEC §5 "Edge → hub"):
 * entries in seq order, many transactions per MQTT message, at most `windowBatches` batches in flight over all
 * tables (weighted round-robin picks the table), truncation only on receipts (I7), go-back-N on a gap (I8) or a
 * receipt timeout, holding on transient refusals until the hub's retry-after (I3, I11), quarantine of poison
 * (I11, done by the outbox), and a new publish epoch with a re-upload on TM_EPOCH_CONFLICT (I9).
 */
import {
  encodeTransactionBatch,
  type Outbox,
  type ReceiptError,
  topics,
  type WireReceipt,
} from '@tablemesh/core';

/** Publisher limits (edge config `limits`). */
export interface PublisherLimits {
  readonly windowBatches: number;
  readonly batchMaxTxs: number;
  readonly batchMaxBytes: number;
  readonly receiptTimeoutMs: number;
}

/** What the publisher needs. */
export interface PublisherDeps {
  readonly nodeId: string;
  readonly outbox: Outbox;
  readonly limits: PublisherLimits;
  readonly now: () => number;
  /** primary key attribute of a table, sent in the batch header */
  primaryKeyOf(table: string): string;
  /** the hub epoch of the last welcome, undefined before the first one */
  hubEpoch?(): string | undefined;
  send(topic: string, payload: Uint8Array): Promise<void>;
  /** whether the link is up now; nothing is sent while it is not (the next welcome starts the publisher again) */
  connected?(): boolean;
  /** after a send failed, ms before sending is tried again on the same link (default SEND_RETRY_MS) */
  readonly sendRetryMs?: number;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** told of every receipt the outbox took (the HTTP API's confirm=hub waits on it) */
  readonly receipts?: {
    onReceipt(table: string, epoch: string, through: number, errors: readonly ReceiptError[]): void;
  };
}

interface InFlight {
  readonly table: string;
  readonly epoch: string;
  readonly toSeq: number;
  readonly sentAt: number;
}

/** Default delay before sending again after a send failed while the link looked up (ms). */
export const SEND_RETRY_MS = 1_000;

/** Sends outbox batches while the link is up. */
export class Publisher {
  readonly counters = {
    batchesSent: 0,
    txsSent: 0,
    receipts: 0,
    gaps: 0,
    timeouts: 0,
    conflicts: 0,
    transient: 0,
  };
  private inFlight: InFlight[] = [];
  private active = false;
  /** bumped by start() and stop(): a send failure of an older link is not this link's business */
  private generation = 0;
  private pumping = false;
  private again = false;
  private readonly holdTimers = new Map<string, NodeJS.Timeout>();
  private timer: NodeJS.Timeout | undefined;
  /**
   * Set when a send failed: nothing is sent until it fires (or the next start). Without it, a failed send reset
   * the table and the drain loop, whose awaits resolve from memory, sent it again in the same turn — forever,
   * starving the event loop (an edge welcomed just after its link dropped stopped answering HTTP).
   */
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: PublisherDeps) {}

  /** The link is up and the hub welcomed us: send from the last receipt of every table (go-back-N). */
  start(): void {
    this.generation++;
    this.active = true;
    this.inFlight = [];
    this.clearRetry();
    for (const table of this.deps.outbox.publishedTables()) this.deps.outbox.resetInFlight(table);
    this.timer ??= setInterval(() => this.checkTimeouts(), Math.min(1000, this.deps.limits.receiptTimeoutMs));
    this.timer.unref();
    this.pump();
    // A hold outlives the link (it is persisted; its release timer is dropped by stop()), so without this a
    // table held before a reconnect or restart would stay held for good. The hub decides afresh (I11).
    void this.releaseHolds().catch((err) =>
      this.deps.log.warn({ err: String(err) }, 'publisher: releasing holds failed'),
    );
  }

  private async releaseHolds(): Promise<void> {
    const { outbox } = this.deps;
    for (const table of outbox.publishedTables()) {
      if (!this.active) return;
      if (!(await outbox.stats(table)).held) continue;
      await outbox.clearHold(table);
      outbox.resetInFlight(table);
    }
    if (this.active) this.pump();
  }

  /** The link went down: nothing is in flight any more (clean sessions: resend after reconnect). */
  stop(): void {
    this.generation++;
    this.active = false;
    this.inFlight = [];
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clearRetry();
    for (const t of this.holdTimers.values()) clearTimeout(t);
    this.holdTimers.clear();
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** A send failed: try again after sendRetryMs, not now (the same link would refuse it again at once). */
  private retryLater(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.active) this.pump();
    }, this.deps.sendRetryMs ?? SEND_RETRY_MS);
    this.retryTimer.unref();
  }

  /** New local writes were committed: send them if the window allows. */
  notify(): void {
    if (this.active) this.pump();
  }

  /** Batches in flight now. */
  get inFlightCount(): number {
    return this.inFlight.length;
  }

  private pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.drain()
      .catch((err) => this.deps.log.warn({ err: String(err) }, 'publisher: send failed'))
      .finally(() => {
        this.pumping = false;
        if (this.again && this.active) {
          this.again = false;
          this.pump();
        }
      });
  }

  private async drain(): Promise<void> {
    const { outbox, limits } = this.deps;
    while (this.active && this.retryTimer === undefined && this.inFlight.length < limits.windowBatches) {
      // A welcome handled after its link dropped starts the publisher on a dead link: nothing to send on it.
      if (this.deps.connected?.() === false) return;
      this.again = false;
      const table = outbox.pickTable();
      if (table === undefined) return;
      const batch = await outbox.nextBatch(table, {
        maxTxs: limits.batchMaxTxs,
        maxBytes: limits.batchMaxBytes,
      });
      if (!batch) continue;
      if (!this.active) {
        outbox.resetInFlight(table);
        return;
      }
      const payload = encodeTransactionBatch({
        origin: this.deps.nodeId,
        table: batch.table,
        epoch: batch.epoch,
        primaryKey: this.deps.primaryKeyOf(batch.table),
        txs: batch.txs,
        skips: batch.skips.map((s) => ({ epoch: s.epoch, fromSeq: s.from, toSeq: s.to, reason: s.reason })),
      });
      this.inFlight.push({
        table: batch.table,
        epoch: batch.epoch,
        toSeq: batch.toSeq,
        sentAt: this.deps.now(),
      });
      this.counters.batchesSent++;
      this.counters.txsSent += batch.txs.length;
      // Not awaited: the window is bounded by receipts (I7), not by PUBACKs, which prove nothing and would cost
      // a round trip through the hub's busy event loop per batch. mqtt.js writes the batches in call order.
      const generation = this.generation;
      this.deps.send(topics.up(this.deps.nodeId, batch.table), payload).catch((err: unknown) => {
        if (generation !== this.generation) return; // a link that is gone: start() resends everything
        // Not sent (link down): it is resent from the last receipt after the next welcome.
        this.deps.log.warn({ err: String(err), table: batch.table }, 'publisher: batch not sent');
        this.forget(batch.table);
        outbox.resetInFlight(batch.table);
        this.retryLater();
      });
    }
  }

  /** Handles a receipt from the hub (I7–I11). */
  async onReceipt(receipt: WireReceipt): Promise<void> {
    const { outbox } = this.deps;
    const table = receipt.table;
    if (!outbox.publishedTables().includes(table)) return;
    this.counters.receipts++;
    const errors: ReceiptError[] = receipt.errors.map((e) => ({ ...e }));
    if (receipt.errorKind === 'transient' && !errors.some((e) => !e.poison)) {
      errors.push({
        seq: receipt.appliedThrough + 1,
        code: receipt.code,
        message: receipt.message,
        poison: false,
      });
    }
    if (receipt.errorKind === 'epoch-conflict') {
      // I10: a hub of an epoch we have not seen (wiped or replaced) answers our hello's claims with conflicts;
      // its welcome, right behind, rotates every table once. Rotating here as well would race with it and
      // could upload the table twice.
      const known = this.deps.hubEpoch?.();
      if (known !== undefined && receipt.hubEpoch !== '' && receipt.hubEpoch !== known) return;
      // I9: a restored or cloned store: new publish epoch, re-upload everything under it.
      this.counters.conflicts++;
      const current = (await outbox.stats(table)).epoch;
      if (receipt.epoch !== current) return; // already rotated
      const rotated = await outbox.rotateEpoch(table);
      this.deps.log.warn(
        { table, epoch: rotated.epoch, count: rotated.count },
        'TM_EPOCH_CONFLICT: re-upload',
      );
      this.forget(table);
      this.pump();
      return;
    }
    const outcome = await outbox.onReceipt(table, receipt.epoch, receipt.appliedThrough, errors);
    if (outcome.ignored) return;
    this.deps.receipts?.onReceipt(table, receipt.epoch, receipt.appliedThrough, errors);
    this.inFlight = this.inFlight.filter(
      (f) => !(f.table === table && f.epoch === receipt.epoch && f.toSeq <= receipt.appliedThrough),
    );
    if (outcome.quarantined.length > 0) {
      this.deps.log.warn(
        { table, quarantined: outcome.quarantined },
        'poison transactions quarantined (I11)',
      );
    }
    if (receipt.errorKind === 'gap') {
      this.counters.gaps++;
      this.forget(table);
      outbox.resetInFlight(table, receipt.resumeFrom || receipt.appliedThrough + 1);
    } else if (receipt.errorKind === 'transient') {
      this.counters.transient++;
      this.forget(table);
      this.scheduleRelease(table, receipt.retryAfterMs || 5_000);
    }
    this.pump();
  }

  private scheduleRelease(table: string, afterMs: number): void {
    if (this.holdTimers.has(table)) return;
    const timer = setTimeout(() => {
      this.holdTimers.delete(table);
      if (!this.active) return;
      this.deps.outbox
        .clearHold(table)
        .then(() => {
          this.deps.outbox.resetInFlight(table);
          this.pump();
        })
        .catch((err) => this.deps.log.warn({ err: String(err), table }, 'publisher: release failed'));
    }, afterMs);
    timer.unref();
    this.holdTimers.set(table, timer);
  }

  private forget(table: string): void {
    this.inFlight = this.inFlight.filter((f) => f.table !== table);
  }

  /** Batches without a receipt for receiptTimeoutMs are resent from the last receipt (go-back-N). */
  private checkTimeouts(): void {
    const limit = this.deps.now() - this.deps.limits.receiptTimeoutMs;
    const late = new Set(this.inFlight.filter((f) => f.sentAt < limit).map((f) => f.table));
    for (const table of late) {
      this.counters.timeouts++;
      this.forget(table);
      this.deps.outbox.resetInFlight(table);
    }
    if (late.size > 0) this.pump();
  }
}
