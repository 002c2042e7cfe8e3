import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../src/canonical-json.js';
import { Feed } from '../src/feed/feed.js';
import { checkTx, opJsonBytes } from '../src/ingest/check-tx.js';
import { helloCheck, type IngestBatch, IngestStats, ingestBatch, readMark } from '../src/ingest/ingest.js';
import { RECENT_MARKS } from '../src/ingest/marks.js';
import type { KvBackend } from '../src/store/kv.js';
import { LevelKv } from '../src/store/level-kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { Store } from '../src/store/store.js';
import type { JsonValue, Op, Transaction } from '../src/types.js';
import { recordBytes } from '../src/validate.js';

const T0 = 1_700_000_000_000;

interface Hub {
  store: Store;
  feed: Feed;
  stats: IngestStats;
  clock: { t: number };
  groups: { started: Map<number, readonly string[]>; resolved: number[] };
  ingest(
    batch: Partial<IngestBatch> & { txs: Transaction[] },
    opts?: { hubNowMs?: number },
  ): ReturnType<typeof ingestBatch>;
  close(): Promise<void>;
}

async function openHub(
  kv: KvBackend = new MemoryKv(),
  options: { maxRecordBytes?: number } = {},
): Promise<Hub> {
  const clock = { t: T0 };
  const groups = { started: new Map<number, readonly string[]>(), resolved: [] as number[] };
  const store = await Store.open({
    kv,
    nodeId: 'hub',
    now: () => clock.t,
    ...options,
    observer: {
      batchStarted: (id, keys) => groups.started.set(id, keys),
      batchResolved: (id) => groups.resolved.push(id),
    },
  });
  if (!store.getTable('sensors')) await store.createTable({ name: 'sensors' });
  const feed = await Feed.open(store);
  const stats = new IngestStats({ keepApplyLog: true });
  return {
    store,
    feed,
    stats,
    clock,
    groups,
    ingest: (batch, opts = {}) =>
      ingestBatch(
        store,
        feed,
        { origin: 'edge_a', table: 'sensors', epoch: 'e1', ...batch },
        { hubNowMs: opts.hubNowMs ?? clock.t, maxClockSkewMs: 60_000, stats },
      ),
    close: () => store.close(),
  };
}

function txn(
  seq: number,
  o: { wall?: number; ops?: Op[]; origin?: string; epoch?: string; counter?: number } = {},
): Transaction {
  return {
    table: 'data.sensors',
    seq,
    stamp: {
      wall: o.wall ?? T0 - 10_000 + seq,
      counter: o.counter ?? 0,
      node: o.origin ?? 'edge_a',
      epoch: o.epoch ?? 'e1',
    },
    ops: o.ops ?? [{ kind: 'patch', key: `k${seq % 5}`, attrs: { v: seq } }],
  };
}

const seqsOf = (hub: Hub): number[] => (hub.stats.applyLog ?? []).map((e) => e.seq);

describe('ingest: order and idempotence (I7–I10)', () => {
  it('applies seqs in order, appends each to the feed and receipts the mark', async () => {
    const hub = await openHub();
    const r = await hub.ingest({ txs: [txn(1), txn(2), txn(3)] });
    assert.equal(r.appliedThrough, 3);
    assert.equal(r.errorKind, 'none');
    assert.deepEqual(r.errors, []);
    assert.equal(r.applied, 3);
    assert.equal(r.hubEpoch, hub.store.epoch);
    assert.deepEqual(seqsOf(hub), [1, 2, 3]);
    assert.deepEqual(
      hub.stats.applyLog?.map((e) => e.hubSeq),
      [1, 2, 3],
    );
    assert.equal(hub.feed.head('sensors'), 3);
    const page = await hub.feed.readPage('sensors', 0);
    assert.deepEqual(
      page.entries.map((e) => [e.hubSeq, e.tx.seq, e.tx.stamp.node, e.tx.stamp.epoch]),
      [
        [1, 1, 'edge_a', 'e1'],
        [2, 2, 'edge_a', 'e1'],
        [3, 3, 'edge_a', 'e1'],
      ],
    );
    assert.deepEqual((await hub.store.get('sensors', 'k1'))?.['v'], 1);
    assert.equal((await readMark(hub.store, 'edge_a', 'e1', 'sensors')).applied, 3);
    await hub.close();
  });

  it('I8 pipelined: a batch started on the previous one’s onPrepared sees its mark; one fsync, receipts in order', async () => {
    const hub = await openHub();
    const groups = hub.store.committer.batchesWritten;
    const events: string[] = [];
    const options = { hubNowMs: T0, maxClockSkewMs: 60_000, stats: hub.stats };
    const batch = (txs: Transaction[]) => ({ origin: 'edge_a', table: 'sensors', epoch: 'e1', txs });
    let second: Promise<unknown> | undefined;
    const first = ingestBatch(hub.store, hub.feed, batch([txn(1), txn(2)]), {
      ...options,
      onPrepared: () => {
        events.push('prepared 1');
        // seq 2 again (a duplicate) and 3: only in order after the first batch's mark (2), not durable yet
        second = ingestBatch(hub.store, hub.feed, batch([txn(2), txn(3)]), options).then((r) =>
          events.push(`receipt ${r.appliedThrough} dup ${r.duplicates} ${r.errorKind}`),
        );
      },
    }).then((r) => events.push(`receipt ${r.appliedThrough} dup ${r.duplicates} ${r.errorKind}`));
    await first;
    await second;
    assert.deepEqual(events, ['prepared 1', 'receipt 2 dup 0 none', 'receipt 3 dup 1 none']);
    assert.equal(hub.store.committer.batchesWritten - groups, 1, 'both batches in one fsync');
    assert.deepEqual(seqsOf(hub), [1, 2, 3]);
    await hub.close();
  });

  it('I9: duplicates are re-receipted and counted, never re-applied', async () => {
    const hub = await openHub();
    await hub.ingest({ txs: [txn(1), txn(2), txn(3)] });
    const r = await hub.ingest({ txs: [txn(2), txn(3), txn(1), txn(3)] });
    assert.equal(r.appliedThrough, 3);
    assert.equal(r.applied, 0);
    assert.equal(r.duplicates, 4);
    assert.equal(hub.stats.duplicates, 4);
    assert.deepEqual(seqsOf(hub), [1, 2, 3]);
    assert.equal(hub.feed.head('sensors'), 3);
    await hub.close();
  });

  it('I8: a gap is refused and the receipt names where to resume; items before it are applied', async () => {
    const hub = await openHub();
    await hub.ingest({ txs: [txn(1), txn(2), txn(3)] });
    const gap = await hub.ingest({ txs: [txn(5), txn(6)] });
    assert.equal(gap.errorKind, 'gap');
    assert.equal(gap.code, 'TM_GAP');
    assert.equal(gap.resumeFrom, 4);
    assert.equal(gap.appliedThrough, 3);
    assert.equal(gap.applied, 0);
    // reordered within a batch: sorted by seq, 4 applied, then the gap at 6 (5 missing)
    const partial = await hub.ingest({ txs: [txn(6), txn(4)] });
    assert.equal(partial.appliedThrough, 4);
    assert.equal(partial.resumeFrom, 5);
    assert.deepEqual(seqsOf(hub), [1, 2, 3, 4]);
    assert.equal(hub.stats.gaps, 2);
    await hub.close();
  });

  it('I10: an unknown epoch is accepted from seq 1 only; else gap with resumeFrom 1', async () => {
    const hub = await openHub();
    await hub.ingest({ txs: [txn(1), txn(2)] });
    const late = await hub.ingest({ epoch: 'e2', txs: [txn(3, { epoch: 'e2' })] });
    assert.equal(late.errorKind, 'gap');
    assert.equal(late.resumeFrom, 1);
    assert.equal(late.appliedThrough, 0);
    const fresh = await hub.ingest({ epoch: 'e2', txs: [txn(1, { epoch: 'e2', wall: T0 - 1 })] });
    assert.equal(fresh.appliedThrough, 1);
    assert.equal((await readMark(hub.store, 'edge_a', 'e1', 'sensors')).applied, 2);
    assert.equal((await readMark(hub.store, 'edge_a', 'e2', 'sensors')).applied, 1);
    assert.deepEqual(
      hub.stats.applyLog?.map((e) => `${e.epoch}:${e.seq}`),
      ['e1:1', 'e1:2', 'e2:1'],
    );
    await hub.close();
  });

  it('I9: a duplicate with another stamp is TM_EPOCH_CONFLICT, never a silent drop', async () => {
    const hub = await openHub();
    await hub.ingest({ txs: [txn(1), txn(2)] });
    const r = await hub.ingest({ txs: [txn(2, { counter: 7 }), txn(3)] });
    assert.equal(r.errorKind, 'epoch-conflict');
    assert.equal(r.conflict, 'TM_EPOCH_CONFLICT');
    assert.equal(r.appliedThrough, 2);
    assert.deepEqual(
      r.errors.map((e) => [e.seq, e.code, e.poison]),
      [[2, 'TM_EPOCH_CONFLICT', false]],
    );
    assert.deepEqual(seqsOf(hub), [1, 2], 'nothing after the conflict is applied');
    assert.equal(hub.stats.conflicts, 1);
    await hub.close();
  });

  it(`remembers the stamps of the last ${RECENT_MARKS} seqs only`, async () => {
    const hub = await openHub();
    const n = RECENT_MARKS + 6;
    await hub.ingest({ txs: Array.from({ length: n }, (_, i) => txn(i + 1)) });
    const mark = await readMark(hub.store, 'edge_a', 'e1', 'sensors');
    assert.equal(mark.recent.length, RECENT_MARKS);
    assert.equal(mark.recent[0]?.seq, n - RECENT_MARKS + 1);
    // seq 1's stamp is forgotten: a changed copy is only a duplicate; seq n's is remembered: a conflict
    assert.equal((await hub.ingest({ txs: [txn(1, { counter: 9 })] })).errorKind, 'none');
    assert.equal((await hub.ingest({ txs: [txn(n, { counter: 9 })] })).errorKind, 'epoch-conflict');
    await hub.close();
  });

  it('hello claiming receipts beyond the mark is a conflict (I9)', async () => {
    const hub = await openHub();
    await hub.ingest({ txs: [txn(1), txn(2)] });
    const conflicts = await helloCheck(hub.store, 'edge_a', [
      { table: 'sensors', epoch: 'e1', receiptedThrough: 2 },
      { table: 'sensors', epoch: 'e1', receiptedThrough: 5 },
      { table: 'sensors', epoch: 'e9', receiptedThrough: 1 },
      { table: 'sensors', epoch: 'e9', receiptedThrough: 0 },
    ]);
    assert.deepEqual(
      conflicts.map((c) => [c.epoch, c.receiptedThrough, c.mark, c.code]),
      [
        ['e1', 5, 2, 'TM_EPOCH_CONFLICT'],
        ['e9', 1, 0, 'TM_EPOCH_CONFLICT'],
      ],
    );
    await hub.close();
  });

  it('I7: the receipt resolves only after the batch holding data, feed entry and mark is durable', async () => {
    const hub = await openHub();
    const r = await hub.ingest({ txs: [txn(1)] });
    assert.equal(r.appliedThrough, 1);
    const group = [...hub.groups.started].find(([, keys]) => keys.some((k) => k.startsWith('\x20k\x00')));
    assert.ok(group, 'a batch wrote the mark');
    const keys = group[1];
    assert.ok(
      keys.some((k) => k.startsWith('\x20r\x00')),
      'record in the same batch',
    );
    assert.ok(
      keys.some((k) => k.startsWith('\x20f\x00')),
      'feed entry in the same batch',
    );
    assert.ok(hub.groups.resolved.includes(group[0]), 'that batch resolved before the receipt');
    await hub.close();
  });
});

describe('ingest: transient and poison (I3, I11)', () => {
  it('I3: a clock-ahead tx stops the batch, keeps the mark and does not advance the hub clock', async () => {
    const hub = await openHub();
    await hub.ingest({ txs: [txn(1)] });
    const before = hub.store.clock.peek();
    const r = await hub.ingest({ txs: [txn(2, { wall: T0 + 120_000 }), txn(3)] });
    assert.equal(r.errorKind, 'transient');
    assert.equal(r.code, 'TM_CLOCK_AHEAD');
    assert.equal(r.retryAfterMs, 60_000);
    assert.equal(r.appliedThrough, 1);
    assert.deepEqual(
      r.errors.map((e) => [e.seq, e.code, e.poison]),
      [[2, 'TM_CLOCK_AHEAD', false]],
    );
    assert.deepEqual(hub.store.clock.peek(), before, 'hub clock unchanged');
    assert.equal((await readMark(hub.store, 'edge_a', 'e1', 'sensors')).applied, 1);
    assert.deepEqual(seqsOf(hub), [1], 'seq 3 is not applied before 2');
    assert.equal(hub.stats.transient, 1);
    // once the hub clock caught up, the resend goes through
    hub.clock.t = T0 + 61_000;
    const again = await hub.ingest({ txs: [txn(2, { wall: T0 + 120_000 }), txn(3)] });
    assert.equal(again.appliedThrough, 3);
    assert.deepEqual(seqsOf(hub), [1, 2, 3]);
    assert.equal(hub.store.clock.peek().wall, T0 + 120_000, 'applied: the clock passed it (I2)');
    await hub.close();
  });

  it('I11: poison gets an error receipt, the mark moves past it and the next tx flows', async () => {
    const hub = await openHub(new MemoryKv(), { maxRecordBytes: 64 });
    const r = await hub.ingest({
      txs: [
        txn(1),
        txn(2, { ops: [{ kind: 'put', key: 'big', attrs: { blob: 'x'.repeat(100) } }] }),
        txn(3, { ops: [{ kind: 'upsert', key: 'u' } as unknown as Op] }),
        txn(4, { origin: 'edge_b' }),
        txn(5, {
          ops: [
            { kind: 'patch', key: 'dup', attrs: { a: 1 } },
            { kind: 'patch', key: 'dup', attrs: { b: 1 } },
          ],
        }),
        txn(6, { ops: [{ kind: 'put', key: 'ok', attrs: { v: 6 } }] }),
      ],
    });
    assert.equal(r.appliedThrough, 6);
    assert.equal(r.errorKind, 'none');
    assert.deepEqual(
      r.errors.map((e) => [e.seq, e.code, e.poison]),
      [
        [2, 'TM_RECORD_TOO_LARGE', true],
        [3, 'TM_INVALID_ARGUMENT', true],
        [4, 'TM_INVALID_ARGUMENT', true],
        [5, 'TM_INVALID_ARGUMENT', true],
      ],
    );
    assert.deepEqual(seqsOf(hub), [1, 6]);
    assert.equal(hub.stats.poison, 4);
    assert.equal(await hub.store.get('sensors', 'big'), undefined);
    assert.equal((await hub.store.get('sensors', 'ok'))?.['v'], 6);
    // the poisoned seqs are duplicates from now on
    const dup = await hub.ingest({
      txs: [txn(2, { ops: [{ kind: 'put', key: 'big', attrs: { blob: 'x'.repeat(100) } }] })],
    });
    assert.equal(dup.duplicates, 1);
    assert.deepEqual(dup.errors, []);
    await hub.close();
  });

  it('SKIP ranges consume their seqs and are counted', async () => {
    const hub = await openHub();
    const r = await hub.ingest({ txs: [txn(1), txn(5)], skips: [{ from: 2, to: 4, reason: 'ttl' }] });
    assert.equal(r.appliedThrough, 5);
    assert.equal(r.skipped, 3);
    assert.equal(r.applied, 2);
    assert.deepEqual(seqsOf(hub), [1, 5]);
    // overlapping skip: only the new seqs count; a late copy of a skipped seq is a plain duplicate
    const more = await hub.ingest({ txs: [txn(3)], skips: [{ from: 4, to: 7 }] });
    assert.equal(more.appliedThrough, 7);
    assert.equal(more.skipped, 2);
    assert.equal(more.duplicates, 1);
    const gap = await hub.ingest({ txs: [], skips: [{ from: 9, to: 10 }] });
    assert.equal(gap.resumeFrom, 8);
    assert.equal(hub.stats.skipped, 5);
    await assert.rejects(hub.ingest({ txs: [], skips: [{ from: 3, to: 2 }] }), { code: 'TM_BAD_MESSAGE' });
    await assert.rejects(hub.ingest({ txs: [], skips: [{ epoch: 'e2', from: 8, to: 8 }] }), {
      code: 'TM_BAD_MESSAGE',
    });
    assert.equal((await readMark(hub.store, 'edge_a', 'e1', 'sensors')).applied, 7);
    await hub.close();
  });

  it('I5: a write stamped ≤ G to a key the hub does not hold is TM_BELOW_GC_HORIZON poison', async () => {
    const hub = await openHub();
    const put = { kind: 'put', key: 'gone', attrs: { v: 1 } } as const;
    await hub.ingest({
      txs: [
        txn(1, { wall: T0 - 5000, ops: [put, { kind: 'put', key: 'kept', attrs: { v: 1 } }] }),
        txn(2, { wall: T0 - 4000, ops: [{ kind: 'delete', key: 'gone' }] }),
      ],
    });
    const gc = await hub.feed.collectTombstones(T0, { tombstoneRetentionMs: 1000 });
    assert.equal(gc.collected, 1);
    assert.deepEqual(hub.feed.gcHorizon('sensors'), {
      wall: T0 - 4000,
      counter: 0,
      node: 'edge_a',
      epoch: 'e1',
    });
    assert.equal(await hub.store.getState('sensors', 'gone'), undefined);
    const r = await ingestBatch(
      hub.store,
      hub.feed,
      {
        origin: 'edge_b',
        table: 'sensors',
        epoch: 'b1',
        txs: [
          txn(1, {
            origin: 'edge_b',
            epoch: 'b1',
            wall: T0 - 4500,
            ops: [{ kind: 'patch', key: 'gone', attrs: { v: 9 } }],
          }),
          txn(2, {
            origin: 'edge_b',
            epoch: 'b1',
            wall: T0 - 4500,
            ops: [{ kind: 'patch', key: 'kept', attrs: { w: 2 } }],
          }),
          txn(3, {
            origin: 'edge_b',
            epoch: 'b1',
            wall: T0 - 3000,
            ops: [{ kind: 'patch', key: 'new', attrs: { v: 3 } }],
          }),
        ],
      },
      { hubNowMs: T0, stats: hub.stats },
    );
    assert.equal(r.appliedThrough, 3);
    assert.deepEqual(
      r.errors.map((e) => [e.seq, e.code, e.poison]),
      [[1, 'TM_BELOW_GC_HORIZON', true]],
    );
    assert.equal(await hub.store.get('sensors', 'gone'), undefined, 'the deleted record does not come back');
    assert.equal((await hub.store.get('sensors', 'kept'))?.['w'], 2, 'a key the hub holds merges as usual');
    assert.equal((await hub.store.get('sensors', 'new'))?.['v'], 3, 'a write above G flows');
    await hub.close();
  });
});

describe('ingest: persistence (LevelDB)', () => {
  it('marks and feed head survive a restart; duplicates stay duplicates', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tm-ingest-'));
    try {
      let hub = await openHub(new LevelKv(dir));
      await hub.ingest({ txs: [txn(1), txn(2), txn(3)] });
      await hub.close();
      hub = await openHub(new LevelKv(dir));
      assert.equal(hub.feed.head('sensors'), 3);
      const r = await hub.ingest({ txs: [txn(3), txn(4)] });
      assert.equal(r.duplicates, 1);
      assert.equal(r.applied, 1);
      assert.deepEqual(seqsOf(hub), [4]);
      assert.equal((await hub.ingest({ txs: [txn(2, { counter: 3 })] })).errorKind, 'epoch-conflict');
      assert.equal(hub.feed.head('sensors'), 4);
      await hub.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ingest: exactly once under random delivery (property)', () => {
  it('every seq is applied once, in order, whatever batches, duplicates and reorders arrive', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 25 }),
        fc.array(fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 8 }), { maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 5 }),
        async (n, deliveries, concurrentSeqs) => {
          const hub = await openHub();
          const all = Array.from({ length: n }, (_, i) => txn(i + 1));
          const send = (seqs: number[]) =>
            hub.ingest({ txs: seqs.filter((s) => s <= n).map((s) => all[s - 1]!) });
          for (const seqs of deliveries) await send(seqs);
          // two batches racing on the commit lock
          await Promise.all([send(concurrentSeqs), send([...concurrentSeqs].reverse())]);
          // go-back-N until everything is receipted
          let through = (await send([])).appliedThrough;
          for (let round = 0; through < n && round < n + 1; round++) {
            through = (await send(all.slice(through, through + 4).map((t) => t.seq))).appliedThrough;
          }
          assert.equal(through, n);
          assert.deepEqual(
            seqsOf(hub),
            all.map((t) => t.seq),
          );
          assert.equal(hub.feed.head('sensors'), n);
          assert.equal(hub.stats.applied, n);
          // the state equals applying the transactions once, in order
          const ref = await Store.open({ kv: new MemoryKv(), nodeId: 'ref', now: () => T0 });
          await ref.createTable({ name: 'sensors' });
          for (const t of all) await ref.transact((tx) => ref.applyTransaction(tx, t));
          assert.deepEqual(await hub.store.digest('sensors'), await ref.digest('sensors'));
          await ref.close();
          await hub.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('ingest: transaction size (TM_TX_TOO_LARGE)', () => {
  it('sums to the UTF-8 bytes of the ops’ canonical JSON (the size checkTx used to compute in full)', () => {
    const keyArb = fc.oneof(
      fc.string({ maxLength: 12, unit: 'binary' }),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.maxSafeInteger(),
    );
    const attrsArb = fc.dictionary(
      fc.string({ minLength: 1, maxLength: 8 }).filter((n) => !n.startsWith('__') && n !== 'id'),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 5, noNullPrototype: true },
    );
    const opArb = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key: keyArb, attrs: attrsArb }),
      fc.record({ kind: fc.constant('patch' as const), key: keyArb, attrs: attrsArb }),
      fc.record({ kind: fc.constant('delete' as const), key: keyArb }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 6 }), (ops) => {
        const checked = ops.map((op) => ({
          ...op,
          ...(op.kind === 'delete' ? {} : { attrs: viaJson(op.attrs) as Record<string, JsonValue> }),
        }));
        let bytes = checked.length === 0 ? 2 : checked.length + 1;
        for (const op of checked)
          bytes += opJsonBytes(
            op as Op,
            op.kind === 'delete' ? 0 : recordBytes(op.attrs as unknown as Record<string, JsonValue>),
          );
        assert.equal(bytes, Buffer.byteLength(canonicalJson(checked as unknown as JsonValue), 'utf8'));
      }),
      { numRuns: 1000 },
    );
  });
});

/** A value as it arrives at the hub: JSON text and back. */
function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe('edge and hub measure a transaction alike (SPEC §7 maxTxBytes)', () => {
  it('every transaction writeLocal commits passes checkTx at a hub with the same limits, also at the limit', async () => {
    const maxTxBytes = 200;
    const edge = await Store.open({ kv: new MemoryKv(), nodeId: 'edge', maxTxBytes });
    const hub = await Store.open({ kv: new MemoryKv(), nodeId: 'hub', maxTxBytes });
    for (const s of [edge, hub]) await s.createTable({ name: 't' });
    const def = hub.requireTable('t');
    const keyArb = fc.oneof(fc.constantFrom('a', 'b', 'é'), fc.integer({ min: -5, max: 5 }));
    const attrsArb = fc.dictionary(fc.constantFrom('x', 'y', 'zz'), fc.string({ maxLength: 120 }), {
      maxKeys: 3,
    });
    const opArb = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key: keyArb, attrs: attrsArb }),
      fc.record({ kind: fc.constant('patch' as const), key: keyArb, attrs: attrsArb }),
      fc.record({ kind: fc.constant('delete' as const), key: keyArb }),
    );
    let committed = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 6 }), async (ops) => {
        let txns: Transaction[];
        try {
          txns = await edge.writeLocal([{ table: 't', ops }]);
        } catch (err) {
          assert.equal((err as { code?: string }).code, 'TM_TX_TOO_LARGE');
          refused++;
          return;
        }
        committed++;
        for (const txn of txns) {
          const check = checkTx(hub, def, 'edge', txn.stamp.epoch, viaJson(txn));
          assert.ok(check.ok, `the hub refused what the edge committed: ${JSON.stringify(check)}`);
        }
      }),
      { numRuns: 400 },
    );
    assert.ok(
      committed > 50 && refused > 50,
      `both sides of the limit were tried (${committed} / ${refused})`,
    );
    await edge.close();
    await hub.close();
  });
});
