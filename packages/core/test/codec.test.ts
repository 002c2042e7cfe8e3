import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs/light.js';
import { descriptor } from '../src/codec/generated/descriptor.js';
import * as codec from '../src/codec/index.js';
import { isTmError } from '../src/errors.js';
import type { Transaction } from '../src/types.js';

const FIXTURES = join(import.meta.dirname, '../../../proto/fixtures');
const root = protobuf.Root.fromJSON(descriptor);

type Encoder = (msg: unknown) => Uint8Array;
type Decoder = (bytes: Uint8Array) => unknown;
const fns = codec as unknown as Record<string, Encoder & Decoder>;

/** `transaction-batch` → `TransactionBatch` */
const pascal = (name: string) => name.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());

/** Encodes a raw wire object with protobufjs, bypassing the codec's checks, to craft bad messages. */
function raw(type: string, obj: Record<string, unknown>): Uint8Array {
  return root.lookupType(`tablemesh.v1.${type}`).encode(obj).finish();
}

function assertBadMessage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTmError(err, 'TM_BAD_MESSAGE'), `expected TM_BAD_MESSAGE, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

const STAMP = { hlc: { wall: 1_000, counter: 2 }, node: 'n1', epoch: 'e1' };
const tx: Transaction = {
  table: 'db.t',
  stamp: { wall: 1_000, counter: 2, node: 'n1', epoch: 'e1' },
  seq: 1,
  ops: [{ kind: 'put', key: 'k', attrs: { a: 1 } }],
};

describe('codec golden fixtures (SPEC §6: tested in both directions)', () => {
  const names = readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();

  it('covers every top-level message of the proto package', () => {
    const ns = root.lookup('tablemesh.v1') as protobuf.Namespace;
    const topLevel = ns.nestedArray
      .filter((n): n is protobuf.Type => n instanceof protobuf.Type && 'protocolVersion' in n.fields)
      .map((t) => t.name.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c : `-${c}`)).toLowerCase())
      .sort();
    assert.deepEqual(names, topLevel);
  });

  for (const name of names) {
    const json = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as unknown;
    const bin = readFileSync(join(FIXTURES, `${name}.bin`));
    const encode = fns[`encode${pascal(name)}`];
    const decode = fns[`decode${pascal(name)}`];

    it(`${name}: encode(json) gives the golden bytes`, () => {
      assert.ok(encode, `codec has no encode${pascal(name)}`);
      assert.equal(Buffer.from(encode(json)).toString('hex'), bin.toString('hex'));
    });

    it(`${name}: decode(bin) gives the golden object`, () => {
      assert.ok(decode, `codec has no decode${pascal(name)}`);
      assert.deepStrictEqual(decode(new Uint8Array(bin)), json);
    });
  }
});

describe('codec: decoding refuses unusable bytes with TM_BAD_MESSAGE', () => {
  it('refuses truncated bytes, naming the message', () => {
    const bytes = codec.encodeTransaction(tx);
    assertBadMessage(
      () => codec.decodeTransaction(bytes.subarray(0, bytes.length - 3)),
      /cannot decode Transaction/,
    );
  });

  it('refuses a missing or other protocol major version', () => {
    assertBadMessage(
      () => codec.decodeTransaction(raw('Transaction', { table: 'db.t', stamp: STAMP, seq: 1 })),
      /version 0/,
    );
    const v2 = raw('Transaction', { protocolVersion: 2, table: 'db.t', stamp: STAMP, seq: 1 });
    assertBadMessage(() => codec.decodeTransaction(v2), /protocol version 2, this node speaks 1/);
  });

  it('refuses a transaction without a stamp, an hlc, a node or a seq', () => {
    const base = { protocolVersion: 1, table: 'db.t', seq: 1 };
    assertBadMessage(
      () => codec.decodeTransaction(raw('Transaction', base)),
      /Transaction\.stamp is missing/,
    );
    const noHlc = { ...base, stamp: { node: 'n1', epoch: 'e1' } };
    assertBadMessage(() => codec.decodeTransaction(raw('Transaction', noHlc)), /stamp\.hlc is missing/);
    const noNode = { ...base, stamp: { ...STAMP, node: '' } };
    assertBadMessage(() => codec.decodeTransaction(raw('Transaction', noNode)), /stamp\.node is missing/);
    const noSeq = { ...base, seq: 0, stamp: STAMP };
    assertBadMessage(() => codec.decodeTransaction(raw('Transaction', noSeq)), /seq is missing/);
  });

  it('refuses uint64 values of 2^53 and above, accepts 2^53 - 1', () => {
    const at = (wall: number | { low: number; high: number; unsigned: boolean }) =>
      raw('Transaction', { protocolVersion: 1, table: 'db.t', seq: 1, stamp: { ...STAMP, hlc: { wall } } });
    const max = codec.decodeTransaction(at(Number.MAX_SAFE_INTEGER));
    assert.equal(max.stamp.wall, Number.MAX_SAFE_INTEGER);
    assertBadMessage(() => codec.decodeTransaction(at({ low: 0, high: 0x20_0000, unsigned: true })), /2\^53/);
    assertBadMessage(
      () => codec.decodeTransaction(at({ low: -1, high: -1, unsigned: true })),
      /wall is ≥ 2\^53/,
    );
  });

  it('refuses invalid JSON, invalid UTF-8 and overflowing numbers in attribute bytes', () => {
    const withJson = (json: Uint8Array) =>
      raw('Transaction', {
        protocolVersion: 1,
        table: 'db.t',
        seq: 1,
        stamp: STAMP,
        ops: [{ kind: 0, key: { str: 'k' }, attrs: [{ name: 'a', json }] }],
      });
    const text = (s: string) => new TextEncoder().encode(s);
    assertBadMessage(() => codec.decodeTransaction(withJson(text('{"x":'))), /attrs\["a"\]: not UTF-8 JSON/);
    assertBadMessage(() => codec.decodeTransaction(withJson(new Uint8Array())), /not UTF-8 JSON/);
    assertBadMessage(
      () => codec.decodeTransaction(withJson(new Uint8Array([0x22, 0xff, 0x22]))),
      /not UTF-8 JSON/,
    );
    assertBadMessage(() => codec.decodeTransaction(withJson(text('[1e400]'))), /number out of range/);
  });

  it('refuses a key with no member, a delete with attributes, an unknown op kind, a repeated attribute', () => {
    const op = (o: Record<string, unknown>) =>
      raw('Transaction', { protocolVersion: 1, table: 'db.t', seq: 1, stamp: STAMP, ops: [o] });
    const json = new TextEncoder().encode('1');
    assertBadMessage(() => codec.decodeTransaction(op({ kind: 0, key: {} })), /key has neither/);
    assertBadMessage(() => codec.decodeTransaction(op({ kind: 0 })), /ops\[0\]\.key is missing/);
    const del = { kind: 2, key: { num: 1 }, attrs: [{ name: 'a', json }] };
    assertBadMessage(() => codec.decodeTransaction(op(del)), /a delete carries 1 attributes/);
    assertBadMessage(() => codec.decodeTransaction(op({ kind: 7, key: { num: 1 } })), /kind 7 is unknown/);
    const twice = {
      kind: 1,
      key: { num: 1 },
      attrs: [
        { name: 'a', json },
        { name: 'a', json },
      ],
    };
    assertBadMessage(() => codec.decodeTransaction(op(twice)), /"a" appears twice/);
  });

  it("refuses a batch transaction of another table than the batch's", () => {
    const bytes = raw('TransactionBatch', {
      protocolVersion: 1,
      origin: 'n1',
      table: 'db.t',
      epoch: 'e1',
      primaryKey: 'id',
      txs: [{ table: 'db.other', stamp: STAMP, seq: 1 }],
    });
    assertBadMessage(
      () => codec.decodeTransactionBatch(bytes),
      /txs\[0\]\.table is db\.other, not the enclosing db\.t/,
    );
  });

  it('refuses an envelope without a body, and a page without a table definition', () => {
    assertBadMessage(() => codec.decodeSyncMessage(raw('SyncMessage', { protocolVersion: 1 })), /no body/);
    const page = raw('CatchupMessage', { protocolVersion: 1, catchupPage: { hubEpoch: 'h' } });
    assertBadMessage(() => codec.decodeCatchupMessage(page), /catchupPage\.def is missing/);
  });

  it('refuses a non-Uint8Array argument', () => {
    assertBadMessage(() => codec.decodeReceipt('abc' as unknown as Uint8Array), /expected bytes, got string/);
  });
});

describe('codec: values and keys', () => {
  it('keeps "1" and 1 apart and writes -0 as 0', () => {
    const ops = [
      { kind: 'delete', key: '1' },
      { kind: 'delete', key: 1 },
      { kind: 'delete', key: -0 },
    ] as const;
    const back = codec.decodeTransaction(codec.encodeTransaction({ ...tx, ops }));
    assert.deepStrictEqual(
      back.ops.map((o) => o.key),
      ['1', 1, 0],
    );
    assert.ok(Object.is(back.ops[2]?.key, 0));
  });

  it('round-trips numbers exactly', () => {
    const values = [0.1, -1.5e-7, 2 ** 53 - 1, -(2 ** 53 - 1), 5e-324, 1.7976931348623157e308, 123456.789];
    const back = codec.decodeTransaction(
      codec.encodeTransaction({ ...tx, ops: [{ kind: 'put', key: 'k', attrs: { v: values } }] }),
    );
    const op = back.ops[0];
    assert.ok(op && op.kind === 'put');
    assert.deepStrictEqual(op.attrs['v'], values);
  });

  it('writes attributes sorted by name, so insertion order does not change the bytes', () => {
    const a = codec.encodeTransaction({ ...tx, ops: [{ kind: 'patch', key: 1, attrs: { b: 1, a: 2 } }] });
    const b = codec.encodeTransaction({ ...tx, ops: [{ kind: 'patch', key: 1, attrs: { a: 2, b: 1 } }] });
    assert.deepEqual(a, b);
  });

  it('decodes an attribute named __proto__ as an own property, not a prototype', () => {
    const bytes = raw('Transaction', {
      protocolVersion: 1,
      table: 'db.t',
      seq: 1,
      stamp: STAMP,
      ops: [
        {
          kind: 1,
          key: { str: 'k' },
          attrs: [{ name: '__proto__', json: new TextEncoder().encode('{"x":1}') }],
        },
      ],
    });
    const op = codec.decodeTransaction(bytes).ops[0];
    assert.ok(op && op.kind === 'patch');
    assert.deepEqual(Object.keys(op.attrs), ['__proto__']);
    assert.equal(Object.getPrototypeOf(op.attrs), Object.prototype);
    assert.equal((op.attrs as Record<string, unknown>)['x'], undefined);
  });

  it('ignores unknown fields (SPEC §6)', () => {
    const known = codec.encodePresence({ node: 'n1', online: true, version: '1', sinceMs: 5 });
    const unknown = new Uint8Array([...known, 0xa0, 0x06, 0x01]); // field 100, varint 1
    assert.deepStrictEqual(codec.decodePresence(unknown), {
      node: 'n1',
      online: true,
      version: '1',
      sinceMs: 5,
    });
  });
});

describe('codec: encoding refuses what the wire cannot carry', () => {
  const refuses = (fn: () => unknown, code: string, pattern: RegExp) =>
    assert.throws(fn, (err: unknown) => isTmError(err) && err.code === code && pattern.test(err.message));

  it('refuses NaN, Infinity and non-JSON values with TM_INVALID_VALUE', () => {
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, [1, Number.NEGATIVE_INFINITY]]) {
      const bad = { ...tx, ops: [{ kind: 'put', key: 'k', attrs: { v } }] } as unknown as Transaction;
      refuses(() => codec.encodeTransaction(bad), 'TM_INVALID_VALUE', /ops\[0\]\.attrs\["v"\]/);
    }
    const big = { ...tx, ops: [{ kind: 'put', key: 'k', attrs: { v: 10n } }] } as unknown as Transaction;
    refuses(() => codec.encodeTransaction(big), 'TM_INVALID_VALUE', /BigInt/);
  });

  it('refuses non-finite keys with TM_INVALID_KEY', () => {
    const bad: Transaction = { ...tx, ops: [{ kind: 'delete', key: Number.NaN }] };
    refuses(() => codec.encodeTransaction(bad), 'TM_INVALID_KEY', /ops\[0\]\.key/);
  });

  it('refuses unsafe integers, seq 0 and a foreign table in a batch with TM_INVALID_ARGUMENT', () => {
    const wall = { ...tx, stamp: { ...tx.stamp, wall: 2 ** 53 } };
    refuses(() => codec.encodeTransaction(wall), 'TM_INVALID_ARGUMENT', /stamp\.wall must be an integer/);
    refuses(() => codec.encodeTransaction({ ...tx, seq: 0 }), 'TM_INVALID_ARGUMENT', /seq must be ≥ 1/);
    const counter = { ...tx, stamp: { ...tx.stamp, counter: 2 ** 32 } };
    refuses(() => codec.encodeTransaction(counter), 'TM_INVALID_ARGUMENT', /counter/);
    const batch = { origin: 'n1', table: 'db.u', epoch: 'e1', primaryKey: 'id', txs: [tx], skips: [] };
    refuses(() => codec.encodeTransactionBatch(batch), 'TM_INVALID_ARGUMENT', /not the enclosing db\.u/);
  });

  it('refuses a receipt error kind without a code', () => {
    const receipt: codec.WireReceipt = {
      table: 'db.t',
      epoch: 'e1',
      appliedThrough: 3,
      errors: [],
      errorKind: 'gap',
      code: '',
      message: '',
      resumeFrom: 4,
      retryAfterMs: 0,
      hubEpoch: 'h',
    };
    refuses(() => codec.encodeReceipt(receipt), 'TM_INVALID_ARGUMENT', /code is missing for gap/);
    const ok = codec.decodeReceipt(codec.encodeReceipt({ ...receipt, code: 'TM_GAP' }));
    assert.deepStrictEqual(ok, { ...receipt, code: 'TM_GAP' });
  });
});
