import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import * as codec from '../src/codec/index.js';
import { isTmError } from '../src/errors.js';
import type { JsonValue, Op, PrimaryKey, RecordState, Stamp, Transaction } from '../src/types.js';

const FIXTURES = join(import.meta.dirname, '../../../proto/fixtures');

type Decoder = (bytes: Uint8Array) => unknown;
const decoders: [string, Decoder][] = Object.entries(codec)
  .filter(([name]) => name.startsWith('decode'))
  .map(([name, fn]) => [name, fn as Decoder]);

const goldens: [string, Uint8Array][] = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.bin'))
  .sort()
  .map((f) => [f, new Uint8Array(readFileSync(join(FIXTURES, f)))]);

/** Decoding either succeeds or throws TM_BAD_MESSAGE, never anything else (SPEC §7: no process crash). */
function decodesOrRefuses(decode: Decoder, bytes: Uint8Array): void {
  try {
    decode(bytes);
  } catch (err) {
    if (!isTmError(err, 'TM_BAD_MESSAGE')) throw err;
    assert.ok(err.message.length > 10, `unclear message: ${err.message}`);
  }
}

describe('codec properties: hostile bytes', () => {
  it('has a decoder for every top-level message', () => {
    assert.equal(decoders.length, 16);
  });

  it('random bytes decode or throw TM_BAD_MESSAGE', () => {
    fc.assert(
      fc.property(fc.constantFrom(...decoders), fc.uint8Array({ maxLength: 300 }), ([, decode], bytes) =>
        decodesOrRefuses(decode, bytes),
      ),
      { numRuns: 2000 },
    );
  });

  it('every truncation of every golden message throws TM_BAD_MESSAGE or decodes', () => {
    let refused = 0;
    for (const [, bin] of goldens) {
      for (const [, decode] of decoders) {
        for (let end = 0; end < bin.length; end++) {
          try {
            decode(bin.subarray(0, end));
          } catch (err) {
            if (!isTmError(err, 'TM_BAD_MESSAGE')) throw err;
            refused++;
          }
        }
      }
    }
    assert.ok(refused > 1000, `only ${refused} truncations were refused`);
  });

  it('golden messages with random byte changes decode or throw TM_BAD_MESSAGE', () => {
    const mutation = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(
        fc.constantFrom(...goldens),
        fc.constantFrom(...decoders),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        ([, bin], [, decode], changes) => {
          const bytes = bin.slice();
          for (const [at, value] of changes) bytes[at % bytes.length] = value;
          decodesOrRefuses(decode, bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** fast-check makes null-prototype objects by default; decoded messages are plain objects. */
const plain = { noNullPrototype: true } as const;

const stampArb: fc.Arbitrary<Stamp> = fc.record(
  {
    wall: fc.maxSafeNat(),
    counter: fc.integer({ min: 0, max: 0xffff_ffff }),
    node: fc.string({ minLength: 1, maxLength: 12 }),
    epoch: fc.string({ minLength: 1, maxLength: 12 }),
  },
  plain,
);
const keyArb: fc.Arbitrary<PrimaryKey> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.maxSafeInteger(),
);
const attrsArb = fc.dictionary(
  fc.string({ maxLength: 10 }),
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>,
  {
    maxKeys: 5,
    ...plain,
  },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key: keyArb, attrs: attrsArb }, plain),
  fc.record({ kind: fc.constant('patch' as const), key: keyArb, attrs: attrsArb }, plain),
  fc.record({ kind: fc.constant('delete' as const), key: keyArb }, plain),
);
const seqArb = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const txArb = (table: fc.Arbitrary<string>): fc.Arbitrary<Transaction> =>
  fc.record(
    {
      table,
      stamp: stampArb,
      seq: seqArb,
      ops: fc.array(opArb, { maxLength: 6 }),
    },
    plain,
  );

/** What a value looks like after the wire: JSON text and back (only -0 changes, to 0). */
function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The decoded form of a transaction: keys normalised (-0 → 0), values through JSON. */
function expectedTx(tx: Transaction): Transaction {
  return {
    ...tx,
    ops: tx.ops.map((op) => {
      const key = op.key === 0 ? 0 : op.key;
      return op.kind === 'delete' ? { kind: op.kind, key } : { kind: op.kind, key, attrs: viaJson(op.attrs) };
    }),
  };
}

describe('codec properties: round trips', () => {
  it('encode → decode of random transactions gives the transaction back, and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(txArb(fc.string({ minLength: 1, maxLength: 20 })), (tx) => {
        const bytes = codec.encodeTransaction(tx);
        const back = codec.decodeTransaction(bytes);
        assert.deepStrictEqual(back, expectedTx(tx));
        assert.deepEqual(codec.encodeTransaction(back), bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('encode → decode of random batches keeps transactions, their order and skips', () => {
    const batchArb = fc.record(
      {
        origin: fc.string({ minLength: 1 }),
        table: fc.constant('db.t'),
        epoch: fc.string({ minLength: 1 }),
        primaryKey: fc.string({ minLength: 1 }),
        txs: fc.array(txArb(fc.constant('db.t')), { maxLength: 5 }),
        skips: fc.array(
          fc
            .record({ epoch: fc.constant('e'), fromSeq: seqArb, toSeq: seqArb, reason: fc.string() }, plain)
            .map((r) => ({
              ...r,
              fromSeq: Math.min(r.fromSeq, r.toSeq),
              toSeq: Math.max(r.fromSeq, r.toSeq),
            })),
          { maxLength: 3 },
        ),
      },
      plain,
    );
    fc.assert(
      fc.property(batchArb, (batch) => {
        const back = codec.decodeTransactionBatch(codec.encodeTransactionBatch(batch));
        assert.deepStrictEqual(back, { ...batch, txs: batch.txs.map(expectedTx) });
      }),
      { numRuns: 200 },
    );
  });

  it('encode → decode of random snapshot records keeps the full merge state (I4)', () => {
    const stateArb: fc.Arbitrary<RecordState> = fc.record(
      {
        w: fc.record({ stamp: stampArb, kind: fc.constantFrom('put' as const, 'delete' as const) }, plain),
        attrs: fc.dictionary(
          fc.string({ maxLength: 8 }),
          fc.record(
            { value: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>, stamp: stampArb },
            plain,
          ),
          { maxKeys: 4, ...plain },
        ),
      },
      { requiredKeys: ['attrs'], ...plain },
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.string(), state: stateArb }, plain), { maxLength: 5 }),
        (records) => {
          const page: codec.WireSnapshotPage = {
            requestId: 'r',
            def: { table: 'db.t', primaryKey: 'id', indexes: [], incarnation: 'i' },
            hubEpoch: 'h',
            records,
            asOfHubSeq: 7,
            last: true,
            resumeAfter: '',
          };
          const back = codec.decodeSnapshotPage(codec.encodeSnapshotPage(page));
          assert.deepStrictEqual(back, viaJson(page));
        },
      ),
      { numRuns: 200 },
    );
  });
});
