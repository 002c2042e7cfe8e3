/** Reliability scenario (issue 7): flapping links: reset / down / blackhole at random for 12 s. Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { flapping } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: flapping links: reset / down / blackhole at random for 12 s', {
  timeout: SCENARIO_TIMEOUT_MS,
}, () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await flapping(t);
    assertClean(report);
  });
});
