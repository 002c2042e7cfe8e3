/** Reliability scenario (issue 7): equal-HLC ties on two nodes break by node id on every replica (I4). Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { findLibFaketime } from '@tablemesh/testkit';
import { equalHlcTie } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: equal-HLC ties on two nodes break by node id on every replica (I4)', {
  timeout: SCENARIO_TIMEOUT_MS,
}, () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    if (!findLibFaketime()) {
      t.skip('libfaketime is not installed (apt-get install faketime)');
      return;
    }
    const { report } = await equalHlcTie(t);
    assertClean(report);
  });
});
