/** Reliability scenario (issue 7): partition 10 s (blackhole) with writes on both sides (I4, I7). Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { partition } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: partition 10 s (blackhole) with writes on both sides (I4, I7)', {
  timeout: SCENARIO_TIMEOUT_MS,
}, () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await partition(t);
    assertClean(report);
  });
});
