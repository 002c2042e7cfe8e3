/** Reliability scenario (issue 7): one edge 1 h fast: held as TM_CLOCK_AHEAD, nothing lost or quarantined (I3, I11). Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { findLibFaketime } from '@tablemesh/testkit';
import { clockAhead } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: one edge 1 h fast: held as TM_CLOCK_AHEAD, nothing lost or quarantined (I3, I11)', {
  timeout: SCENARIO_TIMEOUT_MS,
}, () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    if (!findLibFaketime()) {
      t.skip('libfaketime is not installed (apt-get install faketime)');
      return;
    }
    const { report } = await clockAhead(t);
    assertClean(report);
  });
});
