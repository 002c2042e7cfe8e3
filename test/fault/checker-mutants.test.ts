/**
 * The checker can fail (issue 7, "Done when"): each failpoint breaks one invariant in the real binaries, and the
 * scenario that exercises it must report the matching counter. A checker that cannot fail proves nothing.
 * - receipt-before-fsync (hub): receipts leave before the batch is durable. SIGKILL keeps the page cache, so
 *   no loss would show; the receipt ordering check (hub trace) catches it.
 * - dedup-off (hub): with receipts dropped, resent duplicates are applied again → duplicatedApplies.
 * - tie-break-off (every node): equal-HLC writes resolve by arrival order → divergent replicas and mismatches.
 * - w-filter-off (every node): attributes older than W survive → records differ from the I4 oracle.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findLibFaketime } from '@tablemesh/testkit';
import { baseline, equalHlcTie, partition, receiptsDropped } from './_scenarios.ts';
import { SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: the checker catches each failpoint', () => {
  it('receipt-before-fsync: receiptOrderViolations', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await baseline(t, { hub: ['receipt-before-fsync'] }, 3_000);
    assert.ok(report.receiptOrderViolations > 0, JSON.stringify(report.examples));
  });

  it('dedup-off: duplicatedApplies', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const { report } = await receiptsDropped(t, { hub: ['dedup-off'] });
    assert.ok(report.duplicatedApplies > 0, JSON.stringify(report.examples));
  });

  it('tie-break-off: divergentReplicas and mergeMismatches', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    if (!findLibFaketime()) {
      t.skip('libfaketime is not installed (apt-get install faketime)');
      return;
    }
    const mutant = ['tie-break-off'];
    const { report } = await equalHlcTie(t, { hub: mutant, edges: mutant });
    assert.ok(report.divergentReplicas > 0, JSON.stringify(report.examples));
    assert.ok(report.mergeMismatches > 0, JSON.stringify(report.examples));
  });

  it('w-filter-off: mergeMismatches', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const mutant = ['w-filter-off'];
    const { report } = await partition(t, { hub: mutant, edges: mutant });
    assert.ok(report.mergeMismatches > 0, JSON.stringify(report.examples));
  });
});
