import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Committer } from '../src/store/commit.js';
import type { BinKey } from '../src/store/keys.js';
import type { KvWrite } from '../src/store/kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';

/** A memory backend that records which keys each written batch held. */
class CountingKv extends MemoryKv {
  readonly batches: BinKey[][] = [];
  override async write(batch: readonly KvWrite[], sync: boolean): Promise<void> {
    this.batches.push(batch.map((w) => w.key));
    await super.write(batch, sync);
  }
}

const v = (s: string) => Buffer.from(s);

test('a lazy transaction is visible at once and durable with the next eager group, not on its own', async () => {
  const kv = new CountingKv();
  await kv.open();
  const c = new Committer(kv, { sync: true });
  await c.transact((tx) => tx.put('lazy', v('1')), undefined, { lazy: true });
  assert.equal(kv.batches.length, 0, 'resolved without a write of its own');
  const seen = await c.transact(async (tx) => {
    const lazy = (await tx.get('lazy'))?.toString();
    tx.put('eager', v('2'));
    return lazy;
  });
  assert.equal(seen, '1', 'a later transaction sees it');
  assert.deepEqual(kv.batches, [['lazy', 'eager']], 'written in one batch with the eager group');
  assert.equal((await c.transact((tx) => tx.get('lazy')))?.toString(), '1', 'a reader after it sees it too');
});

test('lazy writes alone are written within the lazy delay, and close() flushes them', async () => {
  const kv = new CountingKv();
  await kv.open();
  const c = new Committer(kv, { sync: true });
  await c.transact((tx) => tx.put('a', v('1')), undefined, { lazy: true });
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(kv.batches, [['a']], 'written on its own after the delay');
  await c.transact((tx) => tx.put('b', v('2')), undefined, { lazy: true });
  await c.close();
  assert.deepEqual(kv.batches, [['a'], ['b']], 'close() wrote the pending lazy write');
  assert.equal((await kv.get('b'))?.toString(), '2');
});
