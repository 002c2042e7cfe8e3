// A failed storage write (ENOSPC, EIO): the store reports it once, refuses every later transaction with
// TM_STORE_FAILED (memory would be ahead of disk), acknowledges nothing it did not write, and a store reopened on
// the same backend holds exactly what was acknowledged (the edge recovers this way).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTmError } from '../src/errors.js';
import type { KvWrite } from '../src/store/kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { Store } from '../src/store/store.js';

/** A memory backend whose writes fail while `full` is set, like a disk without space. */
class FullableKv extends MemoryKv {
  full = false;
  /** how long a write takes (ms) */
  delayMs = 0;
  writes = 0;
  override async write(batch: readonly KvWrite[], sync: boolean): Promise<void> {
    this.writes++;
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    if (this.full) throw Object.assign(new Error('IO error: No space left on device'), { code: 'ENOSPC' });
    await super.write(batch, sync);
  }
  // The store closes its backend; the same data must be there when it is opened again.
  override async close(): Promise<void> {}
}

const put = (key: string, v: number) => [{ table: 't', ops: [{ kind: 'put' as const, key, attrs: { v } }] }];

/** A store with table `t` on a FullableKv, and the failures it reports. */
async function openFullable() {
  const kv = new FullableKv();
  const store = await Store.open({ kv, nodeId: 'n1' });
  await store.createTable({ name: 't' });
  const failures: unknown[] = [];
  store.onFailure((err) => failures.push(err));
  return { kv, store, failures };
}

test('a failed write is reported once, refuses what follows, and a reopened store holds exactly the acked writes', async () => {
  const opened = await openFullable();
  const { kv, failures } = opened;
  let store = opened.store;
  await store.writeLocal(put('a', 1));

  kv.full = true;
  const results = await Promise.allSettled([store.writeLocal(put('b', 2)), store.writeLocal(put('c', 3))]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok(isTmError((r as PromiseRejectedResult).reason, 'TM_STORE_FAILED'));
  }
  assert.equal(failures.length, 1, 'reported once');
  assert.match(String(failures[0]), /No space left/);
  kv.full = false; // space is back, but this store's memory is ahead of its disk: it stays refused
  await assert.rejects(store.writeLocal(put('d', 4)), (err) => isTmError(err, 'TM_STORE_FAILED'));
  assert.equal(failures.length, 1);

  await store.close();
  store = await Store.open({ kv, nodeId: 'n1' });
  assert.deepEqual(
    (await store.query('t')).map((r) => [r['id'], r['v']]),
    [['a', 1]],
    'exactly the acknowledged write, nothing of the refused ones',
  );
  await store.writeLocal(put('e', 5));
  assert.deepEqual(
    (await store.readChanges('t', 0)).changes.map((c) => [c.seq, c.key]),
    [
      [1, 'a'],
      [2, 'e'],
    ],
    'the change log continues after the last durable entry',
  );
  await store.close();
});

test('after a failed write nothing more is written: the group that was filling is refused, never written later', async () => {
  const opened = await openFullable();
  const { kv, failures } = opened;
  let store = opened.store;
  kv.full = true;
  kv.delayMs = 30;
  const inFlight = store.writeLocal(put('b', 2));
  await new Promise((resolve) => setTimeout(resolve, 10)); // b's group is being written
  const waiting = store.writeLocal(put('c', 3)); // joins the next group
  const results = await Promise.allSettled([inFlight, waiting]);
  for (const r of results) assert.ok(isTmError((r as PromiseRejectedResult).reason, 'TM_STORE_FAILED'));
  const writes = kv.writes;
  kv.full = false;
  kv.delayMs = 0;
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(kv.writes, writes, 'no write after the failure');
  assert.equal(failures.length, 1, 'reported once');
  await store.close();
  store = await Store.open({ kv, nodeId: 'n1' });
  assert.deepEqual(await store.query('t'), [], 'nothing of the refused writes');
  await store.close();
});
