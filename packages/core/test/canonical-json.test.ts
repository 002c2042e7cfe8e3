import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from '../src/canonical-json.js';
import { isTmError } from '../src/errors.js';
import type { JsonValue } from '../src/types.js';

describe('canonicalJson (RFC 8785)', () => {
  it('serializes the RFC 8785 §3.2.2 example byte for byte', () => {
    const input = JSON.parse(
      '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],' +
        '"string":"\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/","literals":[null,true,false]}',
    ) as JsonValue;
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input: JsonValue = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    const out = canonicalJson(input);
    const order = Object.values(JSON.parse(out) as Record<string, string>);
    // JSON.parse puts the integer-like key "1" first; check the text order instead.
    const textOrder = [...out.matchAll(/:"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(textOrder, [
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ]);
    assert.equal(order.length, 7);
    // The emoji (U+D83D…) sorts before U+FB33 by code unit although its code point is larger.
    assert.ok(out.indexOf('\ud83d\ude00') < out.indexOf('\ufb33'));
    assert.ok(out.startsWith('{"\\r":"Carriage Return","1":"One","\u0080":"Control"'));
  });

  it('prints numbers in ECMAScript shortest form', () => {
    const cases: [number, string][] = [
      [1e21, '1e+21'],
      [1e20, '100000000000000000000'],
      [1e-7, '1e-7'],
      [1e-6, '0.000001'],
      [-0, '0'],
      [0, '0'],
      [-1.5, '-1.5'],
      [9007199254740991, '9007199254740991'],
      [5e-324, '5e-324'],
      [1.7976931348623157e308, '1.7976931348623157e+308'],
      [0.1 + 0.2, '0.30000000000000004'],
    ];
    for (const [n, text] of cases) assert.equal(canonicalJson(n), text, `number ${n}`);
    assert.equal(canonicalJson([-0, { a: -0 }]), '[0,{"a":0}]');
  });

  it('escapes strings as JSON.stringify does and adds no whitespace', () => {
    assert.equal(canonicalJson('a\u0000b\u001fc\t"\\'), '"a\\u0000b\\u001fc\\t\\"\\\\"');
    assert.equal(canonicalJson('é€😀'), '"é€😀"');
    assert.equal(
      canonicalJson({ b: [1, { d: null, c: true }], a: 'x' }),
      '{"a":"x","b":[1,{"c":true,"d":null}]}',
    );
    assert.equal(canonicalJson({}), '{}');
    assert.equal(canonicalJson([]), '[]');
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson(false), 'false');
  });

  it('is independent of key insertion order', () => {
    assert.equal(canonicalJson({ z: 1, a: { y: 2, b: 3 } }), canonicalJson({ a: { b: 3, y: 2 }, z: 1 }));
  });

  it('refuses non-JSON input with TM_INVALID_VALUE', () => {
    const bad: unknown[] = [
      undefined,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      () => 1,
      10n,
      Symbol('s'),
      { a: undefined },
      [1, undefined],
      new Date(0),
      new Map(),
    ];
    for (const v of bad) {
      assert.throws(
        () => canonicalJson(v as JsonValue),
        (err) => isTmError(err, 'TM_INVALID_VALUE'),
        `value ${String(typeof v)}`,
      );
    }
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    assert.throws(
      () => canonicalJson(cyclic as JsonValue),
      (err) => isTmError(err, 'TM_INVALID_VALUE'),
    );
    // A shared (non-cyclic) reference is fine.
    const shared = { n: 1 };
    assert.equal(canonicalJson({ a: shared, b: shared }), '{"a":{"n":1},"b":{"n":1}}');
  });

  it('names the path of the bad value', () => {
    assert.throws(
      () => canonicalJson({ a: [1, { b: Number.NaN }] } as JsonValue),
      (err) => isTmError(err, 'TM_INVALID_VALUE') && err.details?.['path'] === '$.a[1].b',
    );
  });
});

describe('canonicalJson numbers on the fast path', () => {
  it('writes every finite number as JSON.stringify does (shortest form, exponents, -0)', () => {
    const samples = [
      0,
      -0,
      1,
      -1,
      0.1,
      1e21,
      1e-7,
      5e-324,
      Number.MAX_VALUE,
      -Number.MIN_VALUE,
      2 ** 53 - 1,
      123.456e30,
    ];
    for (let i = 0; i < 2_000; i++)
      samples.push((Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 20));
    for (const n of samples) {
      assert.equal(canonicalJson(n), JSON.stringify(n), `number ${n}`);
      assert.equal(canonicalJson({ a: [n] }), `{"a":[${JSON.stringify(n)}]}`);
    }
  });
});
