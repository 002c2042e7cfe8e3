// Group commit under a burst (I6, commit.ts splitBurst): writers acknowledged by one fsync come back together.
// On a fast disk (a write takes less than preparing the rest of the burst) the burst is split in halves so one
// half is written while the other prepares; on a slow disk it stays one group per write. Time is a fake clock:
// each prepare and each write advance it by a set amount, so the decision is deterministic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Committer } from '../src/store/commit.js';
import type { KvWrite } from '../src/store/kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';

/** A memory backend on a fake clock: every write takes `writeMs` of it; batch sizes are recorded. */
class TimedKv extends MemoryKv {
  readonly sizes: number[] = [];
  constructor(
    private readonly clock: { t: number },
    private readonly writeMs: number,
  ) {
    super();
  }
  override async write(batch: readonly KvWrite[], sync: boolean): Promise<void> {
    this.sizes.push(batch.length);
    await super.write(batch, sync);
    // In flight for a turn of the event loop, as a real write is while the other half prepares.
    await new Promise((resolve) => setImmediate(resolve));
    this.clock.t += this.writeMs;
  }
}

/**
 * `writers` writers, each doing `rounds` single-key transactions (one outstanding); each prepare takes 0.1 ms.
 * `reads`: each transaction first reads its key before the lock (prefetch), as a merge does; without, it is
 * prepared in the turn its writer comes back, as a local put on a table without indexes is.
 */
async function burst(writeMs: number, writers: number, rounds: number, reads = true): Promise<number[]> {
  const clock = { t: 0 };
  const kv = new TimedKv(clock, writeMs);
  await kv.open();
  const busy = { t: 0 };
  const committer = new Committer(kv, { sync: true, monotonicNow: () => clock.t, busyNow: () => busy.t });
  let n = 0;
  const writer = async (): Promise<void> => {
    for (let r = 0; r < rounds; r++) {
      const key = `k${n++}`;
      await committer.transact(
        (tx) => {
          clock.t += 0.1;
          busy.t += 0.1;
          tx.put(key, Buffer.from('v'));
        },
        reads ? [key] : undefined,
      );
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  assert.equal((await kv.getMany([`k0`, `k${n - 1}`])).filter(Boolean).length, 2, 'every write landed');
  assert.equal(
    kv.sizes.reduce((a, b) => a + b, 0),
    writers * rounds,
    'each transaction was written exactly once',
  );
  return kv.sizes;
}

test('fast disk: a burst of 128 writers is written as two halves, one while the other prepares', async () => {
  const sizes = await burst(0.05, 128, 10);
  // 128 × 0.1 ms of preparing against a 0.05 ms write: the burst splits where half of it is prepared, and the
  // halves keep alternating (one written while the other prepares) until the writers run out of rounds.
  assert.deepEqual(sizes.slice(0, 19), Array(19).fill(64), `group sizes ${sizes.join(',')}`);
});

// Writers that read nothing first come back and prepare within one turn of the event loop, so `preparing` never
// counts them ahead: the writers of the group that just landed are counted on their way instead.
for (const reads of [true, false]) {
  const kind = reads ? 'writers that read first' : 'writers without reads';

  test(`slow disk, ${kind}: once writes are known to be slow, a burst stays one group per write`, async () => {
    const sizes = await burst(20, 128, 30, reads);
    // The moving average of write time starts at 1 ms and learns 20 ms; preparing 64 × 0.1 ms no longer covers
    // it, so the halves of the first bursts merge again (the very last group can be a half: writers ran out).
    const tail = sizes.slice(-6, -1);
    assert.ok(
      tail.every((s) => s === 128),
      `last groups ${tail.join(',')} (all: ${sizes.join(',')})`,
    );
    assert.ok(sizes.length < 40, `${sizes.length} groups for 30 rounds`);
  });

  test(`8 ${kind} on a fast disk: groups of 4, every transaction in one of them`, async () => {
    const sizes = await burst(0.05, 8, 50, reads);
    // The write-time average starts at 1 ms: whole groups of 8 until it has learnt that writes are fast.
    const steady = sizes.slice(sizes.indexOf(4), -2);
    assert.ok(steady.length >= 60, `group sizes ${sizes.join(',')}`);
    assert.deepEqual(steady, Array(steady.length).fill(4), `group sizes ${sizes.join(',')}`);
  });
}

test('fast disk, writers without reads: the burst returning together is split in halves', async () => {
  const sizes = await burst(0.05, 128, 10, false);
  // The first burst arrives before any write landed (nothing known to be on its way): one group. From then on
  // the writers of a landed group are counted on their way back, and the burst splits where half has joined.
  assert.deepEqual(sizes.slice(1, 19), Array(18).fill(64), `group sizes ${sizes.join(',')}`);
});
