/**
 * Done when (issue 3), third item: the hub's store is wiped and the hub restarts with a new hub epoch (I10). Edges
 * re-upload what they publish (their own stamps, under fresh publish epochs) and re-baseline what they subscribe
 * (snapshot merge, I13). Nothing an edge held is lost.
 *
 * Lost by design (I10: restored only from a hub backup): data that only the hub held, i.e. data no edge publishes.
 * Here that is exactly: the 12 `thresholds` records written on the hub (the hub's copy; the edges keep theirs),
 * the `shared` record `hubonly` the hub wrote, and the attribute `note` the hub patched onto `shared/a5`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EdgeNode, readHubFeed, useTestkit } from '@tablemesh/testkit';
import { backlog, putMany, sameDigest, strip } from './_helpers.ts';

type Row = Record<string, unknown>;

async function rows(node: { http: EdgeNode['http'] }, table: string): Promise<Row[]> {
  return (await node.http.query(table, { sort: 'id' })).map((r) => strip(r)!);
}

describe('hub store wiped (new hub epoch)', { timeout: 60_000 }, () => {
  it('edges re-upload and re-baseline; only hub-only data is lost', async (t) => {
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

    // Before: hub-only thresholds, A's alerts, shared written by A, B and (a little) the hub.
    await putMany(hub.http, 'thresholds', 't', 12, (i) => ({ max: i }));
    await putMany(a.http, 'alerts', 'al', 40, (i) => ({ value: i }));
    await putMany(a.http, 'shared', 'a', 30, (i) => ({ from: 'A', i }));
    await putMany(b.http, 'shared', 'b', 30, (i) => ({ from: 'B', i }));
    await a.http.patch('shared', 'b3', { seenByA: true }); // A's stamp on a record B created
    await b.http.del('shared', 'a7'); // B's delete of A's record
    await hub.http.put('shared', 'hubonly', { from: 'hub' });
    await hub.http.patch('shared', 'a5', { note: 'hub' });
    const all = [hub.http, a.http, b.http];
    for (const table of ['thresholds', 'shared']) {
      await kit.waitFor(() => sameDigest(table, all), { timeoutMs: 20_000, message: `${table} converged` });
    }
    await kit.waitFor(() => sameDigest('alerts', all), { timeoutMs: 20_000, message: 'alerts converged' });
    const before = {
      a: {
        alerts: await a.http.digest('alerts'),
        shared: await a.http.digest('shared'),
        thresholds: await a.http.digest('thresholds'),
      },
      b: {
        alerts: await b.http.digest('alerts'),
        shared: await b.http.digest('shared'),
        thresholds: await b.http.digest('thresholds'),
      },
    };
    assert.equal(before.a.thresholds.count, 12);
    assert.equal(before.a.shared.count, 60); // 30 + 30 + hubonly − a7
    const edgeShared = await rows(a, 'shared');
    const snapshotsBefore = {
      a: (await a.http.metrics()).sum('tablemesh_subscriber_snapshot_pages_total'),
      b: (await b.http.metrics()).sum('tablemesh_subscriber_snapshot_pages_total'),
    };

    // Wipe the hub's store and restart it on the same port: a new hub epoch.
    const oldEpoch = hub.hubEpoch;
    await hub.stop();
    hub.wipe();
    await hub.start();
    assert.notEqual(hub.hubEpoch, oldEpoch);

    // Re-upload: the hub gets back every edge's own writes.
    const expectedShared = edgeShared
      .filter((r) => r['id'] !== 'hubonly')
      .map((r) => {
        if (r['id'] !== 'a5') return r;
        const { note: _lost, ...rest } = r;
        return rest;
      });
    await kit.waitFor(async () => (await hub.http.digest('alerts')).digest === before.a.alerts.digest, {
      timeoutMs: 20_000,
      message: 'alerts re-uploaded by A',
    });
    await kit.waitFor(
      async () => JSON.stringify(await rows(hub, 'shared')) === JSON.stringify(expectedShared),
      { timeoutMs: 20_000, message: 'shared re-uploaded by A and B' },
    );
    await kit.waitFor(
      async () =>
        (await backlog(a, 'shared')) + (await backlog(a, 'alerts')) + (await backlog(b, 'shared')) === 0,
      { timeoutMs: 20_000, message: 're-uploads receipted' },
    );

    // Re-baseline: both edges took snapshots of the new hub epoch and kept everything they held.
    await kit.waitFor(
      async () =>
        (await a.http.metrics()).sum('tablemesh_subscriber_snapshot_pages_total') > snapshotsBefore.a &&
        (await b.http.metrics()).sum('tablemesh_subscriber_snapshot_pages_total') > snapshotsBefore.b,
      { timeoutMs: 20_000, message: 'edges re-baselined by snapshot' },
    );
    for (const [edge, digests] of [
      [a, before.a],
      [b, before.b],
    ] as const) {
      for (const table of ['alerts', 'shared', 'thresholds'] as const) {
        if (edge === a && table === 'alerts') continue; // A does not subscribe alerts; it publishes them
        assert.deepEqual(await edge.http.digest(table), digests[table], `${edge.name} kept ${table}`);
      }
    }
    assert.deepEqual(await a.http.digest('alerts'), before.a.alerts);

    // Exactly the hub-only data is gone from the hub.
    assert.equal((await hub.http.digest('thresholds')).count, 0, 'hub-only thresholds are lost on the hub');
    assert.equal(await hub.http.get('shared', 'hubonly'), undefined);
    assert.equal((await hub.http.get('shared', 'a5'))?.['note'], undefined);
    assert.equal((await a.http.get('shared', 'a5'))?.['note'], 'hub', 'the edges keep what they held');
    assert.deepEqual(strip(await b.http.get('shared', 'b3')), { id: 'b3', from: 'B', i: 3, seenByA: true });
    assert.equal(await hub.http.get('shared', 'a7'), undefined, "B's delete of a7 was re-uploaded as well");

    // The link works in both directions in the new hub epoch.
    await hub.http.put('thresholds', 'fresh', { max: 1 });
    await a.http.put('alerts', 'fresh', { value: 1 });
    await kit.waitFor(
      async () =>
        (await a.http.get('thresholds', 'fresh')) &&
        (await b.http.get('thresholds', 'fresh')) &&
        (await b.http.get('alerts', 'fresh')),
      { message: 'new writes after the wipe' },
    );
    assert.equal((await a.http.digest('thresholds')).count, 13);

    // Each edge re-uploaded once: the new hub applied every stamp of A's alerts exactly once.
    await kit.waitFor(async () => (await hub.http.digest('alerts')).count === 41, { message: 'fresh alert' });
    await hub.stop();
    const feed = await readHubFeed(hub.storeDir, 'alerts');
    const stamps = feed.map((e) => `${e.tx.stamp.wall}.${e.tx.stamp.counter}.${e.tx.stamp.epoch}`);
    assert.equal(feed.length, 41, 'one apply per alert (40 re-uploaded + 1 new)');
    assert.equal(new Set(stamps).size, 41);
    assert.equal(a.grep('TM_EPOCH_CONFLICT').length, 0, 'no TM_EPOCH_CONFLICT rotation racing the welcome');
  });
});
