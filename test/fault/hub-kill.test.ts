/** Reliability scenario (issue 7): hub kill -9 ×5 during ingest (I7, I8, I9). Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { hubKills } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: hub kill -9 ×5 during ingest (I7, I8, I9)', () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await hubKills(t);
    assertClean(report);
  });
});
