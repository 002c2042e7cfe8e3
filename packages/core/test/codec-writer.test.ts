import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { encodeFeedMessage, encodeFeedMessageReference } from '../src/codec/feed.js';
import { encodeTransactionBatch, encodeTransactionBatchReference } from '../src/codec/publish.js';
import { isTmError } from '../src/errors.js';
import type { JsonValue, Op, Transaction } from '../src/types.js';
import { plain, skipArb, text, txArb } from './codec-arbitraries.js';

// The direct writer (tx-writer.ts) must write exactly the bytes protobufjs writes for the same message, and
// refuse exactly what it refuses, with the same code.

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
