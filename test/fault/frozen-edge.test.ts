/** Reliability scenario (issue 7): frozen edge (SIGSTOP 8 s) while the others keep replicating. Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { frozenEdge } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: frozen edge (SIGSTOP 8 s) while the others keep replicating', {
  timeout: SCENARIO_TIMEOUT_MS,
}, () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await frozenEdge(t);
    assertClean(report);
  });
});
