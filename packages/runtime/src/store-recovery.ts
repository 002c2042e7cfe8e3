/**
 * Recovery from a failed storage write (ENOSPC, EIO). The store then refuses every transaction
 * (TM_STORE_FAILED) because memory would be ahead of disk; nothing it did not write was acknowledged (I6). An edge
 * or a hub gets out of that state without an operator: it stops every part and starts again from what is durable —
 * what a process restart would do, without leaving its ports unanswered for longer than the restart. While the
 * disk stays full, each attempt fails again at its first write; attempts back off (doubling up to maxDelayMs).
 */

/** The logger calls the recovery makes (pino's signature). */
export interface RecoveryLogger {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Options of the recovery. */
export interface StoreRecoveryOptions {
  /** stops every part that runs (also after a partial start) */
  readonly stop: () => Promise<void>;
  /** starts every part from the durable state; rejects when that fails */
  readonly start: () => Promise<void>;
  readonly log: RecoveryLogger;
  /** delay before the first attempt (ms) */
  readonly minDelayMs?: number;
  /** longest delay between attempts (ms) */
  readonly maxDelayMs?: number;
  /** a failure this long after the last one starts again from minDelayMs (ms) */
  readonly resetAfterMs?: number;
  readonly now?: () => number;
}

/** Schedules restarts after store failures, one at a time, with back-off. */
export class StoreRecovery {
  private timer: NodeJS.Timeout | undefined;
  private restarting = false;
  /** the store of the restart in progress failed too: go again once it is done */
  private failedDuringRestart = false;
  private cancelled = false;
  private delayMs: number;
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  /** restarts done so far (for /metrics and tests) */
  restarts = 0;

  constructor(private readonly options: StoreRecoveryOptions) {
    this.delayMs = options.minDelayMs ?? 1_000;
  }

  /** The store failed: restart after the current delay, unless a restart is already scheduled or running. */
  failed(err: unknown): void {
    if (this.restarting) this.failedDuringRestart = true;
    if (this.cancelled || this.timer !== undefined || this.restarting) return;
    const now = (this.options.now ?? Date.now)();
    if (now - this.lastFailureAt > (this.options.resetAfterMs ?? 60_000)) {
      this.delayMs = this.options.minDelayMs ?? 1_000;
    }
    this.lastFailureAt = now;
    this.options.log.error(
      { err: String(err), restartInMs: this.delayMs },
      'a storage write failed: writes are refused (TM_STORE_FAILED) until a restart from the durable state',
    );
    this.schedule();
  }

  /** No more restarts (stopping for good). */
  cancel(): void {
    this.cancelled = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.options.maxDelayMs ?? 30_000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, delay);
    // Not unref'd: while everything is down between attempts this timer is what keeps the process alive.
  }

  /** Stop, then start; a failed start is stopped again so that the next attempt begins from nothing running. */
  private async restart(): Promise<void> {
    await this.options.stop();
    try {
      await this.options.start();
    } catch (err) {
      await this.options.stop();
      throw err;
    }
  }

  private async attempt(): Promise<void> {
    if (this.cancelled) return;
    this.restarting = true;
    this.failedDuringRestart = false;
    try {
      await this.restart();
      this.restarts++;
      this.options.log.warn({ restarts: this.restarts }, 'restarted from the durable state');
    } catch (err) {
      this.options.log.error(
        { err: String(err), restartInMs: this.delayMs },
        'restart after a storage failure failed; retrying',
      );
      this.restarting = false;
      if (!this.cancelled) this.schedule();
      return;
    }
    this.restarting = false;
    if (this.failedDuringRestart && !this.cancelled) {
      this.lastFailureAt = (this.options.now ?? Date.now)();
      this.schedule();
    }
  }
}
