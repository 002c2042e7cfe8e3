import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../src/canonical-json.js';
import { isTmError, type TmError } from '../src/errors.js';
import type { JsonValue } from '../src/types.js';
import {
  assertAttributeName,
  assertJsonValue,
  assertName,
  assertPrimaryKey,
  assertRecordSize,
  NAME_RE,
  parseTableRef,
  recordBytes,
  validateRecordAttrs,
} from '../src/validate.js';

function throwsCode(fn: () => unknown, code: TmError['code'], check?: (err: TmError) => boolean): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTmError(err, code), `expected ${code}, got ${String(err)}`);
    return check === undefined || check(err);
  });
}

describe('assertName', () => {
  it('accepts names of 1–64 [A-Za-z0-9_] not starting with a digit', () => {
    for (const name of ['data', 'sensor_data', '_x', 'A', 'a1', 'x'.repeat(64)]) {
      assert.equal(assertName('table', name), name);
    }
    assert.equal(NAME_RE.source, '^[A-Za-z_][A-Za-z0-9_]{0,63}$');
  });

  it('refuses topic characters, NUL, leading digits, 65 chars, empty and non-strings with TM_INVALID_NAME', () => {
    const bad: unknown[] = [
      'a/b',
      'a+b',
      'a#',
      '$SYS',
      'a\u0000b',
      '1abc',
      'x'.repeat(65),
      '',
      'a.b',
      'a b',
      'é',
      5,
    ];
    for (const name of bad) throwsCode(() => assertName('node', name), 'TM_INVALID_NAME');
  });

  it('names the kind and quotes the bad value safely', () => {
    throwsCode(
      () => assertName('database', 'ev\u0000il'),
      'TM_INVALID_NAME',
      (err) => err.message.includes('database') && err.message.includes('"ev\\u0000il"'),
    );
    throwsCode(
      () => assertName('table', 'x'.repeat(500)),
      'TM_INVALID_NAME',
      (err) => err.message.length < 300,
    );
  });

  it('refuses `__` attribute names even when they match NAME_RE', () => {
    throwsCode(() => assertName('attribute', '__proto__'), 'TM_INVALID_NAME');
    assert.equal(assertName('table', '__proto__'), '__proto__');
  });
});

describe('parseTableRef', () => {
  it('splits database.table', () => {
    assert.deepEqual(parseTableRef('data.sensor_data'), { database: 'data', table: 'sensor_data' });
  });

  it('refuses missing or extra parts and bad names', () => {
    for (const ref of ['data', 'a.b.c', '.t', 'd.', 'd/x.t', 'd.t#', '']) {
      throwsCode(() => parseTableRef(ref), 'TM_INVALID_NAME');
    }
  });
});

describe('assertAttributeName', () => {
  it('accepts any UTF-8 string up to 255 bytes not starting with __', () => {
    for (const name of ['temp', 'with space', 'a/b+#$', '_x', 'x__', 'é'.repeat(127), 'x'.repeat(255), '1']) {
      assert.equal(assertAttributeName(name), name);
    }
  });

  it('refuses __x, empty, >255 bytes, lone surrogates and non-strings', () => {
    for (const name of ['__x', '__createdtime__', '', 'x'.repeat(256), 'é'.repeat(128), '\ud800', 3]) {
      throwsCode(() => assertAttributeName(name), 'TM_INVALID_NAME');
    }
  });
});

describe('assertPrimaryKey', () => {
  it('keeps "1" and 1 as different keys', () => {
    assert.equal(assertPrimaryKey('1'), '1');
    assert.equal(assertPrimaryKey(1), 1);
    assert.notEqual(assertPrimaryKey('1'), assertPrimaryKey(1));
  });

  it('accepts safe integers, fractions and strings up to 1024 bytes; -0 becomes 0', () => {
    assert.equal(assertPrimaryKey(2 ** 53 - 1), 2 ** 53 - 1);
    assert.equal(assertPrimaryKey(-(2 ** 53 - 1)), -(2 ** 53 - 1));
    assert.equal(assertPrimaryKey(1.5), 1.5);
    assert.equal(assertPrimaryKey(-0.001), -0.001);
    assert.ok(Object.is(assertPrimaryKey(-0), 0));
    assert.equal(assertPrimaryKey('k'.repeat(1024)), 'k'.repeat(1024));
  });

  it('refuses empty, oversized, non-finite, unsafe integers and other types with TM_INVALID_KEY', () => {
    const bad: unknown[] = [
      '',
      'k'.repeat(1025),
      '€'.repeat(342), // 1026 bytes
      '\udc00',
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      -(2 ** 53),
      1e300,
      null,
      undefined,
      true,
      {},
      [1],
      1n,
    ];
    for (const key of bad) throwsCode(() => assertPrimaryKey(key), 'TM_INVALID_KEY');
  });
});

describe('assertJsonValue', () => {
  it('accepts 2^53-1 and refuses 2^53 naming the path', () => {
    assert.equal(assertJsonValue(2 ** 53 - 1, 'n'), 2 ** 53 - 1);
    assert.equal(assertJsonValue(-(2 ** 53 - 1), 'n'), -(2 ** 53 - 1));
    throwsCode(
      () => assertJsonValue({ deep: [0, 2 ** 53] }, 'reading'),
      'TM_INVALID_VALUE',
      (err) => err.details?.['path'] === 'reading.deep[1]' && err.message.includes('reading.deep[1]'),
    );
    throwsCode(() => assertJsonValue(-(2 ** 53), 'n'), 'TM_INVALID_VALUE');
  });

  it('accepts nested values and null', () => {
    const nested = { a: [1, 'two', null, true, { b: { c: [[], {}] } }], d: 1.25 };
    assert.equal(assertJsonValue(nested, 'x'), nested);
    assert.equal(assertJsonValue(null, 'x'), null);
  });

  it('refuses NaN, Infinity, undefined, functions, symbols, bigint, class instances', () => {
    const bad: unknown[] = [
      Number.NaN,
      Number.NEGATIVE_INFINITY,
      undefined,
      () => 1,
      Symbol('s'),
      1n,
      new Date(0),
      { a: undefined },
      // biome-ignore lint/suspicious/noSparseArray: a hole is undefined, not JSON
      [1, , 3],
      'lone \ud800',
    ];
    for (const v of bad) throwsCode(() => assertJsonValue(v, 'v'), 'TM_INVALID_VALUE');
  });

  it('allows 64 levels of nesting and refuses 65', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    assert.deepEqual(assertJsonValue(nest(64), 'v'), nest(64));
    throwsCode(() => assertJsonValue(nest(65), 'v'), 'TM_INVALID_VALUE');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    throwsCode(() => assertJsonValue(cyclic, 'v'), 'TM_INVALID_VALUE');
  });
});

describe('validateRecordAttrs', () => {
  it('drops derived times and the primary key, keeps nested values', () => {
    const out = validateRecordAttrs(
      { id: 7, __createdtime__: 1, __updatedtime__: 2, temp: 21.5, meta: { tags: ['a'], at: null } },
      'id',
    );
    assert.deepEqual(out, { temp: 21.5, meta: { tags: ['a'], at: null } });
    assert.deepEqual(Object.keys(out), ['temp', 'meta']);
  });

  it('refuses other __ names and bad values, and non-objects', () => {
    throwsCode(() => validateRecordAttrs({ __x: 1 }, 'id'), 'TM_INVALID_NAME');
    throwsCode(
      () => validateRecordAttrs(JSON.parse('{"__proto__":{"polluted":1}}'), 'id'),
      'TM_INVALID_NAME',
    );
    throwsCode(
      () => validateRecordAttrs({ big: 2 ** 60 }, 'id'),
      'TM_INVALID_VALUE',
      (err) => err.details?.['path'] === 'big',
    );
    for (const body of [null, [], 'x', 1, undefined]) {
      throwsCode(() => validateRecordAttrs(body, 'id'), 'TM_INVALID_VALUE');
    }
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});

/** JSON values the validator accepts mostly: doubles within ±1e15 (no integers beyond 2^53), any strings. */
const { json: jsonArb } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e15, max: 1e15 }),
    fc.string({ unit: 'grapheme' }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(fc.string(), tie('json'), { maxKeys: 4 }),
  ),
}));

describe('record size', () => {
  it('measures UTF-8 bytes of the canonical JSON', () => {
    assert.equal(recordBytes({ b: 1, a: 'é' }), Buffer.byteLength('{"a":"é","b":1}'));
    assert.equal(recordBytes({ b: 1, a: 'é' }), 16);
    assert.equal(recordBytes({}), 2);
  });

  it('equals the canonical JSON byte length for any validated record', () => {
    let skipped = 0;
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), jsonArb), (raw) => {
        let attrs: Record<string, JsonValue>;
        try {
          attrs = validateRecordAttrs(raw, 'id');
        } catch {
          skipped++;
          return; // invalid records never reach recordBytes
        }
        assert.equal(recordBytes(attrs), Buffer.byteLength(canonicalJson(attrs), 'utf8'));
      }),
      { numRuns: 1000 },
    );
    assert.ok(
      skipped < 500,
      `${skipped} of 1000 generated records were invalid: the property tested too little`,
    );
  });

  it('accepts a record at the limit and refuses one byte more with TM_RECORD_TOO_LARGE', () => {
    const attrs = { data: 'x'.repeat(100) }; // {"data":"…"} = 11 + 100 bytes
    assert.equal(assertRecordSize(attrs, 111), 111);
    throwsCode(
      () => assertRecordSize(attrs, 110),
      'TM_RECORD_TOO_LARGE',
      (err) => err.details?.['bytes'] === 111 && err.details?.['maxRecordBytes'] === 110,
    );
    throwsCode(() => assertRecordSize({ blob: 'y'.repeat(128 * 1024) }, 128 * 1024), 'TM_RECORD_TOO_LARGE');
  });
});
