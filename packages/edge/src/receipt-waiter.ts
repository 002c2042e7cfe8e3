/**
 * Waits for the hub's receipt of local transactions (SPEC §8 confirmation level `hub`; I7: a receipt means the hub
 * applied and fsync'd the transaction). The publisher tells it about every receipt after the outbox processed it;
 * the outbox tells it about SKIP ranges (drop-oldest, ttl, coalesce). A waiter resolves:
 *   applied      the receipt covers its seq without a per-transaction error
 *   quarantined  the receipt refused it for its content (I11)
 *   skipped      it was given up before it was sent (opt-in loss) or superseded in the queue
 *   pending      none of these within the timeout (the HTTP answer is then 202 with the status URL)
 * A receipt may arrive before the HTTP handler starts waiting (the write resolves after the batch is durable, the
 * publisher may have sent it meanwhile): the latest receipted seq of each table and recent errors are remembered.
 */
import {
  type HubOutcome,
  type Outbox,
  type ReceiptError,
  type ReceiptStatus,
  type ReceiptTracker,
  type SkipRange,
  TmError,
  TRANSIENT_CODES,
  type Transaction,
} from '@tablemesh/core';

/** The outbox methods the waiter uses. */
export type WaiterOutbox = Pick<Outbox, 'publishedTables' | 'next' | 'stats' | 'listQuarantine' | 'onSkip'>;

interface Waiter {
  readonly epoch: string;
  readonly seq: number;
  readonly resolve: (outcome: HubOutcome) => void;
}

interface Known {
  readonly code: string;
  readonly message: string;
}

/** Most per-table errors and skip ranges remembered (older ones fall back to the durable quarantine / 'receipted'). */
const MAX_REMEMBERED = 10_000;

/** Tracks receipts for `confirm=hub`; see the file comment. */
export class ReceiptWaiter implements ReceiptTracker {
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** newest receipt per table: epoch and appliedThrough */
  private readonly marks = new Map<string, { epoch: string; through: number }>();
  /** per table, `epoch:seq` → poison error seen in a receipt */
  private readonly poison = new Map<string, Map<string, Known>>();
  private readonly skips = new Map<string, SkipRange[]>();
  /** per table, the first (epoch, seq) written while this waiter listened: later skips are all known */
  private readonly watchFrom = new Map<string, { epoch: string; seq: number }>();

  constructor(private readonly outbox: WaiterOutbox) {
    for (const table of outbox.publishedTables()) this.track(table);
    outbox.onSkip((table, ranges) => this.onSkip(table, ranges));
  }

  /** Starts tracking a table (published at run time): its transactions from now on are known precisely. */
  track(table: string): void {
    if (this.watchFrom.has(table)) return;
    const next = this.outbox.next(table);
    if (next) this.watchFrom.set(table, next);
  }

  /** ReceiptTracker: only published tables get receipts. */
  assertConfirmable(table: string): void {
    if (!this.outbox.publishedTables().includes(table)) {
      throw new TmError(
        'TM_INVALID_ARGUMENT',
        `table '${table}' is not published to the hub, so its writes get no receipt; confirm=hub needs a published table`,
      );
    }
    this.track(table);
  }

  /** Called by the publisher after the outbox processed a receipt of `table` (I7). */
  onReceipt(table: string, epoch: string, appliedThrough: number, errors: readonly ReceiptError[]): void {
    const mark = this.marks.get(table);
    if (!mark || mark.epoch !== epoch || appliedThrough > mark.through) {
      this.marks.set(table, { epoch, through: appliedThrough });
    }
    for (const e of errors) {
      const poison = e.poison ?? !TRANSIENT_CODES.has(e.code);
      if (poison && e.seq <= appliedThrough) {
        const known = this.poison.get(table) ?? new Map<string, Known>();
        known.set(`${epoch}:${e.seq}`, { code: e.code, message: e.message });
        if (known.size > MAX_REMEMBERED) known.delete(known.keys().next().value!);
        this.poison.set(table, known);
      }
    }
    this.settle(table);
  }

  private onSkip(table: string, ranges: readonly SkipRange[]): void {
    const list = this.skips.get(table) ?? [];
    list.push(...ranges);
    if (list.length > MAX_REMEMBERED) list.splice(0, list.length - MAX_REMEMBERED);
    this.skips.set(table, list);
    this.settle(table);
  }

  /** The outcome of (table, epoch, seq) from what was heard, or undefined while it is pending. */
  private known(table: string, epoch: string, seq: number): HubOutcome | undefined {
    const base = { table, epoch, seq };
    const skip = this.skips.get(table)?.find((r) => r.epoch === epoch && r.from <= seq && seq <= r.to);
    if (skip)
      return {
        ...base,
        state: 'skipped',
        code: skip.reason,
        message: `skipped before sending (${skip.reason})`,
      };
    const mark = this.marks.get(table);
    if (!mark || mark.epoch !== epoch || seq > mark.through) return undefined;
    const poison = this.poison.get(table)?.get(`${epoch}:${seq}`);
    if (poison) return { ...base, state: 'quarantined', ...poison };
    return { ...base, state: 'applied' };
  }

  private settle(table: string): void {
    const set = this.waiters.get(table);
    if (!set) return;
    for (const w of [...set]) {
      const outcome = this.known(table, w.epoch, w.seq);
      if (outcome) {
        set.delete(w);
        w.resolve(outcome);
      }
    }
    if (set.size === 0) this.waiters.delete(table);
  }

  /** ReceiptTracker: resolves when every transaction has an outcome, or with `pending` ones after `timeoutMs`. */
  async wait(txns: readonly Transaction[], timeoutMs: number): Promise<HubOutcome[]> {
    const results: (HubOutcome | undefined)[] = txns.map((t) => this.known(t.table, t.stamp.epoch, t.seq));
    const registered: Array<{ table: string; waiter: Waiter }> = [];
    const promises = txns.map((t, i) => {
      if (results[i]) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const waiter: Waiter = {
          epoch: t.stamp.epoch,
          seq: t.seq,
          resolve: (outcome) => {
            results[i] = outcome;
            resolve();
          },
        };
        const set = this.waiters.get(t.table) ?? new Set<Waiter>();
        set.add(waiter);
        this.waiters.set(t.table, set);
        registered.push({ table: t.table, waiter });
      });
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(promises),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const { table, waiter } of registered) {
      const set = this.waiters.get(table);
      set?.delete(waiter);
      if (set?.size === 0) this.waiters.delete(table);
    }
    return txns.map(
      (t, i) => results[i] ?? { table: t.table, epoch: t.stamp.epoch, seq: t.seq, state: 'pending' },
    );
  }

  /** Waiters currently registered (for tests and metrics). */
  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  /** ReceiptTracker: the status URL's answer, from the durable outbox and quarantine plus what was heard. */
  async status(table: string, epoch: string, seq: number): Promise<ReceiptStatus> {
    if (!this.outbox.publishedTables().includes(table)) {
      throw new TmError('TM_NOT_FOUND', `table '${table}' is not published to the hub`);
    }
    const stats = await this.outbox.stats(table);
    const progress = { currentEpoch: stats.epoch, receiptedThrough: stats.receiptedThrough };
    const base = { table, epoch, seq, ...progress };
    const quarantined = (await this.outbox.listQuarantine(table)).find(
      (q) => q.epoch === epoch && q.seq === seq,
    );
    if (quarantined)
      return { ...base, state: 'quarantined', code: quarantined.code, message: quarantined.message };
    const heard = this.known(table, epoch, seq);
    if (heard?.state === 'skipped') return { ...base, ...heard, ...progress };
    if (epoch !== stats.epoch) {
      return {
        ...base,
        state: 'superseded',
        message: `publish epoch ${epoch} was replaced by ${stats.epoch}; its data was re-uploaded there (I9, I10)`,
      };
    }
    if (seq < 1 || seq >= stats.nextSeq) {
      throw new TmError(
        'TM_NOT_FOUND',
        `no transaction ${seq} in epoch ${epoch} of '${table}' (next is ${stats.nextSeq})`,
      );
    }
    if (seq > stats.receiptedThrough) return { ...base, state: 'pending' };
    const from = this.watchFrom.get(table);
    if (heard?.state === 'applied' || (from && from.epoch === epoch && seq >= from.seq)) {
      return { ...base, state: 'applied' };
    }
    return { ...base, state: 'receipted', message: 'receipted before this edge started: applied or skipped' };
  }
}
