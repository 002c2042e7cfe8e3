import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFeedMessage, encodeFeedMessageReference } from '../src/codec/feed.js';
import { encodeTransactionBatch, encodeTransactionBatchReference } from '../src/codec/publish.js';
import { isTmError } from '../src/errors.js';
import type { JsonValue, Op, PrimaryKey, Stamp, Transaction } from '../src/types.js';

// The direct writer (tx-writer.ts) must write exactly the bytes protobufjs writes for the same message, and
// refuse exactly what it refuses, with the same code.

const plain = { noNullPrototype: true } as const;
const text = (max: number, min = 0) => fc.string({ minLength: min, maxLength: max, unit: 'binary' });
const stampArb: fc.Arbitrary<Stamp> = fc.record(
  {
    wall: fc.oneof(fc.constant(0), fc.maxSafeNat()),
    counter: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff })),
    node: text(12, 1),
    epoch: text(12, 1),
  },
  plain,
);
const keyArb: fc.Arbitrary<PrimaryKey> = fc.oneof(
  text(20),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.maxSafeInteger(),
  fc.constant(-0),
);
const attrsArb = fc.dictionary(text(10), fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>, {
  maxKeys: 6,
  ...plain,
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key: keyArb, attrs: attrsArb }, plain),
  fc.record({ kind: fc.constant('patch' as const), key: keyArb, attrs: attrsArb }, plain),
  fc.record({ kind: fc.constant('delete' as const), key: keyArb }, plain),
);
const txArb: fc.Arbitrary<Transaction> = fc.record(
  {
    table: fc.constant('db.t'),
    stamp: stampArb,
    seq: fc.oneof(
      fc.integer({ min: 1, max: 200 }),
      fc.maxSafeInteger().filter((n) => n >= 1),
    ),
    ops: fc.array(opArb, { maxLength: 6 }),
  },
  plain,
);
const skipArb = fc.record(
  {
    epoch: text(8, 1),
    fromSeq: fc.integer({ min: 1, max: 1000 }),
    toSeq: fc.integer({ min: 1000, max: Number.MAX_SAFE_INTEGER }),
    reason: text(12),
  },
  plain,
);

/** The outcome of an encoder: its bytes as hex, or the code of its refusal. */
function outcome(encode: () => Uint8Array): string {
  try {
    return Buffer.from(encode()).toString('hex');
  } catch (err) {
    if (!isTmError(err)) throw err;
    return `refused ${err.code}`;
  }
}

describe('direct protobuf writer (tx-writer.ts)', () => {
  it('writes the bytes of protobufjs for any TransactionBatch', () => {
    const batchArb = fc.record(
      {
        origin: text(10, 1),
        table: fc.constant('db.t'),
        epoch: text(10, 1),
        primaryKey: text(6, 1),
        txs: fc.array(txArb, { maxLength: 5 }),
        skips: fc.array(skipArb, { maxLength: 2 }),
      },
      plain,
    );
    fc.assert(
      fc.property(batchArb, (batch) => {
        const direct = outcome(() => encodeTransactionBatch(batch));
        assert.ok(!direct.startsWith('refused'), direct);
        assert.equal(
          direct,
          outcome(() => encodeTransactionBatchReference(batch)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('writes the bytes of protobufjs for any live FeedMessage batch', () => {
    const feedArb = fc.record(
      {
        table: fc.constant('db.t'),
        hubEpoch: text(10, 1),
        incarnation: text(10, 1),
        entries: fc.array(
          fc.record({ hubSeq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), tx: txArb }, plain),
          { maxLength: 4 },
        ),
      },
      plain,
    );
    fc.assert(
      fc.property(feedArb, (batch) => {
        const msg = { kind: 'batch' as const, batch };
        assert.equal(
          outcome(() => encodeFeedMessage(msg)),
          outcome(() => encodeFeedMessageReference(msg)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('leaves names and keys with surrogates to protobufjs (it writes a lone one in CESU form)', () => {
    const tx: Transaction = {
      table: 'db.t',
      stamp: { wall: 5, counter: 1, node: 'n', epoch: 'e' },
      seq: 1,
      ops: [{ kind: 'put', key: 'k\uD800', attrs: { 'a\uDC00': 'v\uD800', '😀': 1 } }],
    };
    const batch = { origin: 'n', table: 'db.t', epoch: 'e', primaryKey: 'id', txs: [tx], skips: [] };
    const direct = Buffer.from(encodeTransactionBatch(batch)).toString('hex');
    assert.ok(direct.includes('eda080'), 'the lone surrogate is written in CESU form');
    assert.equal(
      direct,
      outcome(() => encodeTransactionBatchReference(batch)),
    );
  });

  it('refuses what protobufjs refuses, with the same code', () => {
    const good: Transaction = {
      table: 'db.t',
      stamp: { wall: 5, counter: 1, node: 'n', epoch: 'e' },
      seq: 1,
      ops: [{ kind: 'put', key: 'k', attrs: { a: 1 } }],
    };
    const bad: [string, Transaction][] = [
      ['NaN value', { ...good, ops: [{ kind: 'put', key: 'k', attrs: { a: Number.NaN } }] }],
      ['nested Infinity', { ...good, ops: [{ kind: 'put', key: 'k', attrs: { a: [{ b: Infinity }] } }] }],
      ['bigint', { ...good, ops: [{ kind: 'put', key: 'k', attrs: { a: 1n as unknown as JsonValue } }] }],
      ['undefined value', { ...good, ops: [{ kind: 'put', key: 'k', attrs: { a: undefined as never } }] }],
      ['NaN key', { ...good, ops: [{ kind: 'delete', key: Number.NaN }] }],
      ['object key', { ...good, ops: [{ kind: 'delete', key: {} as never }] }],
      ['unknown kind', { ...good, ops: [{ kind: 'upsert', key: 'k', attrs: {} } as unknown as Op] }],
      ['no attrs', { ...good, ops: [{ kind: 'patch', key: 'k' } as unknown as Op] }],
      ['seq 0', { ...good, seq: 0 }],
      ['fractional seq', { ...good, seq: 1.5 }],
      ['other table', { ...good, table: 'db.other' }],
      ['no stamp', { ...good, stamp: undefined as never }],
      ['counter too big', { ...good, stamp: { ...good.stamp, counter: 2 ** 32 } }],
      ['empty node', { ...good, stamp: { ...good.stamp, node: '' } }],
      ['ops not an array', { ...good, ops: 'x' as never }],
    ];
    for (const [name, tx] of bad) {
      const batch = { origin: 'n', table: 'db.t', epoch: 'e', primaryKey: 'id', txs: [tx], skips: [] };
      const direct = outcome(() => encodeTransactionBatch(batch));
      assert.ok(direct.startsWith('refused'), `${name}: not refused`);
      assert.equal(
        direct,
        outcome(() => encodeTransactionBatchReference(batch)),
        name,
      );
    }
    const base = { origin: 'n', table: 'db.t', epoch: 'e', primaryKey: 'id', txs: [good], skips: [] };
    assert.equal(
      outcome(() => encodeTransactionBatch({ ...base, origin: '' })),
      'refused TM_INVALID_ARGUMENT',
    );
    const skips = [{ epoch: 'e', fromSeq: 5, toSeq: 4, reason: 'ttl' }];
    assert.equal(
      outcome(() => encodeTransactionBatch({ ...base, skips })),
      'refused TM_INVALID_ARGUMENT',
    );
  });
});
