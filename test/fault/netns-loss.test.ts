/**
 * Reliability scenario (issue 7), optional network-namespace mode: real packet loss and a partition with
 * nftables between the edges and a hub in its own namespace. Skipped, with the reason printed, unless root with
 * `ip` and `nft` (CI installs nftables and runs as root).
 */
import { describe, it } from 'node:test';
import { NetnsLink } from '@tablemesh/testkit';
import { netnsLoss } from './_scenarios.ts';
import { assertClean, SCENARIO_TIMEOUT_MS } from './_suite.ts';

describe('fault: netns mode — 10 % packet loss, then a partition (nftables)', () => {
  it('every checker counter is 0', { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const why = NetnsLink.unavailable();
    if (why) {
      console.log(`netns mode skipped: ${why}`);
      t.skip(why);
      return;
    }
    const link = NetnsLink.create();
    t.after(() => link.close());
    const { report } = await netnsLoss(t, link);
    assertClean(report);
  });
});
