// Storage key encoding (store/keys.ts): byte order of encoded keys equals tuple order, decoding inverts encoding,
// and the write path's shortcuts (ASCII strings, numbers without a Buffer) produce exactly the general encoding.
// Replay a failure with the seed fast-check prints.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeKey, encodeKey, encodePart, type KeyPart } from '../src/store/keys.js';

/** The encoding written out the long way (UTF-8 via Buffer, numbers via Buffer): the oracle of the shortcuts. */
function referencePart(part: KeyPart): string {
  if (part === null) return '\x05';
  if (part === false) return '\x06';
  if (part === true) return '\x07';
  if (typeof part === 'number') {
    const buf = Buffer.alloc(8);
    buf.writeDoubleBE(part === 0 ? 0 : part);
    if (buf[0]! & 0x80) for (let i = 0; i < 8; i++) buf[i] = ~buf[i]! & 0xff;
    else buf[0] = buf[0]! | 0x80;
    return `\x10${buf.toString('latin1')}`;
  }
  const [tag, text] = typeof part === 'string' ? ['\x20', part] : ['\x30', part.json];
  return `${tag}${Buffer.from(text, 'utf8').toString('latin1').replaceAll('\x00', '\x00\xff')}\x00`;
}

const numberArb = fc.double({ noNaN: true, noDefaultInfinity: true });
const stringArb = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', '\x00', 'a\x00b', '\x7f'),
);
const partArb: fc.Arbitrary<KeyPart> = fc.oneof(
  fc.constantFrom<KeyPart>(null, false, true),
  numberArb,
  stringArb,
  stringArb.map((json) => ({ json })),
);

/** Tuple order of SPEC storage keys: null < false < true < numbers < strings (UTF-8 bytes) < JSON. */
function rank(p: KeyPart): number {
  if (p === null) return 0;
  if (p === false) return 1;
  if (p === true) return 2;
  if (typeof p === 'number') return 3;
  return typeof p === 'string' ? 4 : 5;
}

function comparePart(a: KeyPart, b: KeyPart): number {
  const r = rank(a) - rank(b);
  if (r !== 0) return Math.sign(r);
  if (typeof a === 'number' && typeof b === 'number') return a === b ? 0 : a < b ? -1 : 1;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a), Buffer.from(b));
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    return Buffer.compare(Buffer.from(a.json), Buffer.from(b.json));
  }
  return 0;
}

function compareTuple(a: readonly KeyPart[], b: readonly KeyPart[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = comparePart(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return Math.sign(a.length - b.length);
}

const byteOrder = (a: string, b: string): number => (a === b ? 0 : a < b ? -1 : 1);

describe('storage keys', () => {
  it('every part encodes to the same bytes as the reference encoding (ASCII and number shortcuts)', () => {
    fc.assert(
      fc.property(partArb, (part) => {
        assert.equal(encodePart(part), referencePart(part));
      }),
      { numRuns: 2000 },
    );
    for (const n of [0, -0, 1, -1, 2 ** 53, -(2 ** 53), Number.MIN_VALUE, -Number.MAX_VALUE, 0.1]) {
      assert.equal(encodePart(n), referencePart(n), String(n));
    }
  });

  it('byte order of encoded tuples equals tuple order', () => {
    const tupleArb = fc.array(partArb, { maxLength: 4 });
    fc.assert(
      fc.property(tupleArb, tupleArb, (a, b) => {
        assert.equal(byteOrder(encodeKey(a), encodeKey(b)), compareTuple(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('decodeKey inverts encodeKey (-0 decodes as 0)', () => {
    fc.assert(
      fc.property(fc.array(partArb, { maxLength: 5 }), (tuple) => {
        const expected = tuple.map((p) => (Object.is(p, -0) ? 0 : p));
        assert.deepEqual(decodeKey(encodeKey(tuple)), expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses non-finite numbers and malformed keys with typed errors', () => {
    assert.throws(() => encodePart(Number.NaN), { code: 'TM_INVALID_VALUE' });
    assert.throws(() => encodePart(Number.POSITIVE_INFINITY), { code: 'TM_INVALID_VALUE' });
    assert.throws(() => decodeKey('\x10\x01\x02'), { code: 'TM_INVALID_ARGUMENT' });
    assert.throws(() => decodeKey('\x20abc'), { code: 'TM_INVALID_ARGUMENT' });
    assert.throws(() => decodeKey('\x99'), { code: 'TM_INVALID_ARGUMENT' });
  });
});
