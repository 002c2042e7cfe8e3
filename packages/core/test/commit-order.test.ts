/**
 * Commit order (I6): SIGKILL cannot see a missing fsync (the page cache survives), so this test records the
 * order of events at the backend and checks that no writeLocal resolves before the fsync'd batch holding its
 * record resolved, that every batch asks for fsync when durability is fsync, and that group commit groups.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BinKey } from '../src/store/keys.js';
import type { KvBackend, KvRange, KvWrite } from '../src/store/kv.js';
import { LevelKv } from '../src/store/level-kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { recordKey, Store } from '../src/store/store.js';

/** One event of the commit pipeline as seen from outside the store. */
export type OrderEvent =
  | {
      readonly type: 'write-start';
      readonly batch: number;
      readonly keys: readonly BinKey[];
      readonly sync: boolean;
    }
  | { readonly type: 'write-resolved'; readonly batch: number }
  | { readonly type: 'ack'; readonly keys: readonly BinKey[] };

/** A KvBackend that delegates to another and records each write's start and resolution, with a delay. */
class RecordingKv implements KvBackend {
  private nextBatch = 1;

  constructor(
    private readonly inner: KvBackend,
    readonly events: OrderEvent[],
    /** injected into every write before the inner write, as a slow fsync would */
    private readonly delayMs: number,
  ) {}

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
    const id = this.nextBatch++;
    this.events.push({ type: 'write-start', batch: id, keys: batch.map((w) => w.key), sync });
    if (this.delayMs > 0) await sleep(this.delayMs);
    await this.inner.write(batch, sync);
    this.events.push({ type: 'write-resolved', batch: id });
  }
}

/**
 * Checks I6 order on an event list: each ack's keys must each be in a batch whose write-resolved came before the
 * ack (and, with `requireSync`, that batch was written with sync). Returns one line per violation.
 */
export function checkAckOrder(events: readonly OrderEvent[], requireSync: boolean): string[] {
  const violations: string[] = [];
  const started = new Map<number, { keys: ReadonlySet<BinKey>; sync: boolean }>();
  /** key → whether some resolved batch held it (true if one of them was synced) */
  const durable = new Map<BinKey, boolean>();
  events.forEach((event, i) => {
    if (event.type === 'write-start') {
      started.set(event.batch, { keys: new Set(event.keys), sync: event.sync });
    } else if (event.type === 'write-resolved') {
      const batch = started.get(event.batch);
      if (!batch) {
        violations.push(`event ${i}: batch ${event.batch} resolved but never started`);
        return;
      }
      for (const key of batch.keys) durable.set(key, (durable.get(key) ?? false) || batch.sync);
    } else {
      for (const key of event.keys) {
        const synced = durable.get(key);
        if (synced === undefined)
          violations.push(`event ${i}: ack of ${JSON.stringify(key)} before its batch resolved`);
        else if (requireSync && !synced)
          violations.push(`event ${i}: ack of ${JSON.stringify(key)} after an unsynced batch only`);
      }
    }
  });
  return violations;
}

const TABLES = ['data.order_a', 'data.order_b'];
const row = (i: number): Record<string, string | number> => ({
  sensor: `s${i % 7}`,
  temp: 20 + (i % 10) / 10,
});

interface Harness {
  readonly store: Store;
  readonly events: OrderEvent[];
  close(): Promise<void>;
}

async function openHarness(backend: 'memory' | 'level', delayMs: number, sync = true): Promise<Harness> {
  const events: OrderEvent[] = [];
  const dir = backend === 'level' ? mkdtempSync(join(tmpdir(), 'tm-order-')) : '';
  const inner = backend === 'level' ? new LevelKv(dir) : new MemoryKv();
  const store = await Store.open({ kv: new RecordingKv(inner, events, delayMs), nodeId: 'order', sync });
  for (const name of TABLES) await store.createTable({ name });
  return {
    store,
    events,
    async close() {
      await store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `writers` loops of `perWriter` requests each (alternately one and two tables); records an ack each. */
async function concurrentWrites(h: Harness, writers: number, perWriter: number): Promise<number> {
  let acks = 0;
  const loop = async (w: number): Promise<void> => {
    for (let c = 0; c < perWriter; c++) {
      const key = `w${w}-c${c}`;
      const tables = c % 2 === 0 ? TABLES : [TABLES[0]!];
      await h.store.writeLocal(
        tables.map((table) => ({ table, ops: [{ kind: 'put', key, attrs: row(c) }] })),
      );
      h.events.push({ type: 'ack', keys: tables.map((table) => recordKey(table, key)) });
      acks++;
    }
  };
  await Promise.all(Array.from({ length: writers }, (_, w) => loop(w)));
  return acks;
}

const writeStarts = (events: readonly OrderEvent[]): Extract<OrderEvent, { type: 'write-start' }>[] =>
  events.filter((e): e is Extract<OrderEvent, { type: 'write-start' }> => e.type === 'write-start');

describe('commit order (I6): no ack before the fsync’d batch resolved', () => {
  for (const backend of ['memory', 'level'] as const) {
    it(`${backend}: 16 writers × 25 requests, every ack after a synced batch holding its records`, async (t) => {
      const h = await openHarness(backend, backend === 'memory' ? 3 : 1);
      try {
        const acks = await concurrentWrites(h, 16, 25);
        assert.equal(acks, 400);
        assert.deepEqual(checkAckOrder(h.events, true), []);
        const starts = writeStarts(h.events);
        assert.ok(starts.length > 2, 'writes reached the backend');
        assert.deepEqual(
          starts.filter((s) => !s.sync).map((s) => s.batch),
          [],
          'every batch is written with sync=true under durability fsync',
        );
        // Each ack'd request was in exactly one data batch (no request split across batches).
        const acked = h.events.filter((e) => e.type === 'ack');
        for (const ack of acked) {
          const holders = starts.filter((s) => ack.keys.every((k) => s.keys.includes(k)));
          assert.equal(holders.length, 1, `request ${ack.keys.join(',')} is in one batch`);
        }
        t.diagnostic(`${starts.length} batches for ${acks} acks`);
        assert.ok(
          starts.length < acks,
          `group commit shared batches: ${starts.length} batches for ${acks} acks`,
        );
      } finally {
        await h.close();
      }
    });
  }

  it('groups: 64 concurrent single-record writes with a 20 ms write take ≤ 8 batches', async (t) => {
    const h = await openHarness('memory', 20);
    try {
      const batchesBefore = h.store.committer.batchesWritten;
      const startsBefore = writeStarts(h.events).length;
      await Promise.all(
        Array.from({ length: 64 }, async (_, i) => {
          const key = `k${i}`;
          await h.store.writeLocal([{ table: TABLES[0]!, ops: [{ kind: 'put', key, attrs: row(i) }] }]);
          h.events.push({ type: 'ack', keys: [recordKey(TABLES[0]!, key)] });
        }),
      );
      const batches = h.store.committer.batchesWritten - batchesBefore;
      assert.equal(writeStarts(h.events).length - startsBefore, batches, 'the backend saw every batch');
      t.diagnostic(`${batches} batches for 64 writes`);
      assert.ok(batches >= 1 && batches <= 8, `${batches} batches for 64 writes`);
      assert.deepEqual(checkAckOrder(h.events, true), []);
    } finally {
      await h.close();
    }
  });

  it('the sync check fails a store opened with durability none (sync=false)', async () => {
    const h = await openHarness('memory', 1, false);
    try {
      await concurrentWrites(h, 4, 5);
      assert.deepEqual(checkAckOrder(h.events, false), []);
      const violations = checkAckOrder(h.events, true);
      assert.equal(violations.length, 4 * 5 + 4 * 3, 'every acked record is flagged');
      assert.match(violations[0]!, /after an unsynced batch only/);
    } finally {
      await h.close();
    }
  });

  it('mutant: a store that acks before awaiting its write is flagged by the order check', async () => {
    const events: OrderEvent[] = [];
    const kv = new RecordingKv(new MemoryKv(), events, 5);
    await kv.open();
    /** The bug I6 forbids: hand the batch to the backend, answer 2xx, then wait for the write. */
    const ackEarly = async (key: BinKey): Promise<void> => {
      const write = kv.write([{ key, value: Buffer.from('v') }], true);
      events.push({ type: 'ack', keys: [key] });
      await write;
    };
    /** The correct shape, for contrast. */
    const ackAfter = async (key: BinKey): Promise<void> => {
      await kv.write([{ key, value: Buffer.from('v') }], true);
      events.push({ type: 'ack', keys: [key] });
    };
    await Promise.all([ackEarly('a'), ackEarly('b'), ackAfter('c')]);
    const violations = checkAckOrder(events, true);
    assert.deepEqual(violations, [
      'event 1: ack of "a" before its batch resolved',
      'event 3: ack of "b" before its batch resolved',
    ]);
    // An ack whose key a batch held only *after* it resolved elsewhere is still flagged: order, not membership.
    assert.equal(
      checkAckOrder(
        [
          { type: 'ack', keys: ['x'] },
          { type: 'write-start', batch: 1, keys: ['x'], sync: true },
          { type: 'write-resolved', batch: 1 },
        ],
        true,
      ).length,
      1,
    );
    await kv.close();
  });
});
