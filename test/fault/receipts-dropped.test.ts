/** Reliability scenario (issue 7): receipts dropped for 6 s: duplicates are dropped, not applied (I9). Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { receiptsDropped } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: receipts dropped for 6 s: duplicates are dropped, not applied (I9)', {
  timeout: SCENARIO_TIMEOUT_MS,
}, () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await receiptsDropped(t);
    assertClean(report);
  });
});
