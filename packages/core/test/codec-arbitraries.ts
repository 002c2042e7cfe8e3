// Arbitraries of wire transactions shared by the codec property tests (codec-reader, codec-writer): binary-unit
// strings, every key type (including -0 and doubles), nested JSON values, seqs up to 2^53 − 1.
import fc from 'fast-check';
import type { JsonValue, Op, PrimaryKey, Stamp, Transaction } from '../src/types.js';

export const plain = { noNullPrototype: true } as const;
export const text = (max: number, min = 0) => fc.string({ minLength: min, maxLength: max, unit: 'binary' });
export const stampArb: fc.Arbitrary<Stamp> = fc.record(
  {
    wall: fc.oneof(fc.constant(0), fc.maxSafeNat()),
    counter: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff })),
    node: text(12, 1),
    epoch: text(12, 1),
  },
  plain,
);
export const keyArb: fc.Arbitrary<PrimaryKey> = fc.oneof(
  text(20),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.maxSafeInteger(),
  fc.constant(-0),
);
export const attrsArb = fc.dictionary(text(10), fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<JsonValue>, {
  maxKeys: 6,
  ...plain,
});
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key: keyArb, attrs: attrsArb }, plain),
  fc.record({ kind: fc.constant('patch' as const), key: keyArb, attrs: attrsArb }, plain),
  fc.record({ kind: fc.constant('delete' as const), key: keyArb }, plain),
);
export const txArb: fc.Arbitrary<Transaction> = fc.record(
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
export const skipArb = fc.record(
  {
    epoch: text(8, 1),
    fromSeq: fc.integer({ min: 1, max: 1000 }),
    toSeq: fc.integer({ min: 1000, max: Number.MAX_SAFE_INTEGER }),
    reason: text(12),
  },
  plain,
);
