/**
 * Seeded randomness for the reliability suite: every random choice of a scenario (workload, fault timing, jitter)
 * comes from one seed, printed with the scenario's figures, so `REL_SEED=…` replays a run.
 */

/** A seeded PRNG (mulberry32) with a few helpers. */
export class Random {
  private s: number;

  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** An independent generator derived from this one (for a sub-component). */
  fork(): Random {
    return new Random(Math.floor(this.next() * 2 ** 32));
  }
}

/** The run's seed: `REL_SEED` when set (a replay), else a fresh one. */
export function runSeed(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const given = env['REL_SEED'];
  if (given !== undefined && given !== '') {
    const n = Number(given);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new Error(`REL_SEED must be a non-negative integer, got ${given}`);
    return n;
  }
  return Math.floor(Math.random() * 2 ** 31);
}
