/**
 * Hybrid logical clock (SPEC §4, I1–I3). Time is injected (`now()`), so tests drive it and a persisted offset
 * (I3) shifts the wall source without touching the system clock.
 */
import { TmError } from './errors.js';
import type { Hlc, Stamp } from './types.js';

/** Largest logical counter: a uint32 on the wire (SPEC §4). */
export const MAX_COUNTER = 0xffffffff;

/** Largest wall value: walls stay below 2^53 so they are exact in a JS number (SPEC §4). */
export const MAX_WALL = Number.MAX_SAFE_INTEGER;

/** Orders two HLCs by wall, then counter. */
export function compareHlc(a: Hlc, b: Hlc): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1;
  if (a.counter !== b.counter) return a.counter < b.counter ? -1 : 1;
  return 0;
}

/** Orders two stamps by wall, counter, node, epoch (SPEC §4); strings compare by UTF-16 code unit. */
export function compareStamp(a: Stamp, b: Stamp): number {
  const byHlc = compareHlc(a, b);
  if (byHlc !== 0) return byHlc;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  return 0;
}

/** Returns `hlc` if its wall is an integer in [0, 2^53) and its counter a uint32; TM_INVALID_VALUE otherwise. */
export function assertHlc(hlc: unknown, what = 'HLC'): Hlc {
  const h = hlc as Partial<Hlc> | null;
  const ok =
    typeof h === 'object' &&
    h !== null &&
    typeof h.wall === 'number' &&
    Number.isSafeInteger(h.wall) &&
    h.wall >= 0 &&
    typeof h.counter === 'number' &&
    Number.isInteger(h.counter) &&
    h.counter >= 0 &&
    h.counter <= MAX_COUNTER;
  if (!ok) {
    throw new TmError(
      'TM_INVALID_VALUE',
      `invalid ${what}: wall must be an integer in [0, 2^53) and counter a uint32`,
      { hlc: h === null || typeof h !== 'object' ? String(h) : { wall: h.wall, counter: h.counter } },
    );
  }
  return { wall: h.wall as number, counter: h.counter as number };
}

/** Options of an HlcClock: the injected physical clock and the persisted wall offset of I3. */
export interface HlcClockOptions {
  /** physical time in epoch ms (Date.now in production) */
  now: () => number;
  /** added to now() to form the wall source (I3); default 0 */
  offsetMs?: number;
}

/** A node's hybrid logical clock: issues strictly increasing HLCs (I1) that pass every observed one (I2). */
export class HlcClock {
  readonly #now: () => number;
  #offsetMs = 0;
  // High-water mark: the largest HLC issued, observed or restored. {0,0} is below every real HLC.
  #last: Hlc = { wall: 0, counter: 0 };

  constructor(opts: HlcClockOptions) {
    this.#now = opts.now;
    this.setOffsetMs(opts.offsetMs ?? 0);
  }

  /** The wall offset in ms added to now() (I3). */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /** Sets the wall offset in ms (I3: persisted when the hub's time differs by more than half the skew bound). */
  setOffsetMs(ms: number): void {
    if (!Number.isFinite(ms)) {
      throw new TmError('TM_INVALID_ARGUMENT', `offsetMs must be a finite number, got ${ms}`, {
        offsetMs: ms,
      });
    }
    this.#offsetMs = ms;
  }

  /** Raises the high-water mark to a persisted one after reopening a store (I1 across restarts). */
  restore(highWater: Hlc): void {
    this.#raise(assertHlc(highWater, 'restored HLC high-water mark'));
  }

  /** Advances past a remote HLC so the next one issued is greater (I2). The hub checks I3 before calling this. */
  observe(remote: Hlc): void {
    this.#raise(assertHlc(remote, 'remote HLC'));
  }

  /** The high-water mark: the largest HLC issued or observed; written in every write batch (I1). */
  peek(): Hlc {
    return this.#last;
  }

  /** Issues a new HLC strictly greater than every HLC issued, observed or restored before (I1, I2). */
  next(): Hlc {
    const physical = Math.floor(this.#now() + this.#offsetMs);
    if (!Number.isFinite(physical)) {
      throw new TmError('TM_INVALID_ARGUMENT', 'the injected clock returned a non-finite time', { physical });
    }
    const last = this.#last;
    let next: Hlc;
    if (physical > last.wall) {
      next = { wall: physical, counter: 0 };
    } else if (last.counter < MAX_COUNTER) {
      // I1: the physical clock stood still or jumped back; the logical counter carries the order.
      next = { wall: last.wall, counter: last.counter + 1 };
    } else {
      // SPEC §4: on counter overflow the wall part moves up 1 ms.
      next = { wall: last.wall + 1, counter: 0 };
    }
    if (next.wall > MAX_WALL) {
      throw new TmError('TM_INVALID_VALUE', 'the HLC wall would reach 2^53', { wall: next.wall });
    }
    this.#last = next;
    return next;
  }

  #raise(hlc: Hlc): void {
    if (compareHlc(hlc, this.#last) > 0) this.#last = hlc;
  }
}

/** Result of the hub's far-future check (I3). */
export type ClockAheadCheck = { ok: true } | { ok: false; aheadMs: number; retryAfterMs: number };

/** Least retry-after the hub sends with TM_CLOCK_AHEAD. */
export const MIN_RETRY_AFTER_MS = 1000;

/**
 * I3: the hub refuses a transaction whose HLC wall is more than `maxSkewMs` ahead of its own wall clock.
 * `aheadMs` is how far ahead it is; `retryAfterMs` how long until it would pass (at least 1000).
 */
export function checkClockAhead(hlc: Hlc, hubWallMs: number, maxSkewMs: number): ClockAheadCheck {
  const aheadMs = hlc.wall - hubWallMs;
  if (aheadMs <= maxSkewMs) return { ok: true };
  return { ok: false, aheadMs, retryAfterMs: Math.max(MIN_RETRY_AFTER_MS, Math.ceil(aheadMs - maxSkewMs)) };
}

/**
 * I3: the wall offset an edge persists after the hub's welcome: `hub - local` when they differ by more than half
 * of `maxSkewMs`, else 0 (a small skew is left to the HLC).
 */
export function wallOffsetFor(hubTimeMs: number, localNowMs: number, maxSkewMs: number): number {
  const diff = hubTimeMs - localNowMs;
  return Math.abs(diff) > maxSkewMs / 2 ? diff : 0;
}
