import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeFeedMessage,
  decodeFeedMessageReference,
  encodeFeedMessage,
  encodeHeadHeartbeat,
} from '../src/codec/feed.js';
import type { WireTransactionBatch } from '../src/codec/messages.js';
import {
  decodeTransactionBatch,
  decodeTransactionBatchReference,
  encodeTransactionBatch,
} from '../src/codec/publish.js';
import { readFeedBatchMessage, readTransactionBatch } from '../src/codec/tx-reader.js';
import { isTmError } from '../src/errors.js';
import { plain, skipArb, text, txArb } from './codec-arbitraries.js';

// The direct reader (tx-reader.ts) only accepts: for any bytes, the decoders answer what protobufjs answers
// (value or TM_BAD_MESSAGE with the same text), and well-formed messages take the direct path.

const batchArb = fc.record(
  {
    origin: text(10, 1),
    table: fc.constant('db.t'),
    epoch: text(10, 1),
    primaryKey: text(6, 1),
    txs: fc.array(txArb, { maxLength: 4 }),
    skips: fc.array(skipArb, { maxLength: 2 }),
  },
  plain,
);
const feedArb = fc.record(
  {
    table: fc.constant('db.t'),
    hubEpoch: text(10, 1),
    incarnation: text(10, 1),
    entries: fc.array(
      fc.record({ hubSeq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), tx: txArb }, plain),
      { maxLength: 3 },
    ),
  },
  plain,
);

/** A decoder's answer: the value, or the code and text of its refusal. */
function answer(decode: () => unknown): unknown {
  try {
    return { value: decode() };
  } catch (err) {
    if (!isTmError(err)) throw err;
    return { refused: err.code, message: err.message };
  }
}

/** Mutations of valid bytes: a flipped byte, a truncation, an inserted byte. */
const mutated = (bytes: Uint8Array) =>
  fc.oneof(
    fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 0, max: 255 })).map(([at, b]) => {
      const copy = Buffer.from(bytes);
      copy[at] = b;
      return copy;
    }),
    fc.nat(bytes.length).map((end) => Buffer.from(bytes.subarray(0, end))),
    fc
      .tuple(fc.nat(bytes.length), fc.integer({ min: 0, max: 255 }))
      .map(([at, b]) => Buffer.concat([bytes.subarray(0, at), Buffer.from([b]), bytes.subarray(at)])),
  );

const both = <T>(arb: fc.Arbitrary<T>, encode: (v: T) => Uint8Array) =>
  arb.chain((v) => {
    const bytes = Buffer.from(encode(v));
    return fc.tuple(fc.constant(bytes), bytes.length > 0 ? mutated(bytes) : fc.constant(bytes));
  });

describe('direct protobuf reader (tx-reader.ts)', () => {
  it('decodes any TransactionBatch, and any mutation of one, as protobufjs does', () => {
    let direct = 0;
    fc.assert(
      fc.property(both(batchArb, encodeTransactionBatch), ([bytes, bent]) => {
        if (readTransactionBatch(bytes) !== undefined) direct++;
        assert.deepStrictEqual(
          answer(() => decodeTransactionBatch(bytes)),
          answer(() => decodeTransactionBatchReference(bytes)),
        );
        assert.deepStrictEqual(
          answer(() => decodeTransactionBatch(bent)),
          answer(() => decodeTransactionBatchReference(bent)),
        );
      }),
      { numRuns: 800 },
    );
    assert.ok(direct > 400, `only ${direct} of 800 well-formed batches took the direct path`);
  });

  it('decodes any live FeedMessage, and any mutation of one, as protobufjs does', () => {
    let direct = 0;
    fc.assert(
      fc.property(
        both(feedArb, (batch) => encodeFeedMessage({ kind: 'batch', batch })),
        ([bytes, bent]) => {
          if (readFeedBatchMessage(bytes) !== undefined) direct++;
          assert.deepStrictEqual(
            answer(() => decodeFeedMessage(bytes)),
            answer(() => decodeFeedMessageReference(bytes)),
          );
          assert.deepStrictEqual(
            answer(() => decodeFeedMessage(bent)),
            answer(() => decodeFeedMessageReference(bent)),
          );
        },
      ),
      { numRuns: 800 },
    );
    assert.ok(direct > 400, `only ${direct} of 800 well-formed feed batches took the direct path`);
  });

  it('answers as protobufjs for random bytes, heartbeats and hostile attribute bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (raw) => {
        const bytes = Buffer.from(raw);
        assert.deepStrictEqual(
          answer(() => decodeTransactionBatch(bytes)),
          answer(() => decodeTransactionBatchReference(bytes)),
        );
        assert.deepStrictEqual(
          answer(() => decodeFeedMessage(bytes)),
          answer(() => decodeFeedMessageReference(bytes)),
        );
      }),
      { numRuns: 2000 },
    );
    const beat = { table: 'db.t', hubEpoch: 'h', incarnation: 'i', headSeq: 3, hubTimeMs: 9 };
    const heartbeat = Buffer.from(encodeFeedMessage({ kind: 'heartbeat', heartbeat: beat }));
    assert.deepStrictEqual(decodeFeedMessage(heartbeat), { kind: 'heartbeat', heartbeat: beat });
    assert.ok(encodeHeadHeartbeat(beat).length > 0);
    // Attribute JSON bytes patched in place (same length, so every enclosing length stays right).
    const batchWith = (value: string) =>
      Buffer.from(
        encodeTransactionBatch({
          origin: 'n',
          table: 'db.t',
          epoch: 'e',
          primaryKey: 'id',
          txs: [
            {
              table: 'db.t',
              stamp: { wall: 5, counter: 1, node: 'n', epoch: 'e' },
              seq: 1,
              ops: [{ kind: 'put', key: 'k', attrs: { a: value } }],
            },
          ],
          skips: [],
        }),
      );
    const cases: [string, number[], unknown][] = [
      ['a BOM, which TextDecoder strips', [0xef, 0xbb, 0xbf, 0x31], 1],
      ['a CESU surrogate (invalid UTF-8)', [0x22, 0xed, 0xa0, 0x80, 0x22], undefined],
      ['a latin-1 byte (invalid UTF-8)', [0x22, 0xe9, 0x22], undefined],
      ['two-byte UTF-8', [0x22, 0xc3, 0xa9, 0x22], 'é'],
    ];
    for (const [name, swap, expected] of cases) {
      const placeholder = '@'.repeat(swap.length - 2);
      const bytes = batchWith(placeholder);
      const at = bytes.indexOf(Buffer.from(`"${placeholder}"`));
      Buffer.from(swap).copy(bytes, at);
      const got = answer(() => decodeTransactionBatch(bytes));
      assert.deepStrictEqual(
        got,
        answer(() => decodeTransactionBatchReference(bytes)),
        name,
      );
      if (expected === undefined) assert.equal((got as { refused?: string }).refused, 'TM_BAD_MESSAGE', name);
      else {
        const op = (got as { value: WireTransactionBatch }).value.txs[0]!.ops[0] as unknown as {
          attrs: { a: unknown };
        };
        assert.equal(op.attrs.a, expected, name);
      }
    }
  });
});
