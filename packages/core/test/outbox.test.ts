/**
 * Outbox behaviour (SPEC §5 "Edge → hub", "Store-and-forward limits"; I6, I7, I8, I11, I14), run on MemoryKv and
 * on LevelKv in a temp dir.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isTmError } from '../src/errors.js';
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

interface Env {
  store: Store;
  outbox: Outbox;
  clock: { t: number };
  dir: string;
  reopen(tables?: OutboxTableConfig[]): Promise<Env>;
}

async function open(
  backend: Backend,
  tables: OutboxTableConfig[],
  opts: { dir?: string; clock?: { t: number }; create?: boolean } = {},
): Promise<Env> {
  const dir = opts.dir ?? (backend === 'level' ? mkdtempSync(join(tmpdir(), 'tm-outbox-')) : '');
  if (backend === 'level' && !opts.dir) dirs.push(dir);
  const clock = opts.clock ?? { t: 1_000_000 };
  const kv = backend === 'level' ? new LevelKv(dir) : new MemoryKv();
  const store = await Store.open({ kv, nodeId: 'edge1', now: () => clock.t, sync: backend === 'level' });
  if (opts.create ?? true) {
    for (const name of ['alerts', 'chunks', 'local']) await store.createTable({ name });
  }
  const outbox = await Outbox.open(store, { tables });
  const env: Env = {
    store,
    outbox,
    clock,
    dir,
    async reopen(next = tables) {
      await store.close();
      assert.equal(backend, 'level', 'only LevelKv survives a reopen');
      return open(backend, next, { dir, clock, create: false });
    },
  };
  return env;
}

const put = (key: string, attrs: Record<string, JsonValue> = { v: 1 }): Op => ({ kind: 'put', key, attrs });
const patch = (key: string, attrs: Record<string, JsonValue>): Op => ({ kind: 'patch', key, attrs });

async function write(env: Env, table: string, ...ops: Op[]): Promise<Transaction> {
  const [txn] = await env.store.writeLocal([{ table, ops }]);
  return txn!;
}

const size = (txn: Transaction): number => encodeTxn(txn).length;

async function rejects(p: Promise<unknown>, code: string, text?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTmError(err), String(err));
    assert.equal(err.code, code);
    if (text) assert.match(err.message, text);
    return true;
  });
}

for (const backend of ['memory', 'level'] as const) {
  describe(`outbox on ${backend}`, () => {
    it('numbers transactions 1, 2, 3 in commit order per table and epoch; unpublished tables get none', async () => {
      const env = await open(backend, [{ table: 'alerts' }, { table: 'chunks' }]);
      const epoch = env.outbox.next('data.alerts')!.epoch;
      const t1 = await write(env, 'alerts', put('a'));
      const t2 = await write(env, 'alerts', put('b'));
      const c1 = await write(env, 'chunks', put('x'));
      const [t3, c2] = await env.store.writeLocal([
        { table: 'alerts', ops: [put('c')] },
        { table: 'chunks', ops: [put('y')] },
      ]);
      const local = await write(env, 'local', put('z'));
      assert.deepEqual([t1.seq, t2.seq, t3!.seq, c1.seq, c2!.seq, local.seq], [1, 2, 3, 1, 2, 0]);
      assert.equal(t1.stamp.epoch, epoch);
      assert.notEqual(c1.stamp.epoch, epoch, 'each table has its own publish epoch');
      const batch = await env.outbox.nextBatch('alerts');
      assert.deepEqual(
        batch!.txs.map((t) => [t.seq, t.ops[0]!.key]),
        [
          [1, 'a'],
          [2, 'b'],
          [3, 'c'],
        ],
      );
      assert.deepEqual([batch!.epoch, batch!.fromSeq, batch!.toSeq, batch!.skips.length], [epoch, 1, 3, 0]);
      assert.equal(batch!.bytes, size(t1) + size(t2) + size(t3!));
      const stats = await env.outbox.stats('alerts');
      assert.deepEqual([stats.backlogCount, stats.backlogBytes, stats.inFlight], [3, batch!.bytes, 3]);
      await env.store.close();
    });

    it('batches by maxTxs and maxBytes, and go-back-N restarts from the resume point (I8)', async () => {
      const env = await open(backend, [{ table: 'alerts' }]);
      const txns: Transaction[] = [];
      for (let i = 1; i <= 5; i++) txns.push(await write(env, 'alerts', put(`k${i}`)));
      const b1 = await env.outbox.nextBatch('alerts', { maxTxs: 2 });
      assert.deepEqual([b1!.fromSeq, b1!.toSeq], [1, 2]);
      const b2 = await env.outbox.nextBatch('alerts', { maxBytes: size(txns[2]!) + 1 });
      assert.deepEqual([b2!.fromSeq, b2!.toSeq], [3, 3], 'one transaction fits in maxBytes');
      const b3 = await env.outbox.nextBatch('alerts', { maxBytes: 1 });
      assert.deepEqual([b3!.fromSeq, b3!.toSeq], [4, 4], 'at least one transaction even when larger');
      await env.outbox.nextBatch('alerts');
      assert.equal(await env.outbox.nextBatch('alerts'), undefined, 'everything is in flight');
      env.outbox.resetInFlight('alerts', 3);
      const again = await env.outbox.nextBatch('alerts');
      assert.deepEqual(
        again!.txs.map((t) => t.seq),
        [3, 4, 5],
      );
      await env.store.close();
    });

    it('drops entries only on receipts (I7), and ignores stale epochs', async () => {
      const env = await open(backend, [{ table: 'alerts' }]);
      for (let i = 1; i <= 4; i++) await write(env, 'alerts', put(`k${i}`));
      const epoch = (await env.outbox.nextBatch('alerts'))!.epoch;
      assert.equal((await env.outbox.audit('alerts')).count, 4, 'sending removes nothing');
      const stale = await env.outbox.onReceipt('alerts', 'not-the-epoch', 4);
      assert.deepEqual([stale.ignored, stale.truncated], [true, 0]);
      const r = await env.outbox.onReceipt('alerts', epoch, 2);
      assert.deepEqual([r.ignored, r.truncated], [false, 2]);
      let stats = await env.outbox.stats('alerts');
      assert.deepEqual([stats.backlogCount, stats.receiptedThrough, stats.inFlight], [2, 2, 2]);
      // A mark beyond what was queued is clamped.
      await env.outbox.onReceipt('alerts', epoch, 99);
      stats = await env.outbox.stats('alerts');
      assert.deepEqual([stats.backlogCount, stats.backlogBytes, stats.receiptedThrough], [0, 0, 4]);
      assert.deepEqual(await env.outbox.audit('alerts'), { bytes: 0, count: 0, skipSeqs: 0, tiled: true });
      await env.store.close();
    });

    it('reject: a refused request writes neither data nor outbox entry, in any table (I6, I14)', async () => {
      const env = await open(backend, [{ table: 'alerts', quotaBytes: 1 }, { table: 'chunks' }]);
      // learn the size of one entry, then set the quota to exactly two
      const probe = await open('memory', [{ table: 'alerts' }]);
      const one = size(await write(probe, 'alerts', put('k1')));
      await env.outbox.publish({ table: 'alerts', quotaBytes: 2 * one });
      await write(env, 'alerts', put('k1'));
      await write(env, 'alerts', put('k2'));
      await rejects(
        env.store.writeLocal([
          { table: 'chunks', ops: [put('c1')] },
          { table: 'alerts', ops: [put('k3')] },
        ]),
        'TM_QUOTA_FULL',
        new RegExp(`data\\.alerts is full: ${2 * one} of ${2 * one} bytes`),
      );
      assert.equal(await env.store.get('alerts', 'k3'), undefined);
      assert.equal(await env.store.get('chunks', 'c1'), undefined, 'the whole request is refused');
      assert.equal((await env.outbox.stats('chunks')).backlogCount, 0);
      const stats = await env.outbox.stats('alerts');
      assert.deepEqual([stats.backlogCount, stats.backlogBytes, stats.nextSeq], [2, 2 * one, 3]);
      assert.equal((await write(env, 'chunks', put('c1'))).seq, 1, 'no seq was used by the refused request');
      await env.store.close();
      await probe.store.close();
    });

    it('drop-oldest: drops the oldest entries not in flight as one SKIP range, counted', async () => {
      const env = await open(backend, [{ table: 'alerts' }]);
      const first = await write(env, 'alerts', put('k1'));
      const one = size(first);
      await env.outbox.publish({ table: 'alerts', quotaBytes: 3 * one, onFull: 'drop-oldest' });
      const heard: string[] = [];
      env.outbox.onSkip((table, ranges) => {
        for (const r of ranges) heard.push(`${table} ${r.from}-${r.to} ${r.reason}`);
      });
      await write(env, 'alerts', put('k2'));
      await write(env, 'alerts', put('k3'));
      const b1 = await env.outbox.nextBatch('alerts', { maxTxs: 1 }); // seq 1 in flight
      assert.equal(b1!.toSeq, 1);
      await write(env, 'alerts', put('k4')); // drops 2
      await write(env, 'alerts', put('k5')); // drops 3, range grows to 2..3
      assert.deepEqual(heard, ['data.alerts 2-2 drop-oldest', 'data.alerts 2-3 drop-oldest'], 'onSkip');
      let stats = await env.outbox.stats('alerts');
      assert.deepEqual(
        [stats.backlogCount, stats.backlogBytes, stats.skipped['drop-oldest']],
        [3, 3 * one, 2],
      );
      const b2 = await env.outbox.nextBatch('alerts');
      assert.deepEqual(b2!.skips, [{ epoch: b1!.epoch, from: 2, to: 3, reason: 'drop-oldest' }]);
      assert.deepEqual(
        b2!.txs.map((t) => t.seq),
        [4, 5],
      );
      // Everything left is in flight: nothing can be dropped, so the write is refused.
      await rejects(write(env, 'alerts', put('k6')), 'TM_QUOTA_FULL', /in flight/);
      assert.equal(await env.store.get('alerts', 'k6'), undefined);
      await env.outbox.onReceipt('alerts', b1!.epoch, 5);
      stats = await env.outbox.stats('alerts');
      assert.deepEqual([stats.backlogCount, stats.skippedTotal, stats.receiptedThrough], [0, 2, 5]);
      assert.deepEqual(await env.outbox.audit('alerts'), { bytes: 0, count: 0, skipSeqs: 0, tiled: true });
      await env.store.close();
    });

    it('coalesce: removes superseded ops, never in flight, never renumbers; then rejects', async () => {
      const env = await open(backend, [{ table: 'alerts' }]);
      const t1 = await write(env, 'alerts', put('a', { v: 1 })); // in flight below
      const t2 = await write(env, 'alerts', patch('b', { x: 1, y: 1 }));
      const t3 = await write(env, 'alerts', patch('b', { x: 2 }));
      const t4 = await write(env, 'alerts', put('c', { v: 1 }), put('d', { v: 1 }));
      const t5 = await write(env, 'alerts', put('e', { v: 1 }));
      const used = [t1, t2, t3, t4, t5].reduce((s, t) => s + size(t), 0);
      await env.outbox.publish({ table: 'alerts', quotaBytes: used, onFull: 'coalesce' });
      const inFlight = await env.outbox.nextBatch('alerts', { maxTxs: 1 });
      assert.equal(inFlight!.toSeq, 1);
      // New write: a (in flight: untouched), b.y (with t3's x covers t2), c (t4 keeps d), e (t5 goes).
      const t6 = await write(
        env,
        'alerts',
        put('a', { v: 2 }),
        patch('b', { y: 3 }),
        { kind: 'delete', key: 'c' },
        put('e', { v: 2 }),
      );
      assert.equal(t6.seq, 6);
      const stats = await env.outbox.stats('alerts');
      assert.deepEqual(stats.skipped, { 'drop-oldest': 0, ttl: 0, coalesced: 2 });
      assert.equal(stats.backlogCount, 4);
      const batch = await env.outbox.nextBatch('alerts');
      assert.deepEqual(batch!.skips, [
        { epoch: inFlight!.epoch, from: 2, to: 2, reason: 'coalesced' },
        { epoch: inFlight!.epoch, from: 5, to: 5, reason: 'coalesced' },
      ]);
      assert.deepEqual(batch!.txs, [t3, { ...t4, ops: [put('d', { v: 1 })] }, t6]);
      assert.equal(stats.backlogBytes, size(t1) + size(t3) + size(batch!.txs[1]!) + size(t6));
      // Nothing unsent is superseded any more: the next write that does not fit is refused.
      await rejects(write(env, 'alerts', put('f', { v: 1 })), 'TM_QUOTA_FULL', /after coalescing/);
      await env.store.close();
    });

    it('ttl: unsent entries older than ttl become a ttl SKIP range, counted; ttl ≤ tombstone retention', async () => {
      const env = await open(backend, [{ table: 'alerts', ttlMs: 1500 }]);
      for (const [t, key] of [
        [1000, 'k1'],
        [2000, 'k2'],
        [2400, 'k3'],
        [3000, 'k4'],
      ] as const) {
        env.clock.t = t;
        await write(env, 'alerts', put(key));
      }
      const b1 = await env.outbox.nextBatch('alerts', { maxTxs: 1 }); // seq 1 in flight: never expired
      env.clock.t = 4000;
      assert.equal((await env.outbox.stats('alerts')).oldestUnsentAgeMs, 2000);
      assert.equal(await env.outbox.expire(4000), 2);
      const stats = await env.outbox.stats('alerts');
      assert.deepEqual([stats.skipped.ttl, stats.backlogCount, stats.oldestUnsentAgeMs], [2, 2, 1000]);
      const b2 = await env.outbox.nextBatch('alerts');
      assert.deepEqual(b2!.skips, [{ epoch: b1!.epoch, from: 2, to: 3, reason: 'ttl' }]);
      assert.deepEqual(
        b2!.txs.map((t) => t.seq),
        [4],
      );
      await assert.rejects(
        Outbox.open(env.store, { tables: [{ table: 'alerts', ttlMs: 2000 }], tombstoneRetentionMs: 1000 }),
        (err: unknown) => isTmError(err, 'TM_INVALID_ARGUMENT') && /I14/.test((err as Error).message),
      );
      await env.store.close();
    });

    it('unpublish keeps the queue for a later publish; purge starts a new epoch', async () => {
      const env = await open(backend, [{ table: 'alerts' }]);
      const epoch = env.outbox.next('data.alerts')!.epoch;
      await write(env, 'alerts', put('a'));
      await env.outbox.unpublish('alerts');
      assert.deepEqual(env.outbox.publishedTables(), []);
      assert.equal((await write(env, 'alerts', put('b'))).seq, 0, 'not published: no outbox entry');
      await env.outbox.publish({ table: 'alerts' });
      assert.deepEqual(env.outbox.next('data.alerts'), { epoch, seq: 2 });
      assert.equal((await env.outbox.stats('alerts')).backlogCount, 1);
      await env.outbox.unpublish('alerts', { purge: true });
      await env.outbox.publish({ table: 'alerts' });
      const fresh = env.outbox.next('data.alerts')!;
      assert.notEqual(fresh.epoch, epoch);
      assert.equal(fresh.seq, 1);
      assert.deepEqual(await env.outbox.audit('alerts'), { bytes: 0, count: 0, skipSeqs: 0, tiled: true });
      await rejects(env.outbox.unpublish('chunks'), 'TM_UNKNOWN_TABLE');
      await env.store.close();
    });

    it('priority: weighted round-robin, w batches per round, every pending table at least one', async () => {
      const env = await open(backend, [
        { table: 'alerts', priority: 3 },
        { table: 'chunks', priority: 1 },
        { table: 'local', priority: 2 },
      ]);
      assert.equal(env.outbox.pickTable(), undefined, 'nothing pending');
      await write(env, 'alerts', put('a'));
      await write(env, 'chunks', put('c'));
      const picks = Array.from({ length: 10 }, () => env.outbox.pickTable());
      const A = 'data.alerts';
      const C = 'data.chunks';
      assert.deepEqual(picks, [A, A, A, C, A, A, A, C, A, A]);
      await write(env, 'local', put('l'));
      const more = Array.from({ length: 7 }, () => env.outbox.pickTable());
      assert.deepEqual(more, [A, C, 'data.local', 'data.local', A, A, A]);
      await env.outbox.nextBatch('data.alerts');
      assert.deepEqual(
        Array.from({ length: 4 }, () => env.outbox.pickTable()),
        [C, 'data.local', 'data.local', C],
        'a table with everything in flight is not picked',
      );
      await env.store.close();
    });
  });
}
