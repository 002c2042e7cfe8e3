/**
 * Prefetched reads (commit.ts): a value read before the commit lock is used only while it is still current.
 * The race this pins down: writer W prepares key k and its group starts flushing; reader R prefetches k from
 * disk (the old value: the flush has not landed), takes the lock, and only later — after W's group landed and
 * left the overlay — reads k. R must see W's value, not the stale prefetched one (a lost update otherwise: found
 * by test/e2e/fanout.test.ts as a hub record missing a transaction that its own feed carried).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Committer } from '../src/store/commit.js';
import type { BinKey } from '../src/store/keys.js';
import type { KvBackend, KvRange, KvWrite } from '../src/store/kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';

/** A backend whose writes wait for the test to open a gate. */
class GatedKv implements KvBackend {
  readonly inner = new MemoryKv();
  private gate: (() => void) | undefined;
  /** resolves when a write is waiting at the gate */
  writeWaiting!: Promise<void>;
  private signalWaiting!: () => void;

  constructor() {
    this.arm();
  }

  private arm(): void {
    this.writeWaiting = new Promise((resolve) => {
      this.signalWaiting = resolve;
    });
  }

  /** Lets the waiting write through. */
  openGate(): void {
    this.gate?.();
  }

  open(): Promise<void> {
    return this.inner.open();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  get(key: BinKey): Promise<Buffer | undefined> {
    return this.inner.get(key);
  }
  getMany(keys: readonly BinKey[]): Promise<(Buffer | undefined)[]> {
    return this.inner.getMany(keys);
  }
  iterate(range: KvRange): AsyncIterable<[BinKey, Buffer]> {
    return this.inner.iterate(range);
  }
  async write(batch: readonly KvWrite[], sync: boolean): Promise<void> {
    await new Promise<void>((resolve) => {
      this.gate = resolve;
      this.signalWaiting();
    });
    this.gate = undefined;
    this.arm();
    await this.inner.write(batch, sync);
  }
}

describe('Committer prefetch', () => {
  it('does not serve a prefetched value that a group flushed after the lock was taken made stale', async () => {
    const kv = new GatedKv();
    await kv.open();
    const k = 'k';
    await kv.inner.write([{ key: k, value: Buffer.from('v0') }], false);
    const committer = new Committer(kv, { sync: false });

    // W writes v1; its group is flushing, held at the gate.
    const w = committer.transact((tx) => tx.put(k, Buffer.from('v1')));
    await kv.writeWaiting;

    // R prefetched k (disk still says v0), holds the lock, and reads k only after W's group landed.
    const r = committer.transact(
      async (tx) => {
        kv.openGate();
        await w; // W's group is durable and gone from the overlay
        return (await tx.get(k))?.toString();
      },
      [k],
    );
    assert.equal(await r, 'v1');
  });

  it('still serves prefetched values that nothing wrote meanwhile', async () => {
    const kv = new GatedKv();
    await kv.open();
    await kv.inner.write([{ key: 'a', value: Buffer.from('a0') }], false);
    const committer = new Committer(kv, { sync: false });
    let reads = 0;
    const get = kv.get.bind(kv);
    kv.get = (key) => {
      reads++;
      return get(key);
    };
    const r = committer.transact(async (tx) => (await tx.get('a'))?.toString(), ['a']);
    assert.equal(await r, 'a0');
    assert.equal(reads, 0, 'served from the prefetch (getMany), no second read');
  });
});
