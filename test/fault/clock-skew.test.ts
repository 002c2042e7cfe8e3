/** Reliability scenario (issue 7): clock skew ±50 s on two edges plus a jump back at run time (I1, I3). Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { findLibFaketime } from '@tablemesh/testkit';
import { clockSkew } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: clock skew ±50 s on two edges plus a jump back at run time (I1, I3)', {
  timeout: SCENARIO_TIMEOUT_MS,
}, () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    if (!findLibFaketime()) {
      t.skip('libfaketime is not installed (apt-get install faketime)');
      return;
    }
    const { report } = await clockSkew(t);
    assertClean(report);
  });
});
