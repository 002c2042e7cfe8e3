/**
 * Shared by the long soaks (`npm run test:chaos`, not part of CI; not a test file). Each soak runs once per seed:
 *   TM_CHAOS_MINUTES  minutes per soak file, split over its seeds (default 5)
 *   TM_CHAOS_SEEDS    seeds per soak (default 2); REL_SEED=… fixes the first (replay), the others follow it
 * Every run prints the scenario's JSON line and must end with every checker counter at 0.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  type AfterHook,
  describeFailures,
  type Random,
  runSeed,
  type ScenarioResult,
  sleep,
} from '@tablemesh/testkit';

const minutes = Number(process.env['TM_CHAOS_MINUTES'] ?? 5);
const seeds = Number(process.env['TM_CHAOS_SEEDS'] ?? 2);
const first = runSeed();

/** Milliseconds each run of a soak lasts (its fault phase). */
export const RUN_MS = Math.max(30_000, Math.round((minutes * 60_000) / Math.max(1, seeds)));

/** One `it` per seed; `body` gets the seed and the run's duration and returns the scenario's result. */
export function soak(
  title: string,
  body: (
    t: AfterHook & { skip(why: string): void },
    seed: number,
    runMs: number,
  ) => Promise<ScenarioResult | undefined>,
): void {
  for (let i = 0; i < Math.max(1, seeds); i++) {
    const seed = first + i;
    it(`${title} (REL_SEED=${seed})`, { timeout: RUN_MS + 180_000 }, async (t) => {
      const result = await body(t, seed, RUN_MS);
      if (!result) return; // skipped
      const failures = describeFailures(result.report);
      assert.equal(failures, '', `checker found problems (REL_SEED=${seed}):\n  ${failures}`);
    });
  }
}

/** Runs `step` again and again until `ms` elapsed, with `pauseMs()` between steps. */
export async function repeatFor(
  ms: number,
  pauseMs: () => number,
  step: () => Promise<void>,
): Promise<number> {
  const until = Date.now() + ms;
  let n = 0;
  while (Date.now() < until) {
    await sleep(pauseMs());
    if (Date.now() >= until) break;
    await step();
    n++;
  }
  return n;
}

/** A random duration in [lo, hi] ms. */
export const between = (r: Random, lo: number, hi: number) => () => r.int(lo, hi);
