/**
 * Outbox lifecycle: quarantine (I11), transient hold (I11), epoch rotation with re-upload (I9, I10), and
 * reopen / crash restoring every counter (persistence in the same batch as each change).
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isTmError } from '../src/errors.js';
import { compareStamp } from '../src/hlc.js';
import { encodeState } from '../src/merge.js';
import { Outbox, type OutboxTableConfig } from '../src/outbox/index.js';
import { encodeTxn } from '../src/outbox/items.js';
import { LevelKv } from '../src/store/level-kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { Store } from '../src/store/store.js';
import type { JsonValue, Op, Transaction } from '../src/types.js';

type Backend = 'memory' | 'level';
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'tm-outbox-'));
  dirs.push(dir);
  return dir;
};

interface Env {
  store: Store;
  outbox: Outbox;
  clock: { t: number };
}

async function open(
  backend: Backend,
  tables: OutboxTableConfig[],
  opts: { dir?: string; clock?: { t: number }; create?: boolean; nodeId?: string } = {},
): Promise<Env> {
  const clock = opts.clock ?? { t: 1_000_000 };
  const kv = backend === 'level' ? new LevelKv(opts.dir ?? tempDir()) : new MemoryKv();
  const store = await Store.open({ kv, nodeId: opts.nodeId ?? 'edge1', now: () => clock.t });
  if (opts.create ?? true) for (const name of ['alerts', 'chunks']) await store.createTable({ name });
  return { store, outbox: await Outbox.open(store, { tables }), clock };
}

const put = (key: string, attrs: Record<string, JsonValue> = { v: 1 }): Op => ({ kind: 'put', key, attrs });

async function write(env: Env, table: string, ...ops: Op[]): Promise<Transaction> {
  const [txn] = await env.store.writeLocal([{ table, ops }]);
  return txn!;
}

for (const backend of ['memory', 'level'] as const) {
  describe(`outbox lifecycle on ${backend}`, () => {
    it('quarantines poison entries from a receipt; retry makes a new transaction with a new seq (I11)', async () => {
      const env = await open(backend, [{ table: 'alerts' }]);
      const t1 = await write(env, 'alerts', put('k1'));
      const t2 = await write(env, 'alerts', put('k2', { big: 'x' }));
      const t3 = await write(env, 'alerts', put('k3'));
      const { epoch } = (await env.outbox.nextBatch('alerts'))!;
      const outcome = await env.outbox.onReceipt('alerts', epoch, 3, [
        { seq: 2, code: 'TM_BELOW_GC_HORIZON', message: 'below the GC horizon', poison: true },
      ]);
      const id = `data.alerts:${epoch}:2`;
      assert.deepEqual(outcome, { ignored: false, truncated: 3, quarantined: [id], held: null });
      const [q] = await env.outbox.listQuarantine('alerts');
      assert.deepEqual(
        [q!.id, q!.seq, q!.code, q!.message, q!.txn],
        [id, 2, 'TM_BELOW_GC_HORIZON', 'below the GC horizon', t2],
      );
      let stats = await env.outbox.stats('alerts');
      assert.deepEqual([stats.quarantined, stats.backlogCount, stats.held], [1, 0, null]);
      const retried = await env.outbox.retryQuarantined(id);
      assert.equal(retried.seq, 4);
      assert.deepEqual(retried.ops, t2.ops);
      assert.ok(compareStamp(retried.stamp, t3.stamp) > 0, 'a new stamp');
      assert.deepEqual(await env.outbox.listQuarantine(), []);
      stats = await env.outbox.stats('alerts');
      assert.deepEqual([stats.quarantined, stats.backlogCount], [0, 1]);
      assert.deepEqual((await env.outbox.nextBatch('alerts'))!.txs, [retried]);
      // An error without the poison flag is classified by its code; drop forgets it.
      await env.outbox.onReceipt('alerts', epoch, 4, [{ seq: 4, code: 'TM_INVALID_VALUE', message: 'bad' }]);
      assert.equal((await env.outbox.stats('alerts')).quarantined, 1);
      await env.outbox.dropQuarantined(`data.alerts:${epoch}:4`);
      assert.equal((await env.outbox.stats('alerts')).quarantined, 0);
      await assert.rejects(env.outbox.dropQuarantined(`data.alerts:${epoch}:4`), (e) =>
        isTmError(e, 'TM_NOT_FOUND'),
      );
      assert.equal(t1.seq, 1);
      await env.store.close();
    });

    it('a refused retry leaves the entry in quarantine', async () => {
      const env = await open(backend, [{ table: 'alerts' }]);
      const t1 = await write(env, 'alerts', put('k1'));
      const { epoch } = (await env.outbox.nextBatch('alerts'))!;
      await env.outbox.onReceipt('alerts', epoch, 1, [
        { seq: 1, code: 'TM_RECORD_TOO_LARGE', message: 'big' },
      ]);
      await write(env, 'alerts', put('k2'));
      await env.outbox.publish({ table: 'alerts', quotaBytes: encodeTxn(t1).length });
      await assert.rejects(env.outbox.retryQuarantined(`data.alerts:${epoch}:1`), (e) =>
        isTmError(e, 'TM_QUOTA_FULL'),
      );
      assert.equal((await env.outbox.listQuarantine('alerts')).length, 1);
      assert.equal((await env.outbox.stats('alerts')).quarantined, 1);
      await env.store.close();
    });

    it('holds on a transient refusal, removes nothing, resends from the refused seq (I11)', async () => {
      const env = await open(backend, [{ table: 'alerts' }]);
      for (let i = 1; i <= 3; i++) await write(env, 'alerts', put(`k${i}`));
      const { epoch } = (await env.outbox.nextBatch('alerts'))!;
      const r = await env.outbox.onReceipt('alerts', epoch, 1, [
        { seq: 2, code: 'TM_CLOCK_AHEAD', message: 'clock 90 s ahead', poison: false },
      ]);
      assert.deepEqual([r.truncated, r.quarantined, r.held?.code, r.held?.seq], [1, [], 'TM_CLOCK_AHEAD', 2]);
      const stats = await env.outbox.stats('alerts');
      assert.deepEqual([stats.backlogCount, stats.quarantined, stats.held?.code], [2, 0, 'TM_CLOCK_AHEAD']);
      assert.equal(await env.outbox.nextBatch('alerts'), undefined);
      assert.equal(env.outbox.pickTable(), undefined);
      await env.outbox.clearHold('alerts');
      assert.equal(env.outbox.pickTable(), 'data.alerts');
      const again = await env.outbox.nextBatch('alerts');
      assert.deepEqual(
        again!.txs.map((t) => t.seq),
        [2, 3],
      );
      await env.outbox.onReceipt('alerts', epoch, 1, [
        { seq: 2, code: 'TM_NOT_GRANTED', message: 'no grant' },
      ]);
      assert.equal((await env.outbox.stats('alerts')).held?.code, 'TM_NOT_GRANTED');
      await env.outbox.onReceipt('alerts', epoch, 3);
      const done = await env.outbox.stats('alerts');
      assert.deepEqual([done.held, done.backlogCount, done.receiptedThrough], [null, 0, 3]);
      await env.store.close();
    });

    it('rotateEpoch re-uploads queued entries and this node’s state by stamp; the receiver converges (I9, I10)', async () => {
      const env = await open(backend, [{ table: 'alerts' }]);
      const t1 = await write(env, 'alerts', put('a', { v: 1, w: 1 }));
      const t2 = await write(env, 'alerts', { kind: 'patch', key: 'a', attrs: { w: 2 } });
      const t3 = await write(env, 'alerts', put('b', { v: 1 }));
      const t4 = await write(env, 'alerts', { kind: 'delete', key: 'b' });
      const t5 = await write(env, 'alerts', { kind: 'patch', key: 'c', attrs: { x: 1 } });
      const remote: Transaction = {
        table: 'data.alerts',
        stamp: { wall: env.clock.t + 5, counter: 0, node: 'edge2', epoch: 'e2' },
        seq: 1,
        ops: [
          { kind: 'patch', key: 'a', attrs: { r: 9 } },
          { kind: 'put', key: 'd', attrs: { v: 4 } },
        ],
      };
      await env.store.transact((tx) => env.store.applyTransaction(tx, remote));
      const old = (await env.outbox.nextBatch('alerts'))!;
      await env.outbox.onReceipt('alerts', old.epoch, 3); // t4, t5 stay queued, t4 in flight
      const { epoch, count } = await env.outbox.rotateEpoch('alerts');
      assert.notEqual(epoch, old.epoch);
      assert.equal(count, 4);
      const stats = await env.outbox.stats('alerts');
      assert.deepEqual(
        [stats.epoch, stats.nextSeq, stats.receiptedThrough, stats.inFlight],
        [epoch, 5, 0, 0],
      );
      const batch = (await env.outbox.nextBatch('alerts'))!;
      assert.deepEqual([batch.epoch, batch.fromSeq, batch.toSeq], [epoch, 1, 4]);
      // In stamp order: t1's surviving part (v; w was overwritten by t2), t2, then the queued t4 and t5 as they were.
      assert.deepEqual(batch.txs, [
        { ...t1, seq: 1, ops: [put('a', { v: 1 })] },
        { ...t2, seq: 2 },
        { ...t4, seq: 3 },
        { ...t5, seq: 4 },
      ]);
      assert.ok(!batch.txs.some((t) => t.stamp.node !== 'edge1'), 'only own stamps (I15)');
      assert.deepEqual(await env.outbox.audit('alerts'), {
        bytes: stats.backlogBytes,
        count: 4,
        skipSeqs: 0,
        tiled: true,
      });
      assert.deepEqual(await env.outbox.onReceipt('alerts', old.epoch, 5), {
        ignored: true,
        truncated: 0,
        quarantined: [],
        held: null,
      });
      // A wiped hub that receives the re-upload (and edge2's own) holds byte-identical states.
      const hub = await open('memory', [], { nodeId: 'hub' });
      await hub.store.transact(async (tx) => {
        for (const txn of [...batch.txs, remote]) await hub.store.applyTransaction(tx, txn);
      });
      for (const key of ['a', 'b', 'c', 'd']) {
        const mine = await env.store.getState('alerts', key);
        const theirs = await hub.store.getState('alerts', key);
        assert.equal(encodeState(theirs!), encodeState(mine!), `record ${key}`);
      }
      assert.equal(t3.seq, 3);
      const t6 = await write(env, 'alerts', put('e'));
      assert.deepEqual([t6.seq, t6.stamp.epoch], [5, epoch]);
      await env.store.close();
      await hub.store.close();
    });
  });
}

describe('outbox persistence on LevelKv', () => {
  const tables: OutboxTableConfig[] = [
    { table: 'alerts', onFull: 'drop-oldest', quotaBytes: 700 },
    { table: 'chunks', ttlMs: 1000, priority: 2 },
  ];

  async function busy(env: Env): Promise<void> {
    for (let i = 1; i <= 8; i++) await write(env, 'alerts', put(`k${i}`, { v: i }));
    for (let i = 1; i <= 4; i++) {
      env.clock.t += 400;
      await write(env, 'chunks', put(`c${i}`, { v: i }));
    }
    const a = (await env.outbox.nextBatch('alerts', { maxTxs: 2 }))!;
    await env.outbox.onReceipt('alerts', a.epoch, a.toSeq, [
      { seq: a.toSeq, code: 'TM_INVALID_VALUE', message: 'x' },
    ]);
    const c = (await env.outbox.nextBatch('chunks', { maxTxs: 1 }))!;
    await env.outbox.onReceipt('chunks', c.epoch, c.fromSeq, [
      { seq: c.fromSeq + 1, code: 'TM_SCHEMA_MISMATCH', message: 'schema' },
    ]);
    env.clock.t += 1000;
    assert.equal(await env.outbox.expire(), 2);
  }

  async function snapshot(env: Env) {
    const out: unknown[] = [];
    for (const t of env.outbox.publishedTables()) {
      env.outbox.resetInFlight(t);
      out.push(
        await env.outbox.stats(t),
        await env.outbox.audit(t),
        await env.outbox.nextBatch(t, { mark: false }),
      );
    }
    out.push(await env.outbox.listQuarantine());
    return out;
  }

  it('close and reopen restores stats, queue and quarantine exactly', async () => {
    const dir = tempDir();
    const env = await open('level', tables, { dir });
    await busy(env);
    const before = await snapshot(env);
    const s = before[0] as { skipped: Record<string, number>; quarantined: number };
    assert.ok(s.skipped['drop-oldest']! > 0 && s.quarantined === 1, JSON.stringify(s));
    assert.ok((before[3] as { held: unknown }).held !== null);
    await env.store.close();
    const again = await open('level', tables, { dir, clock: env.clock, create: false });
    assert.deepEqual(await snapshot(again), before);
    await again.store.close();
  });

  it('a crash (copy of the open database) restores the same counters', async () => {
    const dir = tempDir();
    const env = await open('level', tables, { dir });
    await busy(env);
    const before = await snapshot(env);
    const copy = tempDir();
    cpSync(dir, copy, { recursive: true }); // the store is still open: as after kill -9 (batches are fsync'd)
    const crashed = await open('level', tables, { dir: copy, clock: env.clock, create: false });
    assert.deepEqual(await snapshot(crashed), before);
    await crashed.store.close();
    await env.store.close();
  });
});
