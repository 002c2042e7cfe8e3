/** Reliability scenario (issue 7): outbox quota, onFull reject, under a 12 s partition (I6, I14). Every checker counter must be 0. */
import { describe, it } from 'node:test';
import { quotaReject } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: outbox quota, onFull reject, under a 12 s partition (I6, I14)', {
  timeout: SCENARIO_TIMEOUT_MS,
}, () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await quotaReject(t);
    assertClean(report);
  });
});
