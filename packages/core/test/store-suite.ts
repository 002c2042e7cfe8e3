/**
 * The store conformance suite: every KvBackend runs it with two lines (abstract-level's test suite pattern).
 * It checks behaviour through the Store's public API: values, counts, orders and refusals that change nothing.
 */
import assert from 'node:assert/strict';
import type { test as nodeTest } from 'node:test';
import fc from 'fast-check';
import { isTmError } from '../src/errors.js';
import { emptyState, encodeState, joinStates, stateOfOp } from '../src/merge.js';
import { encodeKey } from '../src/store/keys.js';
import type { KvBackend } from '../src/store/kv.js';
import { type LiveRecord, Store } from '../src/store/store.js';
import type { JsonValue, Op, PrimaryKey, RecordState, Stamp } from '../src/types.js';

/** Makes a fresh, empty backend; the same instance can be closed and reopened (persistence). */
export type KvFactory = () => Promise<{ kv: KvBackend; cleanup(): Promise<void> }>;

type TestFn = typeof nodeTest;

const strip = (r: LiveRecord | undefined): LiveRecord | undefined => {
  if (!r) return r;
  const { __createdtime__: _c, __updatedtime__: _u, ...rest } = r;
  return rest;
};

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTmError(err), `expected a TmError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** Runs the suite against backends made by `factory`. */
export function storeSuite({
  test,
  name,
  factory,
}: {
  test: TestFn;
  name: string;
  factory: KvFactory;
}): void {
  let clock = 1_700_000_000_000;
  const now = (): number => clock;

  async function withStore(fn: (store: Store, kv: KvBackend) => Promise<void>): Promise<void> {
    const { kv, cleanup } = await factory();
    const store = await Store.open({ kv, nodeId: 'node_a', now });
    try {
      await fn(store, kv);
    } finally {
      await store.close().catch(() => {});
      await cleanup();
    }
  }

  test(`${name}: tables are created, described, listed and dropped`, () =>
    withStore(async (store) => {
      const def = await store.createTable({ name: 'dev.dog', primaryKey: 'dog_id', indexes: [['breed']] });
      assert.equal(def.name, 'dev.dog');
      assert.equal(def.primaryKey, 'dog_id');
      assert.deepEqual(def.indexes, [['breed']]);
      await store.createTable({ name: 'cat' });
      assert.deepEqual(
        store.listTables().map((t) => t.name),
        ['data.cat', 'dev.dog'],
      );
      assert.equal(store.getTable('cat')?.primaryKey, 'id');
      await rejectsWith(store.createTable({ name: 'dev.dog' }), 'TM_TABLE_EXISTS');
      await store.writeLocal([{ table: 'dev.dog', ops: [{ kind: 'put', key: 1, attrs: { breed: 'pug' } }] }]);
      await store.dropTable('dev.dog');
      assert.equal(store.getTable('dev.dog'), undefined);
      await rejectsWith(store.dropTable('dev.dog'), 'TM_UNKNOWN_TABLE');
      const again = await store.createTable({ name: 'dev.dog', primaryKey: 'dog_id' });
      assert.notEqual(again.incarnation, def.incarnation);
      assert.deepEqual(await store.query('dev.dog'), [], 'a re-created table starts empty');
    }));

  test(`${name}: invalid names are refused with TM_INVALID_NAME and change nothing`, () =>
    withStore(async (store) => {
      for (const bad of [
        'a/b',
        'a+b',
        'a#b',
        '$SYS',
        'a\u0000b',
        '1abc',
        'x'.repeat(65),
        'a.b.c',
        '',
        'db.t-1',
      ]) {
        await rejectsWith(store.createTable({ name: bad }), 'TM_INVALID_NAME');
      }
      await rejectsWith(store.createTable({ name: 't', indexes: [['__x']] }), 'TM_INVALID_NAME');
      assert.deepEqual(store.listTables(), []);
    }));

  test(`${name}: put, patch, get and delete; "1" and 1 are different keys`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 't' });
      await store.writeLocal([{ table: 't', ops: [{ kind: 'put', key: '1', attrs: { a: 1, b: 'x' } }] }]);
      await store.writeLocal([{ table: 't', ops: [{ kind: 'put', key: 1, attrs: { a: 2 } }] }]);
      assert.deepEqual(strip(await store.get('t', '1')), { id: '1', a: 1, b: 'x' });
      assert.deepEqual(strip(await store.get('t', 1)), { id: 1, a: 2 });
      clock += 5;
      await store.writeLocal([
        { table: 't', ops: [{ kind: 'patch', key: '1', attrs: { b: null, c: [1, { d: 2 }] } }] },
      ]);
      const patched = await store.get('t', '1');
      assert.deepEqual(strip(patched), { id: '1', a: 1, b: null, c: [1, { d: 2 }] });
      assert.ok((patched?.['__updatedtime__'] as number) > (patched?.['__createdtime__'] as number));
      await store.writeLocal([{ table: 't', ops: [{ kind: 'put', key: '1', attrs: { z: true } }] }]);
      assert.deepEqual(strip(await store.get('t', '1')), { id: '1', z: true }, 'a put replaces the record');
      await store.writeLocal([{ table: 't', ops: [{ kind: 'delete', key: '1' }] }]);
      assert.equal(await store.get('t', '1'), undefined);
      assert.equal(
        (await store.getState('t', '1'))?.w?.kind,
        'delete',
        'I5: a deleted record keeps its tombstone',
      );
      assert.deepEqual(strip(await store.get('t', 1)), { id: 1, a: 2 });
    }));

  test(`${name}: several writes to one key in one request are folded into one op`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 't' });
      const [txn] = await store.writeLocal([
        {
          table: 't',
          ops: [
            { kind: 'put', key: 'k', attrs: { a: 1 } },
            { kind: 'patch', key: 'k', attrs: { b: 2 } },
            { kind: 'put', key: 'j', attrs: { a: 1 } },
            { kind: 'delete', key: 'j' },
          ],
        },
      ]);
      assert.equal(txn?.ops.length, 2);
      assert.deepEqual(strip(await store.get('t', 'k')), { id: 'k', a: 1, b: 2 });
      assert.equal(await store.get('t', 'j'), undefined);
    }));

  test(`${name}: bad input gets a typed error and changes nothing`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 't', primaryKey: 'id' });
      await store.writeLocal([{ table: 't', ops: [{ kind: 'put', key: 'keep', attrs: { v: 1 } }] }]);
      const before = await store.digest('t');
      const changesBefore = (await store.readChanges('t', 0)).changes.length;
      const cases: [unknown, string][] = [
        [[{ table: 'nope', ops: [{ kind: 'put', key: 1, attrs: {} }] }], 'TM_UNKNOWN_TABLE'],
        [[{ table: 'a/b', ops: [] }], 'TM_INVALID_NAME'],
        [[{ table: 't', ops: [{ kind: 'put', key: 1, attrs: { big: 2 ** 53 } }] }], 'TM_INVALID_VALUE'],
        [[{ table: 't', ops: [{ kind: 'put', key: 1, attrs: { n: Number.NaN } }] }], 'TM_INVALID_VALUE'],
        [[{ table: 't', ops: [{ kind: 'put', key: 1, attrs: { __secret: 1 } }] }], 'TM_INVALID_NAME'],
        [
          [{ table: 't', ops: [{ kind: 'put', key: 1, attrs: { s: 'x'.repeat(200_000) } }] }],
          'TM_RECORD_TOO_LARGE',
        ],
        [[{ table: 't', ops: [{ kind: 'put', key: { o: 1 }, attrs: {} }] }], 'TM_INVALID_KEY'],
        [[{ table: 't', ops: [{ kind: 'put', key: 2 ** 60, attrs: {} }] }], 'TM_INVALID_KEY'],
        [[{ table: 't', ops: [{ kind: 'put', key: 1, attrs: 'not an object' }] }], 'TM_INVALID_VALUE'],
        [[{ table: 't', ops: [{ kind: 'upsert', key: 1, attrs: {} }] }], 'TM_INVALID_ARGUMENT'],
        [[{ table: 't', ops: [{ kind: 'put', key: 1, attrs: { id: 2 } }] }], 'TM_INVALID_KEY'],
        [[], 'TM_INVALID_ARGUMENT'],
      ];
      for (const [request, code] of cases) {
        await rejectsWith(store.writeLocal(request as never), code);
      }
      // A multi-table request is all or nothing: a valid part is not written when another part is bad.
      await store.createTable({ name: 'u' });
      await rejectsWith(
        store.writeLocal([
          { table: 'u', ops: [{ kind: 'put', key: 1, attrs: { ok: true } }] },
          { table: 't', ops: [{ kind: 'put', key: 2, attrs: { bad: 2 ** 54 } }] },
        ]),
        'TM_INVALID_VALUE',
      );
      assert.equal(await store.get('u', 1), undefined);
      // The same when the bad part's size is only found while it is written (a put on a table without indexes
      // is measured off its encoding, inside the transaction).
      await rejectsWith(
        store.writeLocal([
          { table: 'u', ops: [{ kind: 'put', key: 1, attrs: { ok: true } }] },
          { table: 't', ops: [{ kind: 'put', key: 2, attrs: { s: 'é'.repeat(100_000) } }] },
        ]),
        'TM_RECORD_TOO_LARGE',
      );
      assert.equal(await store.get('u', 1), undefined);
      assert.equal(await store.get('t', 2), undefined);
      assert.deepEqual(await store.digest('t'), before);
      assert.equal((await store.readChanges('t', 0)).changes.length, changesBefore);
      await rejectsWith(
        store.query('t', { conditions: [{ attr: 'v', op: 'like' as never, value: 1 }] }),
        'TM_INVALID_ARGUMENT',
      );
      await rejectsWith(store.query('t', { limit: -1 }), 'TM_INVALID_ARGUMENT');
    }));

  test(`${name}: a transaction that throws writes nothing`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 't' });
      await assert.rejects(
        store.transact(async (tx) => {
          await store.applyTransaction(tx, {
            table: 'data.t',
            stamp: { wall: clock, counter: 0, node: 'node_b', epoch: 'e1' },
            seq: 1,
            ops: [{ kind: 'put', key: 1, attrs: { a: 1 } }],
          });
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.get('t', 1), undefined);
      assert.equal((await store.readChanges('t', 0)).changes.length, 0);
    }));

  test(`${name}: applying the same remote transaction twice changes nothing the second time`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 't' });
      const txn = {
        table: 'data.t',
        stamp: { wall: clock + 10_000, counter: 3, node: 'node_b', epoch: 'e1' },
        seq: 1,
        ops: [{ kind: 'put' as const, key: 'r', attrs: { a: 1 } }],
      };
      const first = await store.transact((tx) => store.applyTransaction(tx, txn));
      const second = await store.transact((tx) => store.applyTransaction(tx, txn));
      assert.equal(first.length, 1);
      assert.equal(second.length, 0);
      // I2: a local write after seeing the remote one is stamped after it, and wins.
      const [local] = await store.writeLocal([
        { table: 't', ops: [{ kind: 'patch', key: 'r', attrs: { a: 2 } }] },
      ]);
      assert.ok(local!.stamp.wall > txn.stamp.wall || local!.stamp.counter > txn.stamp.counter);
      assert.equal((await store.get('t', 'r'))?.['a'], 2);
    }));

  test(`${name}: queries by comparators with limit, offset, sort and select`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 'q', indexes: [['color'], ['n']] });
      const colors = ['red', 'green', 'blue'];
      const ops = Array.from({ length: 30 }, (_, i) => ({
        kind: 'put' as const,
        key: i,
        attrs: { n: i, color: colors[i % 3]!, name: `item-${String(i).padStart(2, '0')}` },
      }));
      await store.writeLocal([{ table: 'q', ops }]);
      const ids = (rows: LiveRecord[]): unknown[] => rows.map((r) => r['id']);
      assert.deepEqual(
        ids(await store.query('q', { conditions: [{ attr: 'n', op: 'gt', value: 26 }] })),
        [27, 28, 29],
      );
      assert.deepEqual(
        ids(await store.query('q', { conditions: [{ attr: 'n', op: 'le', value: 2 }] })),
        [0, 1, 2],
      );
      assert.deepEqual(
        ids(await store.query('q', { conditions: [{ attr: 'n', op: 'between', value: 10, value2: 12 }] })),
        [10, 11, 12],
      );
      assert.deepEqual(
        ids(await store.query('q', { conditions: [{ attr: 'name', op: 'prefix', value: 'item-2' }] })),
        [20, 21, 22, 23, 24, 25, 26, 27, 28, 29],
      );
      assert.deepEqual(
        ids(
          await store.query('q', {
            conditions: [
              { attr: 'color', op: 'eq', value: 'blue' },
              { attr: 'n', op: 'ge', value: 20 },
            ],
            sort: { attr: 'n', descending: true },
            limit: 2,
            offset: 1,
          }),
        ),
        [26, 23],
      );
      assert.equal(
        (await store.query('q', { conditions: [{ attr: 'color', op: 'ne', value: 'red' }] })).length,
        20,
      );
      assert.deepEqual(
        await store.query('q', { conditions: [{ attr: 'id', op: 'eq', value: 7 }], select: ['name'] }),
        [{ name: 'item-07' }],
      );
      assert.deepEqual(
        ids(await store.query('q', { conditions: [{ attr: 'id', op: 'lt', value: 2 }] })),
        [0, 1],
      );
      assert.deepEqual(
        await store.query('q', { conditions: [{ attr: 'n', op: 'gt', value: 'a string' }] }),
        [],
      );
      assert.deepEqual(ids(await store.query('q', { limit: 3, offset: 28 })), [28, 29]);
    }));

  test(`${name}: "rows of sensor S in the last 60 s" reads only those rows through the compound index`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 'sensor_data', indexes: [['sensor', 'ts']] });
      const t0 = 1_700_000_000_000;
      for (let batch = 0; batch < 10; batch++) {
        const ops = [];
        for (let i = 0; i < 60; i++) {
          const n = batch * 60 + i;
          ops.push({
            kind: 'put' as const,
            key: `r${n}`,
            attrs: { sensor: `s${n % 4}`, ts: t0 + n * 1000, v: n },
          });
        }
        await store.writeLocal([{ table: 'sensor_data', ops }]);
      }
      const nowTs = t0 + 599 * 1000;
      store.stats.recordsRead = 0;
      const rows = await store.query('sensor_data', {
        conditions: [
          { attr: 'sensor', op: 'eq', value: 's3' },
          { attr: 'ts', op: 'ge', value: nowTs - 60_000 },
        ],
      });
      const expected = [];
      for (let n = 0; n < 600; n++) if (n % 4 === 3 && t0 + n * 1000 >= nowTs - 60_000) expected.push(n);
      assert.deepEqual(
        rows.map((r) => r['v']),
        expected,
      );
      assert.equal(store.stats.recordsRead, expected.length, 'only the matching rows were read');
    }));

  test(`${name}: indexes follow updates and deletes`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 'i', indexes: [['color']] });
      await store.writeLocal([{ table: 'i', ops: [{ kind: 'put', key: 1, attrs: { color: 'red' } }] }]);
      await store.writeLocal([{ table: 'i', ops: [{ kind: 'patch', key: 1, attrs: { color: 'blue' } }] }]);
      const red = { conditions: [{ attr: 'color', op: 'eq' as const, value: 'red' }] };
      const blue = { conditions: [{ attr: 'color', op: 'eq' as const, value: 'blue' }] };
      store.stats.recordsRead = 0;
      assert.equal((await store.query('i', red)).length, 0);
      assert.equal(store.stats.recordsRead, 0, 'the stale index entry was removed');
      assert.equal((await store.query('i', blue)).length, 1);
      await store.writeLocal([{ table: 'i', ops: [{ kind: 'delete', key: 1 }] }]);
      store.stats.recordsRead = 0;
      assert.equal((await store.query('i', blue)).length, 0);
      assert.equal(store.stats.recordsRead, 0);
    }));

  test(`${name}: the change log holds every change in order, local and replicated`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 'c' });
      const seen: number[] = [];
      const emitted: unknown[] = [];
      store.onChanges((changes) => {
        for (const c of changes) seen.push(c.seq);
        emitted.push(...changes.map((c) => ({ ...c })));
      });
      await store.writeLocal([{ table: 'c', ops: [{ kind: 'put', key: 'a', attrs: { v: 1 } }] }]);
      await store.transact((tx) =>
        store.applyTransaction(tx, {
          table: 'data.c',
          stamp: { wall: clock + 1, counter: 0, node: 'node_b', epoch: 'e' },
          seq: 1,
          ops: [{ kind: 'patch', key: 'a', attrs: { w: 2 } }],
        }),
      );
      await store.writeLocal([{ table: 'c', ops: [{ kind: 'delete', key: 'a' }] }]);
      const { changes } = await store.readChanges('c', 0);
      assert.deepEqual(
        changes.map((c) => [c.seq, c.origin, c.record === null]),
        [
          [1, 'node_a', false],
          [2, 'node_b', false],
          [3, 'node_a', true],
        ],
      );
      assert.equal(changes[1]?.record?.['w'], 2);
      assert.deepEqual(strip(changes[1]?.record ?? undefined), { id: 'a', v: 1, w: 2 });
      assert.equal(changes[1]?.record?.['__updatedtime__'], clock + 1);
      assert.deepEqual(seen, [1, 2, 3]);
      // What listeners get in memory is what the log holds on disk, record included.
      assert.deepEqual(
        emitted,
        changes.map((c) => ({ ...c })),
      );
      assert.deepEqual(
        (await store.readChanges('c', 2)).changes.map((c) => c.seq),
        [3],
      );
      // Entries of older logs held the live record instead of the merge state: still readable.
      const table = store.requireTable('c').name;
      const legacy = { seq: 4, table, key: 'z', record: { id: 'z', v: 9 }, origin: 'node_a', wall: 5 };
      await store.transact((tx) => tx.put(encodeKey(['c', table, 4]), Buffer.from(JSON.stringify(legacy))));
      assert.deepEqual((await store.readChanges('c', 3)).changes, [legacy]);
    }));

  test(`${name}: the change log keeps at least its retention, contiguous, across group segments and a reopen`, async () => {
    const { kv, cleanup } = await factory();
    try {
      let store = await Store.open({ kv, nodeId: 'node_a', now, changeLogRetention: 10 });
      await store.createTable({ name: 'seg' });
      // Bursts of 1…30 concurrent writes: each group stores its entries as one segment.
      let n = 0;
      for (const size of [1, 30, 7, 1, 1, 25, 3, 30, 12, 1, 2, 17]) {
        await Promise.all(
          Array.from({ length: size }, () =>
            store.writeLocal([{ table: 'seg', ops: [{ kind: 'put', key: `k${n++}`, attrs: { n } }] }]),
          ),
        );
      }
      const check = async (): Promise<number[]> => {
        const { first, changes } = await store.readChanges('seg', 0, 1000);
        const seqs = changes.map((c) => c.seq);
        assert.equal(seqs[0], first, 'first is the oldest entry kept');
        assert.deepEqual(
          seqs,
          Array.from({ length: seqs.length }, (_, i) => first + i),
          'contiguous',
        );
        assert.equal(seqs.at(-1), n, 'the newest entry is the last change');
        assert.ok(seqs.length >= 10, `${seqs.length} entries kept, retention 10`);
        assert.ok(seqs.length <= 10 + 30 + 30, `${seqs.length} entries kept: whole old segments are dropped`);
        // A read from the middle starts inside a segment and returns exactly the entries after it.
        const mid = first + 3;
        assert.deepEqual(
          (await store.readChanges('seg', mid, 4)).changes.map((c) => c.seq),
          [mid + 1, mid + 2, mid + 3, mid + 4],
        );
        assert.equal(await store.lastChangeSeq('seg'), n);
        return seqs;
      };
      const before = await check();
      await store.close();
      store = await Store.open({ kv, nodeId: 'node_a', now, changeLogRetention: 10 });
      assert.deepEqual(await check(), before, 'the same entries after a reopen');
      await store.writeLocal([{ table: 'seg', ops: [{ kind: 'put', key: 'after', attrs: {} }] }]);
      n++;
      const { changes } = await store.readChanges('seg', before.at(-1)!, 10);
      assert.deepEqual(
        changes.map((c) => [c.seq, c.key]),
        [[n, 'after']],
        'numbering continues after a reopen',
      );
      await store.close();
    } finally {
      await cleanup();
    }
  });

  test(`${name}: local retention removes records older than expiration`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 'sensor', expirationSec: 60 });
      const start = clock;
      await store.writeLocal([{ table: 'sensor', ops: [{ kind: 'put', key: 'old', attrs: { v: 1 } }] }]);
      clock += 30_000;
      await store.writeLocal([{ table: 'sensor', ops: [{ kind: 'put', key: 'new', attrs: { v: 2 } }] }]);
      assert.equal(await store.sweepExpired(start + 59_000), 0);
      assert.equal(await store.sweepExpired(start + 61_000), 1);
      assert.equal(await store.get('sensor', 'old'), undefined);
      assert.equal((await store.get('sensor', 'new'))?.['v'], 2);
      assert.equal(
        await store.getState('sensor', 'old'),
        undefined,
        'expired local records leave no tombstone',
      );
    }));

  test(`${name}: data, tables, change log and the HLC mark survive a reopen (I1)`, async () => {
    const { kv, cleanup } = await factory();
    try {
      let store = await Store.open({ kv, nodeId: 'node_a', now });
      const epoch = store.epoch;
      await store.createTable({ name: 'p', indexes: [['k']] });
      const txns = [];
      for (let i = 0; i < 20; i++) {
        txns.push(store.writeLocal([{ table: 'p', ops: [{ kind: 'put', key: i, attrs: { k: i % 2 } }] }]));
      }
      const last = (await Promise.all(txns)).flat().map((t) => t.stamp);
      const digest = await store.digest('p');
      await store.close();
      store = await Store.open({ kv, nodeId: 'node_a', now: () => clock - 3_600_000 });
      assert.equal(store.epoch, epoch);
      assert.deepEqual(await store.digest('p'), digest);
      assert.equal((await store.query('p', { conditions: [{ attr: 'k', op: 'eq', value: 1 }] })).length, 10);
      const peak = store.clock.peek();
      for (const s of last)
        assert.ok(peak.wall > s.wall || (peak.wall === s.wall && peak.counter >= s.counter));
      // I1: even with the wall clock an hour behind, new stamps are above everything issued before.
      const [next] = await store.writeLocal([{ table: 'p', ops: [{ kind: 'put', key: 99, attrs: {} }] }]);
      for (const s of last) assert.ok(next!.stamp.wall > s.wall || next!.stamp.counter > s.counter);
      assert.equal((await store.readChanges('p', 0)).changes.length, 21);
      await store.close();
    } finally {
      await cleanup();
    }
  });

  test(`${name}: concurrent writers share group commits and all succeed`, () =>
    withStore(async (store) => {
      await store.createTable({ name: 'g' });
      const writes = Array.from({ length: 200 }, (_, i) =>
        store.writeLocal([{ table: 'g', ops: [{ kind: 'patch', key: i % 10, attrs: { [`a${i}`]: i } }] }]),
      );
      await Promise.all(writes);
      assert.ok(
        store.committer.batchesWritten < 200,
        `${store.committer.batchesWritten} batches for 200 writes`,
      );
      const rows = await store.query('g');
      assert.equal(rows.length, 10);
      for (const row of rows) assert.equal(Object.keys(row).filter((k) => k.startsWith('a')).length, 20);
    }));

  test(`${name}: a local write over any stored state is its I4 join with it, also after a reopen (I1, I2, I4)`, async () => {
    // Local puts and deletes on a table without indexes are merged without reading the record (the local stamp
    // passes every stored one); patches, and tables with indexes, read it. Either way the stored state must be
    // exactly the join of the state before with the op's own state.
    const keys: PrimaryKey[] = [1, 'k', 2];
    const value = fc.constantFrom<JsonValue>(0, 1, 'v', null, true, { n: 1 });
    const attrs = fc.record({ x: value, y: value, z: value }, { requiredKeys: [] });
    const op = (key: PrimaryKey): fc.Arbitrary<Op> =>
      fc.oneof(
        fc.record({ kind: fc.constant('put' as const), key: fc.constant(key), attrs }),
        fc.record({ kind: fc.constant('patch' as const), key: fc.constant(key), attrs }),
        fc.record({ kind: fc.constant('delete' as const), key: fc.constant(key) }),
      );
    const ops = fc.subarray(keys, { minLength: 1 }).chain((ks) => fc.tuple(...ks.map(op)));
    // Remote stamps behind, at and far ahead of the local clock, from two nodes.
    const stamp: fc.Arbitrary<Stamp> = fc.record({
      wall: fc.constantFrom(clock - 5_000, clock, clock + 1, clock + 86_400_000),
      counter: fc.constantFrom(0, 7),
      node: fc.constantFrom('node_b', 'node_c'),
      epoch: fc.constant('e1'),
    });
    const scenario = fc.record({
      remote: fc.array(fc.record({ stamp, ops }), { maxLength: 6 }),
      local: ops,
      indexed: fc.boolean(),
      reopen: fc.boolean(),
    });
    const { kv, cleanup } = await factory();
    let store = await Store.open({ kv, nodeId: 'node_a', now });
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ remote, local, indexed, reopen }) => {
          const table = `j${run++}`;
          await store.createTable({ name: table, indexes: indexed ? [['x']] : [] });
          for (const [seq, r] of remote.entries()) {
            await store.transact((tx) =>
              store.applyTransaction(tx, {
                table: `data.${table}`,
                stamp: r.stamp,
                seq: seq + 1,
                ops: r.ops,
              }),
            );
          }
          const before = new Map<PrimaryKey, RecordState>();
          for (const key of keys) before.set(key, (await store.getState(table, key)) ?? emptyState());
          if (reopen) {
            await store.close();
            store = await Store.open({ kv, nodeId: 'node_a', now });
          }
          const [txn] = await store.writeLocal([{ table, ops: local }]);
          assert.equal(txn!.ops.length, local.length);
          for (const key of keys) {
            const written = txn!.ops.find((o) => o.key === key);
            const stored = await store.getState(table, key);
            const prior = before.get(key)!;
            const expected = written ? joinStates(prior, stateOfOp(written, txn!.stamp)) : prior;
            assert.equal(encodeState(stored ?? emptyState()), encodeState(expected), `key ${String(key)}`);
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      await store.close().catch(() => {});
      await cleanup();
    }
  });

  test(`${name}: text values are stored as UTF-8: read back alike from unsynced writes, disk and after a reopen`, async () => {
    const { kv, cleanup } = await factory();
    let store = await Store.open({ kv, nodeId: 'node_a', now });
    try {
      await store.createTable({ name: 'u' });
      const attrs = { s: 'é ✓ 😀 \u0000 "q" \\', n: 1.5, o: { ключ: ['ü', null] } };
      const write = store.writeLocal([{ table: 'u', ops: [{ kind: 'put', key: 'ü1', attrs }] }]);
      // A transaction queued behind the write reads it from memory (prepared, perhaps not yet on disk).
      const seen = await store.transact(async (tx) => store.readState(tx, 'data.u', 'ü1'));
      await write;
      assert.deepEqual(Object.fromEntries(Object.entries(seen!.attrs).map(([k, v]) => [k, v.value])), attrs);
      assert.deepEqual(strip(await store.get('u', 'ü1')), { id: 'ü1', ...attrs });
      const encoded = encodeState((await store.getState('u', 'ü1'))!);
      await store.close();
      store = await Store.open({ kv, nodeId: 'node_a', now });
      assert.equal(encodeState((await store.getState('u', 'ü1'))!), encoded);
      assert.deepEqual(strip(await store.get('u', 'ü1')), { id: 'ü1', ...attrs });
      const [change] = (await store.readChanges('u', 0)).changes;
      assert.deepEqual(strip(change!.record ?? undefined), { id: 'ü1', ...attrs });
    } finally {
      await store.close().catch(() => {});
      await cleanup();
    }
  });
}
