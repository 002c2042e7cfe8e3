import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Feed, type FeedOptions } from '../src/feed/feed.js';
import type { FeedEntry, SnapshotPage } from '../src/feed/types.js';
import { ingestBatch } from '../src/ingest/ingest.js';
import type { KvBackend } from '../src/store/kv.js';
import { LevelKv } from '../src/store/level-kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { Store } from '../src/store/store.js';
import type { Op, Transaction } from '../src/types.js';

const T0 = 1_700_000_000_000;
const DAY = 24 * 3600_000;

interface Hub {
  store: Store;
  feed: Feed;
  clock: { t: number };
  /** ingests the next seqs of edge_a, one tx per op list, at the current hub time */
  send(...opLists: Op[][]): Promise<void>;
}

async function openHub(kv: KvBackend = new MemoryKv(), options: FeedOptions = {}): Promise<Hub> {
  const clock = { t: T0 };
  const store = await Store.open({ kv, nodeId: 'hub', now: () => clock.t });
  if (!store.getTable('things')) await store.createTable({ name: 'things' });
  const feed = await Feed.open(store, options);
  let seq = 0;
  return {
    store,
    feed,
    clock,
    async send(...opLists) {
      const txs: Transaction[] = opLists.map((ops) => {
        seq++;
        return {
          table: 'data.things',
          seq,
          stamp: { wall: clock.t, counter: seq, node: 'edge_a', epoch: 'e1' },
          ops,
        };
      });
      const r = await ingestBatch(
        store,
        feed,
        { origin: 'edge_a', table: 'things', epoch: 'e1', txs },
        { hubNowMs: clock.t },
      );
      assert.equal(r.errorKind, 'none');
      assert.deepEqual(r.errors, []);
    },
  };
}

const put = (key: string, v: number): Op[] => [{ kind: 'put', key, attrs: { v } }];
const del = (key: string): Op[] => [{ kind: 'delete', key }];
const hubSeqs = (entries: readonly FeedEntry[]): number[] => entries.map((e) => e.hubSeq);

describe('feed: pages and heads', () => {
  it('serves contiguous pages with headReached on the last one', async () => {
    const hub = await openHub();
    await hub.send(...Array.from({ length: 10 }, (_, i) => put(`k${i}`, i)));
    assert.equal(hub.feed.head('things'), 10);
    const p1 = await hub.feed.readPage('things', 0, { maxEntries: 4 });
    assert.deepEqual(hubSeqs(p1.entries), [1, 2, 3, 4]);
    assert.equal(p1.headSeq, 10);
    assert.equal(p1.headReached, false);
    const p2 = await hub.feed.readPage('things', 4, { maxEntries: 4 });
    assert.deepEqual(hubSeqs(p2.entries), [5, 6, 7, 8]);
    const p3 = await hub.feed.readPage('things', 8, { maxEntries: 4 });
    assert.deepEqual(hubSeqs(p3.entries), [9, 10]);
    assert.equal(p3.headReached, true);
    const tail = await hub.feed.readPage('things', 10);
    assert.deepEqual(tail.entries, []);
    assert.equal(tail.headReached, true);
    // a byte limit smaller than one entry still yields one entry per page
    const tiny = await hub.feed.readPage('things', 0, { maxBytes: 10 });
    assert.deepEqual(hubSeqs(tiny.entries), [1]);
    const byBytes = await hub.feed.readPage('things', 0, { maxBytes: 400 });
    assert.ok(byBytes.entries.length > 1 && byBytes.entries.length < 10, `${byBytes.entries.length} entries`);
    // the entry is the transaction as applied, with origin, epoch and seq
    assert.deepEqual(p1.entries[0]?.tx, {
      table: 'data.things',
      seq: 1,
      stamp: { wall: T0, counter: 1, node: 'edge_a', epoch: 'e1' },
      ops: [{ kind: 'put', key: 'k0', attrs: { v: 0 } }],
    });
  });

  it('tells live listeners about entries once durable, and persists across a restart (LevelDB)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tm-feed-'));
    try {
      let hub = await openHub(new LevelKv(dir));
      const seen: [string, number[]][] = [];
      hub.feed.onAppend((table, entries) => seen.push([table, hubSeqs(entries)]));
      await hub.send(put('a', 1), put('b', 2));
      await hub.send(put('c', 3));
      assert.deepEqual(seen, [
        ['data.things', [1, 2]],
        ['data.things', [3]],
      ]);
      await hub.store.close();
      hub = await openHub(new LevelKv(dir));
      assert.equal(hub.feed.head('things'), 3);
      assert.deepEqual(hubSeqs((await hub.feed.readPage('things', 1)).entries), [2, 3]);
      await hub.store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('feed: retention and cursors (I13)', () => {
  it('trims by time, remembers the oldest retained seq, and sends old cursors to a snapshot', async () => {
    const hub = await openHub(new MemoryKv(), { feedRetentionMs: 7 * DAY });
    await hub.send(put('a', 1), put('b', 1)); // hub seqs 1, 2 at T0
    hub.clock.t = T0 + 3 * DAY;
    await hub.send(put('c', 1)); // 3
    hub.clock.t = T0 + 8 * DAY;
    await hub.send(put('d', 1)); // 4
    const removed = await hub.feed.trimFeed(hub.clock.t);
    assert.equal(removed, 2);
    assert.equal(hub.feed.oldest('things'), 3);
    const cursor = (hubSeq: number) => ({
      hubEpoch: hub.store.epoch,
      incarnation: hub.store.requireTable('things').incarnation,
      hubSeq,
    });
    assert.deepEqual(hub.feed.cursorStatus('things', cursor(1)), { status: 'snapshot', reason: 'retention' });
    assert.deepEqual(hub.feed.cursorStatus('things', cursor(2)), { status: 'ok' });
    assert.deepEqual(hub.feed.cursorStatus('things', cursor(4)), { status: 'ok' });
    assert.deepEqual(hub.feed.cursorStatus('things', cursor(5)), {
      status: 'snapshot',
      reason: 'beyond-head',
    });
    assert.deepEqual(hub.feed.cursorStatus('things', { ...cursor(2), hubEpoch: 'other' }), {
      status: 'snapshot',
      reason: 'hub-epoch',
    });
    assert.deepEqual(hub.feed.cursorStatus('things', { ...cursor(2), incarnation: 'old' }), {
      status: 'snapshot',
      reason: 'incarnation',
    });
    await assert.rejects(hub.feed.readPage('things', 1), { code: 'TM_NOT_FOUND' });
    assert.deepEqual(hubSeqs((await hub.feed.readPage('things', 2)).entries), [3, 4]);
    // start points
    assert.deepEqual(await hub.feed.startPoint('things', 'now'), { kind: 'feed', afterHubSeq: 4 });
    assert.deepEqual(await hub.feed.startPoint('things', 'beginning'), { kind: 'snapshot' });
    assert.deepEqual(await hub.feed.startPoint('things', { timeMs: T0 + 1 }), {
      kind: 'feed',
      afterHubSeq: 2,
    });
    assert.deepEqual(await hub.feed.startPoint('things', { timeMs: T0 + 5 * DAY }), {
      kind: 'feed',
      afterHubSeq: 3,
    });
    assert.deepEqual(await hub.feed.startPoint('things', { timeMs: T0 }), {
      kind: 'snapshot',
      minStampWall: T0,
    });
  });

  it('trims by bytes, oldest first', async () => {
    const hub = await openHub(new MemoryKv(), { feedRetentionBytes: 1000 });
    await hub.send(...Array.from({ length: 20 }, (_, i) => put(`k${i}`, i)));
    assert.ok(hub.feed.retainedBytes('things') > 1000);
    assert.deepEqual(await hub.feed.startPoint('things', 'beginning'), { kind: 'feed', afterHubSeq: 0 });
    const removed = await hub.feed.trimFeed(hub.clock.t);
    assert.ok(removed > 0 && removed < 20, `${removed} removed`);
    assert.ok(hub.feed.retainedBytes('things') <= 1000);
    assert.equal(hub.feed.oldest('things'), removed + 1);
    const page = await hub.feed.readPage('things', removed);
    assert.equal(page.entries[0]?.hubSeq, removed + 1);
    assert.equal(page.headReached, true);
  });

  it('a re-created table starts a new incarnation of the feed; hub seqs keep growing', async () => {
    const hub = await openHub();
    await hub.send(put('a', 1), put('b', 1));
    const old = hub.store.requireTable('things').incarnation;
    await hub.store.dropTable('things');
    await hub.store.createTable({ name: 'things' });
    await hub.send(put('c', 1));
    assert.equal(hub.feed.head('things'), 3);
    assert.equal(hub.feed.oldest('things'), 3);
    const status = hub.feed.cursorStatus('things', {
      hubEpoch: hub.store.epoch,
      incarnation: old,
      hubSeq: 2,
    });
    assert.deepEqual(status, { status: 'snapshot', reason: 'incarnation' });
    assert.deepEqual(await hub.feed.startPoint('things', 'beginning'), { kind: 'feed', afterHubSeq: 2 });
    assert.equal(await hub.feed.trimFeed(hub.clock.t), 2, 'entries of the old incarnation are removed');
  });
});

async function allPages(
  hub: Hub,
  opts: { maxRecords?: number; minStampWall?: number } = {},
): Promise<SnapshotPage[]> {
  const pages: SnapshotPage[] = [];
  let after: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await hub.feed.readSnapshotPage('things', after, opts);
    pages.push(page);
    if (page.last) return pages;
    after = page.resumeAfter;
  }
  throw new Error('snapshot did not end');
}

describe('feed: snapshots and tombstone GC (I5, I13)', () => {
  it('snapshot pages hold live records and tombstones with full merge state, G and a fixed hub seq', async () => {
    const hub = await openHub();
    await hub.send(put('a', 1), put('b', 2), put('c', 3), put('d', 4), put('e', 5));
    await hub.send(del('b'));
    const first = await hub.feed.readSnapshotPage('things', undefined, { maxRecords: 2 });
    assert.equal(first.asOfHubSeq, 6);
    await hub.send(put('f', 6)); // written during the snapshot
    const pages = [first];
    let after = first.resumeAfter;
    for (;;) {
      const page = await hub.feed.readSnapshotPage('things', after, { maxRecords: 2 });
      pages.push(page);
      if (page.last) break;
      after = page.resumeAfter;
    }
    assert.deepEqual(
      pages.map((p) => p.records.map((r) => r.key)),
      [
        ['a', 'b'],
        ['c', 'd'],
        ['e', 'f'],
      ],
    );
    assert.deepEqual(
      pages.map((p) => [p.asOfHubSeq, p.last]),
      [
        [6, false],
        [6, false],
        [6, true],
      ],
    );
    const b = pages[0]?.records[1]?.state;
    assert.equal(b?.w?.kind, 'delete', 'the tombstone is in the snapshot');
    assert.deepEqual(b?.attrs, {});
    assert.deepEqual(pages[0]?.records[0]?.state.attrs['v']?.stamp, {
      wall: T0,
      counter: 1,
      node: 'edge_a',
      epoch: 'e1',
    });
    assert.equal(first.gcHorizon, undefined);
    assert.equal(first.partial, false);
    // after GC, b is gone and G is in the pages
    const gc = await hub.feed.collectTombstones(T0 + 31 * DAY);
    assert.equal(gc.collected, 1);
    const again = await allPages(hub);
    assert.deepEqual(
      again.flatMap((p) => p.records.map((r) => r.key)),
      ['a', 'c', 'd', 'e', 'f'],
    );
    assert.deepEqual(again[0]?.gcHorizon, { wall: T0, counter: 6, node: 'edge_a', epoch: 'e1' });
    await assert.rejects(hub.feed.readSnapshotPage('things', 'garbage'), { code: 'TM_INVALID_ARGUMENT' });
  });

  it('a timestamp snapshot holds only records with stamps ≥ t and is partial', async () => {
    const hub = await openHub();
    await hub.send(put('a', 1), put('b', 1));
    hub.clock.t = T0 + 1000;
    await hub.send(put('c', 1), [{ kind: 'patch', key: 'a', attrs: { w: 2 } }]);
    const pages = await allPages(hub, { minStampWall: T0 + 500, maxRecords: 1 });
    assert.deepEqual(
      pages.flatMap((p) => p.records.map((r) => r.key)),
      ['a', 'c'],
    );
    assert.ok(pages.every((p) => p.partial));
  });

  it('GC waits for every recently seen subscriber to pass the tombstone, and for the retention', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tm-gc-'));
    try {
      let hub = await openHub(new LevelKv(dir));
      await hub.send(put('a', 1), put('b', 1), put('c', 1)); // 1..3
      await hub.send(del('a')); // 4
      hub.clock.t = T0 + 10 * DAY;
      await hub.send(del('b')); // 5
      const retention = { tombstoneRetentionMs: 30 * DAY };
      await hub.feed.reportCursor('edge_b', 'things', 3, T0 + 20 * DAY);
      await hub.feed.reportCursor('edge_c', 'things', 5, T0 + 20 * DAY);
      await hub.feed.reportCursor('edge_old', 'things', 0, T0 - 40 * DAY); // not seen within the retention
      // before the retention of a: nothing, though edge_c passed both
      assert.equal((await hub.feed.collectTombstones(T0 + 29 * DAY, retention)).collected, 0);
      // a is old enough, but edge_b has not passed hub seq 4
      assert.equal((await hub.feed.collectTombstones(T0 + 31 * DAY, retention)).collected, 0);
      assert.equal(hub.feed.gcHorizon('things'), undefined);
      await hub.feed.reportCursor('edge_b', 'things', 4, T0 + 31 * DAY);
      const r = await hub.feed.collectTombstones(T0 + 31 * DAY, retention);
      assert.equal(r.collected, 1, 'a only: b is younger than the retention');
      assert.equal(await hub.store.getState('things', 'a'), undefined);
      assert.equal((await hub.store.getState('things', 'b'))?.w?.kind, 'delete');
      assert.deepEqual(hub.feed.gcHorizon('things'), { wall: T0, counter: 4, node: 'edge_a', epoch: 'e1' });
      // a cursor of another hub epoch counts as nothing passed
      await hub.feed.reportCursor(
        'edge_b',
        'things',
        { hubEpoch: 'x', incarnation: 'y', hubSeq: 9 },
        T0 + 41 * DAY,
      );
      assert.equal((await hub.feed.collectTombstones(T0 + 41 * DAY, retention)).collected, 0);
      await hub.feed.reportCursor('edge_b', 'things', 5, T0 + 41 * DAY);
      await hub.store.close();
      hub = await openHub(new LevelKv(dir));
      assert.deepEqual(hub.feed.gcHorizon('things')?.counter, 4, 'G survives a restart');
      assert.equal((await hub.feed.collectTombstones(T0 + 41 * DAY, retention)).collected, 1);
      assert.deepEqual(hub.feed.gcHorizon('things'), {
        wall: T0 + 10 * DAY,
        counter: 5,
        node: 'edge_a',
        epoch: 'e1',
      });
      assert.equal((await hub.store.digest('things')).count, 1);
      await hub.store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a tombstone re-created by a later patch is not collected', async () => {
    const hub = await openHub();
    await hub.send(put('a', 1), del('a')); // 1, 2
    await hub.send([{ kind: 'patch', key: 'a', attrs: { back: true } }]); // 3
    const r = await hub.feed.collectTombstones(T0 + 31 * DAY);
    assert.equal(r.collected, 0);
    assert.deepEqual((await hub.store.get('things', 'a'))?.['back'], true);
    assert.equal(hub.feed.gcHorizon('things'), undefined);
  });
});
