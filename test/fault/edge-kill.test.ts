/** Reliability scenario (issue 7): edge kill -9 ×5 during writes (I6, I7). Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { edgeKills } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: edge kill -9 ×5 during writes (I6, I7)', () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await edgeKills(t);
    assertClean(report);
  });
});
