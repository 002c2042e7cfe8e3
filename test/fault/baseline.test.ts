/** Reliability scenario (issue 7): baseline: hub + 3 edges writing, no fault. Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { baseline } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: baseline: hub + 3 edges writing, no fault', () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await baseline(t);
    assertClean(report);
  });
});
