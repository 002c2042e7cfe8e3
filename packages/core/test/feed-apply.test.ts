import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  applyFeedEntries,
  applySnapshotPage,
  finishSnapshot,
  readFeedCursor,
  type SnapshotProgress,
} from '../src/feed/apply.js';
import { Feed } from '../src/feed/feed.js';
import type { FeedCursor, FeedEntry } from '../src/feed/types.js';
import { ingestBatch } from '../src/ingest/ingest.js';
import type { KvBackend } from '../src/store/kv.js';
import { LevelKv } from '../src/store/level-kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { Store } from '../src/store/store.js';
import type { Op, PrimaryKey, RecordState, Stamp, Transaction } from '../src/types.js';

const T0 = 1_700_000_000_000;
const DAY = 24 * 3600_000;

async function openStore(nodeId: string, kv: KvBackend = new MemoryKv()): Promise<Store> {
  const store = await Store.open({ kv, nodeId, now: () => T0 });
  if (!store.getTable('things')) await store.createTable({ name: 'things', incarnation: 'inc1' });
  return store;
}

const stamp = (wall: number, node = 'edge_a', epoch = 'e1', counter = 0): Stamp => ({
  wall,
  counter,
  node,
  epoch,
});

function entry(hubSeq: number, ops: Op[], s: Stamp = stamp(T0 + hubSeq)): FeedEntry {
  return { hubSeq, wall: T0, tx: { table: 'data.things', seq: hubSeq, stamp: s, ops } };
}

const cursor0: FeedCursor = { hubEpoch: 'hub1', incarnation: 'inc1', hubSeq: 0 };
const put = (key: PrimaryKey, v: number): Op[] => [{ kind: 'put', key, attrs: { v } }];

describe('edge: applying feed entries (I12)', () => {
  it('onPrepared: the next batch starts before the first is durable, both share its fsync, none is applied twice', async () => {
    const edge = await openStore('edge_b');
    const groups = edge.committer.batchesWritten;
    const seen: string[] = [];
    let second: Promise<unknown> | undefined;
    const first = applyFeedEntries(
      edge,
      'things',
      [entry(1, put('a', 1)), entry(2, put('b', 2))],
      cursor0,
      'edge_b',
      [],
      (r) => {
        seen.push(`prepared ${r.cursor.hubSeq}`);
        // The caller's cursor is stale (0): the prepared one (2) is read through the commit overlay.
        second = applyFeedEntries(
          edge,
          'things',
          [entry(2, put('b', 2)), entry(3, put('c', 3))],
          cursor0,
          'edge_b',
          [],
          (r2) => seen.push(`prepared ${r2.cursor.hubSeq}`),
        ).then((r2) => seen.push(`durable ${r2.cursor.hubSeq} applied ${r2.ok && r2.applied}`));
      },
    ).then((r) => seen.push(`durable ${r.cursor.hubSeq}`));
    await first;
    await second;
    assert.deepEqual(seen, ['prepared 2', 'prepared 3', 'durable 2', 'durable 3 applied 1']);
    assert.equal(edge.committer.batchesWritten - groups, 1, 'one group for both batches');
    assert.deepEqual(await readFeedCursor(edge, 'things'), { ...cursor0, hubSeq: 3 });
    await edge.close();
  });

  it('applies contiguous entries, persists the cursor with the data, refuses non-contiguous ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tm-apply-'));
    try {
      let edge = await openStore('edge_b', new LevelKv(dir));
      const r1 = await applyFeedEntries(
        edge,
        'things',
        [entry(1, put('a', 1)), entry(2, put('b', 2))],
        cursor0,
        'edge_b',
        ['b1'],
      );
      assert.deepEqual(r1, { ok: true, cursor: { ...cursor0, hubSeq: 2 }, applied: 2, echoes: 0 });
      const gap = await applyFeedEntries(
        edge,
        'things',
        [entry(4, put('d', 4))],
        r1.ok ? r1.cursor : cursor0,
        'edge_b',
        [],
      );
      assert.deepEqual(gap, {
        ok: false,
        reason: 'not-contiguous',
        expected: 3,
        cursor: { ...cursor0, hubSeq: 2 },
      });
      assert.equal(await edge.get('things', 'd'), undefined);
      const holey = await applyFeedEntries(
        edge,
        'things',
        [entry(3, put('c', 3)), entry(5, put('e', 5))],
        { ...cursor0, hubSeq: 2 },
        'edge_b',
        [],
      );
      assert.equal(holey.ok, false, 'a hole inside the entries refuses them all');
      assert.equal(await edge.get('things', 'c'), undefined);
      // entries at or below the cursor are dropped; a stale caller cursor cannot re-apply
      const overlap = await applyFeedEntries(
        edge,
        'things',
        [entry(1, put('a', 99)), entry(2, put('b', 2)), entry(3, put('c', 3))],
        cursor0,
        'edge_b',
        [],
      );
      assert.deepEqual(overlap, { ok: true, cursor: { ...cursor0, hubSeq: 3 }, applied: 1, echoes: 0 });
      assert.equal((await edge.get('things', 'a'))?.['v'], 1);
      await edge.close();
      edge = await openStore('edge_b', new LevelKv(dir));
      assert.deepEqual(await readFeedCursor(edge, 'things'), { ...cursor0, hubSeq: 3 });
      assert.equal((await edge.get('things', 'c'))?.['v'], 3);
      // applying advances the local HLC past the entries (I2)
      assert.ok(edge.clock.peek().wall >= T0 + 3);
      await edge.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips echoes of its own node and current epochs, but the cursor passes them', async () => {
    const edge = await openStore('edge_b');
    const entries = [
      entry(1, put('own', 1), stamp(T0 + 1, 'edge_b', 'b2')),
      entry(2, put('old_epoch', 2), stamp(T0 + 2, 'edge_b', 'b0')),
      entry(3, put('other', 3), stamp(T0 + 3, 'edge_a', 'b2')),
    ];
    const r = await applyFeedEntries(edge, 'things', entries, cursor0, 'edge_b', ['b1', 'b2']);
    assert.deepEqual(r, { ok: true, cursor: { ...cursor0, hubSeq: 3 }, applied: 2, echoes: 1 });
    assert.equal(await edge.get('things', 'own'), undefined, 'the echo is not re-applied');
    assert.equal((await edge.get('things', 'old_epoch'))?.['v'], 2);
    assert.equal((await edge.get('things', 'other'))?.['v'], 3);
    await edge.close();
  });

  it('hub → edge end to end: a second edge converges to the hub through feed pages', async () => {
    const hub = await openStore('hub');
    const feed = await Feed.open(hub);
    const txs: Transaction[] = Array.from({ length: 12 }, (_, i) => ({
      table: 'data.things',
      seq: i + 1,
      stamp: stamp(T0 - 1000 + i),
      ops: i % 4 === 3 ? [{ kind: 'delete', key: `k${i - 1}` }] : put(`k${i}`, i),
    }));
    await ingestBatch(hub, feed, { origin: 'edge_a', table: 'things', epoch: 'e1', txs }, { hubNowMs: T0 });
    const edge = await openStore('edge_b');
    let cursor: FeedCursor = { hubEpoch: hub.epoch, incarnation: 'inc1', hubSeq: 0 };
    let pages = 0;
    for (;;) {
      const page = await feed.readPage('things', cursor.hubSeq, { maxEntries: 5 });
      const r = await applyFeedEntries(edge, 'things', page.entries, cursor, 'edge_b', ['b1']);
      assert.ok(r.ok);
      cursor = r.cursor;
      pages++;
      if (page.headReached) break;
    }
    assert.equal(pages, 3);
    assert.equal(cursor.hubSeq, 12);
    assert.deepEqual(await edge.digest('things'), await hub.digest('things'));
    assert.equal((await edge.digest('things')).count, 6); // 9 puts, 3 of them deleted
    await edge.close();
    await hub.close();
  });
});

/** Merge state of a record written by `node` at `wall` (a put of {v}). */
const live = (v: number, wall: number, node = 'edge_a'): RecordState => ({
  w: { stamp: stamp(wall, node), kind: 'put' },
  attrs: { v: { value: v, stamp: stamp(wall, node) } },
});

describe('edge: snapshots (I13)', () => {
  it('merges by the join and never replaces: a newer local attribute survives', async () => {
    const edge = await openStore('edge_b');
    await edge.transact((tx) =>
      edge.applyTransaction(tx, {
        table: 'data.things',
        seq: 0,
        stamp: stamp(T0 + 50, 'edge_b', 'b1'),
        ops: [{ kind: 'patch', key: 'a', attrs: { local: true } }],
      }),
    );
    const progress = await applySnapshotPage(
      edge,
      'things',
      { records: [{ key: 'a', state: live(1, T0) }], gcHorizon: undefined, asOfHubSeq: 7, last: true },
      undefined,
    );
    assert.deepEqual(
      { ...(await edge.get('things', 'a')), __createdtime__: 0, __updatedtime__: 0 },
      { id: 'a', v: 1, local: true, __createdtime__: 0, __updatedtime__: 0 },
    );
    const done = await finishSnapshot(
      edge,
      progress,
      { hubEpoch: 'hub1', incarnation: 'inc1' },
      async () => false,
    );
    assert.deepEqual(done.cursor, { hubEpoch: 'hub1', incarnation: 'inc1', hubSeq: 7 });
    assert.deepEqual(await readFeedCursor(edge, 'things'), done.cursor);
    assert.deepEqual(done.removed, []);
    await edge.close();
  });

  it('finish removes exactly the local records absent from the snapshot, ≤ G and without pending outbox', async () => {
    const edge = await openStore('edge_b');
    const G = stamp(T0, 'edge_a');
    const local: [PrimaryKey, RecordState][] = [
      ['a_present', live(1, T0 - 10)],
      ['b_stale', live(1, T0 - 10)], // absent, ≤ G, nothing pending → removed
      ['c_newer', live(1, T0 + 10)], // absent, > G → kept
      ['d_pending', live(1, T0 - 10, 'edge_b')], // absent, ≤ G, unreceipted outbox entry → kept
      ['e_present', live(1, T0 - 10)],
      ['f_stale', live(1, T0 - 20)], // absent, ≤ G → removed (after the last page's records)
      [7, live(1, T0 - 20)], // numeric key, absent, ≤ G → removed
      ['g_tomb', { w: { stamp: stamp(T0 - 30), kind: 'delete' }, attrs: {} }], // local tombstone ≤ G → removed
    ];
    await edge.transact(async (tx) => {
      const def = edge.requireTable('things');
      for (const [key, state] of local) await edge.mergeState(tx, def, key, state, 'x');
    });
    const pages = [
      {
        records: [{ key: 'a_present', state: live(2, T0 - 5) }],
        gcHorizon: undefined,
        asOfHubSeq: 40,
        last: false,
      },
      { records: [{ key: 'e_present', state: live(2, T0 - 5) }], gcHorizon: G, asOfHubSeq: 41, last: true },
    ];
    let progress: SnapshotProgress | undefined;
    for (const page of pages) progress = await applySnapshotPage(edge, 'things', page, progress);
    assert.ok(progress?.done);
    assert.equal(progress.asOfHubSeq, 40, "the first page's position holds");
    assert.deepEqual(progress.gcHorizon, G, 'the largest G of any page');
    const asked: PrimaryKey[] = [];
    const done = await finishSnapshot(
      edge,
      progress,
      { hubEpoch: 'hub1', incarnation: 'inc1' },
      async (table, key) => {
        assert.equal(table, 'data.things');
        asked.push(key);
        return key === 'd_pending';
      },
    );
    assert.deepEqual([...done.removed].sort(), [7, 'b_stale', 'f_stale', 'g_tomb'].sort());
    assert.deepEqual([...done.kept].sort(), ['c_newer', 'd_pending']);
    assert.ok(!asked.includes('c_newer'), 'records above G need no outbox lookup');
    const keys: PrimaryKey[] = [];
    for await (const [key] of edge.scanStates('things')) keys.push(key);
    assert.deepEqual(keys, ['a_present', 'c_newer', 'd_pending', 'e_present']);
    assert.equal((await edge.get('things', 'a_present'))?.['v'], 2);
    assert.deepEqual(done.cursor.hubSeq, 40);
    await edge.close();
  });

  it('without G nothing is pruned; a partial (timestamp) snapshot never prunes', async () => {
    const edge = await openStore('edge_b');
    await edge.transact((tx) => edge.mergeState(tx, edge.requireTable('things'), 'x', live(1, T0 - 10), 'x'));
    let p = await applySnapshotPage(
      edge,
      'things',
      { records: [], gcHorizon: undefined, asOfHubSeq: 1, last: true },
      undefined,
    );
    assert.deepEqual((await finishSnapshot(edge, p, cursor0, async () => false)).removed, []);
    p = await applySnapshotPage(
      edge,
      'things',
      { records: [], gcHorizon: stamp(T0), asOfHubSeq: 1, last: true, partial: true },
      undefined,
    );
    assert.deepEqual((await finishSnapshot(edge, p, cursor0, async () => false)).removed, []);
    assert.ok(await edge.get('things', 'x'));
    await assert.rejects(
      applySnapshotPage(edge, 'things', { records: [], gcHorizon: undefined, asOfHubSeq: 1, last: true }, p),
      {
        code: 'TM_INVALID_ARGUMENT',
      },
    );
    await edge.close();
  });

  it('hub snapshot → edge: after GC and re-baseline the edge equals the hub, tombstones included', async () => {
    const hub = await openStore('hub');
    const feed = await Feed.open(hub);
    const edge = await openStore('edge_b');
    const txs: Transaction[] = [
      {
        table: 'data.things',
        seq: 1,
        stamp: stamp(T0 - 100),
        ops: [...put('a', 1), ...put('b', 1), ...put('c', 1)],
      },
    ];
    await ingestBatch(hub, feed, { origin: 'edge_a', table: 'things', epoch: 'e1', txs }, { hubNowMs: T0 });
    // the edge got the puts through the feed, then lost touch
    const p = await feed.readPage('things', 0);
    await applyFeedEntries(
      edge,
      'things',
      p.entries,
      { hubEpoch: hub.epoch, incarnation: 'inc1', hubSeq: 0 },
      'edge_b',
      [],
    );
    const dels: Transaction[] = [
      { table: 'data.things', seq: 2, stamp: stamp(T0 - 50), ops: [{ kind: 'delete', key: 'a' }] },
      { table: 'data.things', seq: 3, stamp: stamp(T0 - 40), ops: [{ kind: 'delete', key: 'b' }] },
    ];
    await ingestBatch(
      hub,
      feed,
      { origin: 'edge_a', table: 'things', epoch: 'e1', txs: dels },
      { hubNowMs: T0 },
    );
    const gc = await feed.collectTombstones(T0 + 31 * DAY, { tombstoneRetentionMs: 30 * DAY });
    assert.equal(gc.collected, 2);
    let progress: SnapshotProgress | undefined;
    let after: string | undefined;
    do {
      const page = await feed.readSnapshotPage('things', after, { maxRecords: 1 });
      progress = await applySnapshotPage(edge, 'things', page, progress);
      after = page.resumeAfter;
    } while (!progress.done);
    const done = await finishSnapshot(
      edge,
      progress,
      { hubEpoch: hub.epoch, incarnation: 'inc1' },
      async () => false,
    );
    assert.deepEqual([...done.removed].sort(), ['a', 'b']);
    assert.deepEqual(await edge.digest('things'), await hub.digest('things'));
    assert.equal(done.cursor.hubSeq, 3);
    await edge.close();
    await hub.close();
  });
});

/** A MemoryKv that counts point reads and getMany calls. */
class CountingKv extends MemoryKv {
  gets = 0;
  manyCalls = 0;
  manyKeys = 0;
  override async get(key: string): Promise<Buffer | undefined> {
    this.gets++;
    return super.get(key);
  }
  override async getMany(keys: readonly string[]): Promise<(Buffer | undefined)[]> {
    this.manyCalls++;
    this.manyKeys += keys.length;
    return super.getMany(keys);
  }
}

describe('edge: feed entries and snapshot pages read their records in one getMany', () => {
  it('a feed batch of 50 records: one getMany of 51 keys (records + cursor), no point reads', async () => {
    const kv = new CountingKv();
    const edge = await openStore('edge_b', kv);
    await applyFeedEntries(edge, 'things', [entry(1, put('pre', 0))], cursor0, 'edge_b', ['b1']);
    const entries = Array.from({ length: 50 }, (_, i) => entry(i + 2, put(`k${i}`, i)));
    kv.gets = 0;
    kv.manyCalls = 0;
    kv.manyKeys = 0;
    const r = await applyFeedEntries(edge, 'things', entries, { ...cursor0, hubSeq: 1 }, 'edge_b', ['b1']);
    assert.equal(r.ok && r.applied, 50);
    assert.deepEqual([kv.manyCalls, kv.manyKeys, kv.gets], [1, 51, 0]);
    assert.deepEqual((await edge.get('things', 'k49'))?.['v'], 49);
  });

  it('a snapshot page of 30 records: one getMany of 30 keys, no point reads', async () => {
    const kv = new CountingKv();
    const edge = await openStore('edge_b', kv);
    const records = Array.from({ length: 30 }, (_, i) => ({
      key: `s${String(i).padStart(2, '0')}`,
      state: {
        attrs: { v: { value: i, stamp: stamp(T0 + 1, 'hub') } },
        w: { kind: 'put', stamp: stamp(T0 + 1, 'hub') },
      },
    })) as { key: PrimaryKey; state: RecordState }[];
    kv.gets = 0;
    await applySnapshotPage(
      edge,
      'things',
      { records, gcHorizon: undefined, asOfHubSeq: 3, last: true },
      undefined,
    );
    assert.deepEqual([kv.manyCalls, kv.manyKeys, kv.gets], [1, 30, 0]);
    assert.deepEqual((await edge.get('things', 's29'))?.['v'], 29);
  });

  it('a local write that lands between the prefetch and the lock is merged, not lost', async () => {
    const edge = await openStore('edge_b');
    // Both start in the same turn: the feed apply prefetches 'x' before the local write commits it.
    const [local, fed] = await Promise.all([
      edge.writeLocal([{ table: 'things', ops: [{ kind: 'patch', key: 'x', attrs: { mine: 1 } }] }]),
      applyFeedEntries(
        edge,
        'things',
        [entry(1, [{ kind: 'patch', key: 'x', attrs: { theirs: 2 } }], stamp(T0 - 10))],
        cursor0,
        'edge_b',
        ['b1'],
      ),
    ]);
    assert.ok(local);
    assert.equal(fed.ok && fed.applied, 1);
    const x = await edge.get('things', 'x');
    assert.deepEqual([x?.['mine'], x?.['theirs']], [1, 2]);
  });
});
