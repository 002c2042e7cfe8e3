/**
 * Property tests of the outbox (fast-check): the quota invariant under random writes, batches, receipts, resets
 * and expiry with every onFull policy (I14); in-flight entries never touched; skips all counted; coalescing and
 * the re-upload split are exact under the I4 join.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../src/canonical-json.js';
import { isTmError } from '../src/errors.js';
import { applyOp, emptyState, encodeState, joinStates } from '../src/merge.js';
import { type OnFull, Outbox, planCoalesce, StateSplitter } from '../src/outbox/index.js';
import { decodeItem, itemRange } from '../src/outbox/items.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { Store } from '../src/store/store.js';
import type { JsonValue, Op, PrimaryKey, RecordState, Stamp, Transaction } from '../src/types.js';

const KEYS = ['a', 'b', 'c', 1, '1'] as const;
const ATTRS = ['x', 'y', 'z'] as const;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('put' as const),
    key: fc.constantFrom<PrimaryKey>(...KEYS),
    attrs: fc.dictionary(fc.constantFrom(...ATTRS), fc.string({ maxLength: 30 }), { maxKeys: 3 }),
  }),
  fc.record({
    kind: fc.constant('patch' as const),
    key: fc.constantFrom<PrimaryKey>(...KEYS),
    attrs: fc.dictionary(fc.constantFrom(...ATTRS), fc.integer(), { minKeys: 1, maxKeys: 3 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom<PrimaryKey>(...KEYS) }),
);

/** One op per key, as a transaction holds (SPEC §4). */
const txOpsArb = fc.uniqueArray(opArb, {
  minLength: 1,
  maxLength: 3,
  selector: (op) => JSON.stringify(op.key),
});

type Command =
  | { kind: 'write'; ops: Op[] }
  | { kind: 'batch'; maxTxs: number }
  | { kind: 'receipt'; fraction: number }
  | { kind: 'reset' }
  | { kind: 'tick'; ms: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: txOpsArb.map((ops) => ({ kind: 'write' as const, ops })) },
  {
    weight: 3,
    arbitrary: fc.integer({ min: 1, max: 4 }).map((maxTxs) => ({ kind: 'batch' as const, maxTxs })),
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true }))
      .map((fraction) => ({ kind: 'receipt' as const, fraction })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1500 }).map((ms) => ({ kind: 'tick' as const, ms })) },
);

/** Queued transactions on disk by seq, as canonical JSON. */
async function itemsOnDisk(store: Store, epoch: string): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for await (const [key, value] of store.kv.iterate(itemRange('data.alerts', epoch, 0))) {
    const item = decodeItem(key, value);
    if (item.kind === 'tx') out.set(item.seq, value.toString('utf8'));
  }
  return out;
}

describe('outbox properties', () => {
  it('I14: the quota is never exceeded, meta matches disk, in-flight entries are never touched, every skip is counted', async (t) => {
    // What the runs exercised, so the test cannot pass by never filling a quota.
    const seen = { rejected: 0, 'drop-oldest': 0, coalesced: 0, ttl: 0, receipted: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<OnFull>('reject', 'drop-oldest', 'coalesce'),
        fc.integer({ min: 200, max: 2500 }),
        fc.array(commandArb, { minLength: 10, maxLength: 40, size: 'max' }),
        async (onFull, quotaBytes, commands) => {
          const clock = { t: 1_000_000 };
          const store = await Store.open({ kv: new MemoryKv(), nodeId: 'edge1', now: () => clock.t });
          await store.createTable({ name: 'alerts' });
          const outbox = await Outbox.open(store, {
            tables: [{ table: 'alerts', quotaBytes, onFull, ttlMs: 1000 }],
          });
          const sent = new Map<number, string>(); // seq → canonical JSON of the tx as sent
          let skipsReceipted = 0;
          for (const command of commands) {
            const before = await outbox.audit('alerts');
            if (command.kind === 'write') {
              const keys = command.ops.map((op) => op.key);
              const states = await Promise.all(keys.map((k) => store.getState('alerts', k)));
              try {
                await store.writeLocal([{ table: 'alerts', ops: command.ops }]);
              } catch (err) {
                assert.ok(isTmError(err, 'TM_QUOTA_FULL'), String(err));
                seen.rejected++;
                // I6: a refused request changed no record.
                const after = await Promise.all(keys.map((k) => store.getState('alerts', k)));
                assert.deepEqual(after, states);
              }
            } else if (command.kind === 'batch') {
              const stats = await outbox.stats('alerts');
              const batch = await outbox.nextBatch('alerts', { maxTxs: command.maxTxs });
              if (batch) {
                assert.equal(batch.fromSeq, stats.sentThrough + 1, 'batches are contiguous');
                // What is handed out is what the disk holds (also when it comes from the recent items in memory).
                const onDisk = await itemsOnDisk(store, batch.epoch);
                for (const txn of batch.txs) {
                  sent.set(txn.seq, canonicalJson(txn as unknown as JsonValue));
                  assert.equal(onDisk.get(txn.seq), sent.get(txn.seq), `seq ${txn.seq} as stored`);
                }
                const covered = batch.txs.length + batch.skips.reduce((n, r) => n + r.to - r.from + 1, 0);
                assert.equal(covered, batch.toSeq - batch.fromSeq + 1, 'the batch covers its seqs once');
              }
            } else if (command.kind === 'receipt') {
              const { epoch, receiptedThrough, inFlight } = await outbox.stats('alerts');
              const through = receiptedThrough + Math.floor(command.fraction * inFlight);
              seen.receipted += (await outbox.onReceipt('alerts', epoch, through)).truncated;
              for (const seq of [...sent.keys()]) if (seq <= through) sent.delete(seq);
              skipsReceipted += before.skipSeqs - (await outbox.audit('alerts')).skipSeqs;
            } else if (command.kind === 'reset') {
              outbox.resetInFlight('alerts');
              sent.clear();
            } else {
              clock.t += command.ms;
              await outbox.expire();
            }
            const stats = await outbox.stats('alerts');
            const audit = await outbox.audit('alerts');
            assert.ok(stats.backlogBytes <= quotaBytes, `${stats.backlogBytes} > ${quotaBytes}`);
            assert.deepEqual(
              [audit.bytes, audit.count, audit.tiled],
              [stats.backlogBytes, stats.backlogCount, true],
              'meta equals disk; items tile the seqs without renumbering',
            );
            assert.equal(stats.skippedTotal, skipsReceipted + audit.skipSeqs, 'every skip is counted');
            const onDisk = await itemsOnDisk(store, stats.epoch);
            for (const [seq, json] of sent) {
              if (seq > stats.sentThrough) continue;
              assert.equal(onDisk.get(seq), json, `in-flight seq ${seq} unchanged`);
            }
          }
          const { skipped } = await outbox.stats('alerts');
          seen['drop-oldest'] += skipped['drop-oldest'];
          seen.coalesced += skipped.coalesced;
          seen.ttl += skipped.ttl;
          await store.close();
        },
      ),
      { numRuns: 80 },
    );
    t.diagnostic(`exercised ${JSON.stringify(seen)}`);
    for (const [what, n] of Object.entries(seen)) assert.ok(n > 0, `no run exercised ${what}`);
  });

  it('concurrent writes and batches: nothing handed out is dropped or coalesced, no seq twice', async () => {
    for (const onFull of ['drop-oldest', 'coalesce'] as const) {
      const store = await Store.open({ kv: new MemoryKv(), nodeId: 'edge1' });
      await store.createTable({ name: 'alerts' });
      const outbox = await Outbox.open(store, { tables: [{ table: 'alerts', quotaBytes: 1500, onFull }] });
      const sent = new Map<number, string>();
      // Waves: each wave's batches run while its writes (and their drops or coalescing) are being prepared.
      for (let wave = 0; wave < 10; wave++) {
        const jobs: Promise<unknown>[] = [];
        // A batch takes the commit lock between writes (a local put reads nothing first, so each write is
        // queued at once, in call order).
        for (let i = 0; i < 20; i++) {
          if (i % 5 === 0) {
            jobs.push(
              outbox.nextBatch('alerts', { maxTxs: 2 }).then((batch) => {
                for (const txn of batch?.txs ?? []) {
                  assert.ok(!sent.has(txn.seq), `seq ${txn.seq} handed out twice`);
                  sent.set(txn.seq, canonicalJson(txn as unknown as JsonValue));
                }
              }),
            );
          }
          const ops: Op[] = [{ kind: 'put', key: `k${i % 7}`, attrs: { v: wave * 20 + i } }];
          jobs.push(
            store
              .writeLocal([{ table: 'alerts', ops }])
              .catch((e) => assert.ok(isTmError(e, 'TM_QUOTA_FULL'))),
          );
        }
        await Promise.all(jobs);
      }
      const stats = await outbox.stats('alerts');
      const audit = await outbox.audit('alerts');
      assert.deepEqual(
        [audit.bytes, audit.count, audit.tiled],
        [stats.backlogBytes, stats.backlogCount, true],
      );
      assert.ok(stats.skippedTotal > 0 && sent.size > 0, JSON.stringify([onFull, stats.skipped, sent.size]));
      const onDisk = await itemsOnDisk(store, stats.epoch);
      for (const [seq, json] of sent) assert.equal(onDisk.get(seq), json, `${onFull}: in-flight seq ${seq}`);
      await store.close();
    }
  });

  const stamp = (i: number): Stamp => ({ wall: 1000 + i, counter: 0, node: 'edge1', epoch: 'e' });

  it('coalescing never changes the joined state (I4)', () => {
    fc.assert(
      fc.property(fc.array(txOpsArb, { minLength: 1, maxLength: 8 }), txOpsArb, (queuedOps, newestOps) => {
        const queued = queuedOps.map((ops, i) => ({
          seq: i + 1,
          txn: { table: 't', stamp: stamp(i), seq: i + 1, ops },
        }));
        const newest: Transaction = { table: 't', stamp: stamp(99), seq: 99, ops: newestOps };
        const plan = planCoalesce(queued, newest);
        const fold = (txns: { txn: Transaction }[]): string[] =>
          KEYS.map((key) => {
            let state: RecordState = emptyState();
            for (const { txn } of txns) {
              for (const op of txn.ops) if (op.key === key) state = applyOp(state, op, txn.stamp);
            }
            return encodeState(state);
          });
        const kept = queued.map((q) => ({ txn: { ...q.txn, ops: plan.get(q.seq) ?? q.txn.ops } }));
        assert.deepEqual(fold([...kept, { txn: newest }]), fold([...queued, { txn: newest }]));
        for (const [seq, ops] of plan) assert.ok(ops.length < queued[seq - 1]!.txn.ops.length);
      }),
      { numRuns: 300 },
    );
  });

  it('the re-upload split by stamp rebuilds exactly the own part of a state (I4, I10)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(opArb, fc.boolean()), { minLength: 1, maxLength: 12 }), (history) => {
        const key = 'k';
        let state: RecordState = emptyState();
        let own: RecordState = emptyState();
        history.forEach(([op, mine], i) => {
          const s: Stamp = { ...stamp(i), node: mine ? 'edge1' : 'edge2' };
          state = applyOp(state, { ...op, key }, s);
          if (mine) own = applyOp(own, { ...op, key }, s);
        });
        const splitter = new StateSplitter('edge1', new Set());
        splitter.add(key, state);
        let rebuilt: RecordState = emptyState();
        const groups = splitter.result();
        for (const g of groups) for (const op of g.ops) rebuilt = applyOp(rebuilt, op, g.stamp);
        // Joined with the other node's part, the pieces give the state back byte for byte.
        const others = new StateSplitter('edge2', new Set());
        others.add(key, state);
        let full = rebuilt;
        for (const g of others.result()) for (const op of g.ops) full = applyOp(full, op, g.stamp);
        assert.equal(encodeState(full), encodeState(state));
        assert.equal(
          encodeState(joinStates(rebuilt, own)),
          encodeState(own),
          'pieces never exceed own writes',
        );
        for (let i = 1; i < groups.length; i++) assert.ok(groups[i - 1]!.stamp.wall < groups[i]!.stamp.wall);
      }),
      { numRuns: 300 },
    );
  });
});
