/**
 * Done when (issue 3), second item: edge A is stopped while the hub and edge B write 10k transactions; A restarts
 * and catches up from the feed; A writes 10k while the hub is down; the hub restarts and everything arrives. The
 * hub's feed is its apply log (one entry per applied transaction, origin/epoch/seq in `entry.tx`): it must hold
 * exactly one apply per (origin, epoch, seq), seqs 1, 2, 3 … per origin epoch (I7, I8, I9).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkApplyLog, readHubFeed, useTestkit } from '@tablemesh/testkit';
import { backlog, putMany, sameDigest } from './_helpers.ts';

const N = 5_000; // per writer and table: 2 × 5k = 10k transactions in each offline phase

describe('offline edge and offline hub (10k transactions each way)', { timeout: 60_000 }, () => {
  it('catches up after an edge restart, delivers after a hub restart, applies each transaction once', async (t) => {
    const kit = useTestkit(t);
    const hub = await kit.startHub({
      tables: [{ name: 'thresholds' }, { name: 'shared' }],
      nodes: [
        { id: 'edgeA', publish: ['alerts', 'shared'], subscribe: ['thresholds', 'shared'] },
        { id: 'edgeB', publish: ['shared'], subscribe: ['thresholds', 'shared', 'alerts'] },
      ],
    });
    const a = await kit.startEdge({
      name: 'edgeA',
      hub,
      publish: ['alerts', 'shared'],
      subscribe: ['thresholds', 'shared'],
    });
    const b = await kit.startEdge({
      name: 'edgeB',
      hub,
      publish: ['shared'],
      subscribe: ['thresholds', 'shared', 'alerts'],
    });
    await a.http.put('alerts', 'hello', { from: 'A' });
    await kit.waitFor(() => b.http.get('alerts', 'hello'), { message: 'first alert on B' });

    // Phase 1: A is down; the hub writes N thresholds and B writes N shared records (one transaction each).
    await a.stop();
    await Promise.all([
      putMany(hub.http, 'thresholds', 't', N, (i) => ({ max: i })),
      putMany(b.http, 'shared', 'b', N, (i) => ({ from: 'B', i })),
    ]);
    await kit.waitFor(async () => (await backlog(b, 'shared')) === 0, {
      timeoutMs: 20_000,
      message: 'B drained',
    });

    // A restarts and catches up from the retained feed (pages, no snapshot).
    await a.start();
    for (const table of ['thresholds', 'shared']) {
      const hubDigest = await hub.http.digest(table);
      assert.equal(hubDigest.count, N);
      await kit.waitFor(async () => (await a.http.digest(table)).digest === hubDigest.digest, {
        timeoutMs: 20_000,
        message: `A to catch up on ${table}`,
      });
    }
    const caughtUp = await a.http.metrics();
    assert.ok(caughtUp.sum('tablemesh_subscriber_pages_total') >= (2 * N) / 500, 'caught up by feed pages');
    assert.equal(caughtUp.sum('tablemesh_subscriber_snapshot_pages_total'), 0, 'no snapshot was needed');

    // Phase 2: the hub is down; A writes N alerts and N shared records, acknowledged locally (I6).
    await hub.stop();
    await Promise.all([
      putMany(a.http, 'alerts', 'a', N, (i) => ({ from: 'A', i })),
      putMany(a.http, 'shared', 'a', N, (i) => ({ from: 'A', i })),
    ]);
    // /metrics refreshes outbox stats every second.
    await kit.waitFor(async () => (await backlog(a, 'alerts')) === N && (await backlog(a, 'shared')) === N, {
      message: 'the offline writes queued in the outbox',
    });

    // The hub restarts (same store, same epoch): everything arrives, and B gets A's writes.
    await hub.start();
    await kit.waitFor(async () => (await backlog(a, 'alerts')) === 0 && (await backlog(a, 'shared')) === 0, {
      timeoutMs: 30_000,
      message: "A's outbox to drain",
    });
    const alerts = await kit.waitFor(() => sameDigest('alerts', [a.http, hub.http, b.http]), {
      timeoutMs: 20_000,
      message: 'alerts equal on A, hub and B',
    });
    assert.equal(alerts.count, N + 1);
    const shared = await kit.waitFor(() => sameDigest('shared', [a.http, hub.http, b.http]), {
      timeoutMs: 20_000,
      message: 'shared equal on A, hub and B',
    });
    assert.equal(shared.count, 2 * N);

    // The apply check: the hub's feed holds one entry per applied transaction.
    await hub.stop();
    const check = async (table: string, expected: Record<string, number>, skip: string[] = []) => {
      const entries = await readHubFeed(hub.storeDir, table);
      const result = checkApplyLog(entries, skip);
      assert.deepEqual(result.duplicates, [], `${table}: applied twice`);
      assert.deepEqual(result.outOfOrder, [], `${table}: out of order`);
      assert.deepEqual(result.perOrigin, expected, `${table}: applies per origin`);
    };
    await check('alerts', { edgeA: N + 1 });
    await check('shared', { edgeA: N, edgeB: N });
    await check('thresholds', {}, ['hub']);
    const hubWrites = (await readHubFeed(hub.storeDir, 'thresholds')).filter(
      (e) => e.tx.stamp.node === 'hub',
    );
    assert.equal(hubWrites.length, N);
    assert.deepEqual(
      hubWrites.map((e) => e.tx.seq),
      hubWrites.map((e) => e.hubSeq),
      'hub-origin writes are numbered by hub seq',
    );
  });
});
