import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../src/canonical-json.js';
import { isTmError } from '../src/errors.js';
import {
  applyOp,
  decodeState,
  emptyState,
  encodeOpState,
  encodeState,
  foldOps,
  isCollectableTombstone,
  joinStates,
  liveRecord,
  maxStamp,
  putAttrBytes,
  recordExists,
  stateOfOp,
} from '../src/merge.js';
import type { JsonValue, Op, PrimaryKey, RecordState, Stamp } from '../src/types.js';
import { recordBytes } from '../src/validate.js';

const st = (wall: number, node = 'a', counter = 0, epoch = 'e1'): Stamp => ({ wall, counter, node, epoch });
const put = (key: PrimaryKey, attrs: Record<string, JsonValue>): Op => ({ kind: 'put', key, attrs });
const patch = (key: PrimaryKey, attrs: Record<string, JsonValue>): Op => ({ kind: 'patch', key, attrs });
const del = (key: PrimaryKey): Op => ({ kind: 'delete', key });

function applyAll(steps: [Op, Stamp][], from: RecordState = emptyState()): RecordState {
  return steps.reduce((s, [op, stamp]) => applyOp(s, op, stamp), from);
}

describe('I4 examples', () => {
  it('a patch newer than a delete recreates the record with only the patched attributes', () => {
    const s = applyAll([
      [put(1, { a: 1, b: 2 }), st(1000)],
      [del(1), st(2000)],
      [patch(1, { b: 3 }), st(3000)],
    ]);
    assert.deepEqual(s.w, { stamp: st(2000), kind: 'delete' });
    assert.deepEqual(s.attrs, { b: { value: 3, stamp: st(3000) } });
    assert.equal(recordExists(s), true);
    assert.deepEqual(liveRecord(s, 'id', 1), { id: 1, b: 3, __createdtime__: 3000, __updatedtime__: 3000 });
  });

  it('attributes named like Object.prototype members merge like any other (constructor, toString)', () => {
    const s = applyAll([
      [put(1, { constructor: 'c' }), st(1000)],
      [patch(1, { toString: 't' }), st(2000)],
    ]);
    assert.deepEqual(Object.keys(s.attrs), ['constructor', 'toString']);
    assert.deepEqual(liveRecord(s, 'id', 1), {
      id: 1,
      constructor: 'c',
      toString: 't',
      __createdtime__: 1000,
      __updatedtime__: 2000,
    });
  });

  it('an older patch arriving late after a put changes nothing', () => {
    const before = applyAll([[put('k', { a: 1 }), st(2000)]]);
    const after = applyOp(before, patch('k', { a: 9, c: 1 }), st(1000));
    assert.equal(encodeState(after), encodeState(before));
    assert.deepEqual(liveRecord(after, 'id', 'k'), {
      id: 'k',
      a: 1,
      __createdtime__: 2000,
      __updatedtime__: 2000,
    });
  });

  it('an older patch arriving late after a delete changes nothing', () => {
    const before = applyAll([
      [put('k', { a: 1 }), st(500)],
      [del('k'), st(2000)],
    ]);
    const after = applyOp(before, patch('k', { a: 9 }), st(1000));
    assert.equal(encodeState(after), encodeState(before));
    assert.equal(encodeState(after), '{"a":{},"s":[[2000,0,"a","e1"]],"w":["delete",0]}');
    assert.equal(recordExists(after), false);
    assert.equal(liveRecord(after, 'id', 'k'), undefined);
  });

  it('a put replaces every attribute older than it; newer patches survive', () => {
    const s = applyAll([
      [patch(1, { a: 1, b: 2 }), st(1000)],
      [patch(1, { c: 3 }), st(3000)],
      [put(1, { a: 5 }), st(2000)],
    ]);
    assert.deepEqual(s.attrs, { a: { value: 5, stamp: st(2000) }, c: { value: 3, stamp: st(3000) } });
    assert.deepEqual(liveRecord(s, 'id', 1), {
      id: 1,
      a: 5,
      c: 3,
      __createdtime__: 2000,
      __updatedtime__: 3000,
    });
  });

  it('a put with no attributes still makes the record exist; a lone delete does not', () => {
    const p = applyOp(emptyState(), put(1, {}), st(10));
    assert.equal(recordExists(p), true);
    assert.deepEqual(liveRecord(p, 'id', 1), { id: 1, __createdtime__: 10, __updatedtime__: 10 });
    const d = applyOp(emptyState(), del(1), st(10));
    assert.equal(recordExists(d), false);
    assert.equal(recordExists(emptyState()), false);
  });

  it('null is a value, nested objects are replaced whole', () => {
    const s = applyAll([
      [put(1, { o: { x: 1, y: 2 }, n: 1 }), st(1)],
      [patch(1, { o: { x: 3 }, n: null }), st(2)],
    ]);
    assert.deepEqual(liveRecord(s, 'id', 1), {
      id: 1,
      n: null,
      o: { x: 3 },
      __createdtime__: 1,
      __updatedtime__: 2,
    });
  });
});

describe('tie-breaks', () => {
  it('equal HLC: the larger node wins, in either order', () => {
    const x: [Op, Stamp] = [put(1, { v: 'from a' }), st(1000, 'a', 4)];
    const y: [Op, Stamp] = [put(1, { v: 'from b' }), st(1000, 'b', 4)];
    const s1 = applyAll([x, y]);
    const s2 = applyAll([y, x]);
    assert.equal(encodeState(s1), encodeState(s2));
    assert.equal(liveRecord(s1, 'id', 1)?.['v'], 'from b');
    // a delete from 'b' beats a put from 'a' at the same HLC, and vice versa
    const d = applyAll([[del(1), st(1000, 'b', 4)], x]);
    assert.equal(recordExists(d), false);
    const p = applyAll([[del(1), st(1000, 'a', 4)], y]);
    assert.equal(liveRecord(p, 'id', 1)?.['v'], 'from b');
  });

  it('equal HLC and node: the larger epoch wins', () => {
    const old: [Op, Stamp] = [patch(1, { v: 'old epoch' }), st(1000, 'a', 0, 'e1')];
    const fresh: [Op, Stamp] = [patch(1, { v: 'new epoch' }), st(1000, 'a', 0, 'e2')];
    assert.equal(liveRecord(applyAll([old, fresh]), 'id', 1)?.['v'], 'new epoch');
    assert.equal(liveRecord(applyAll([fresh, old]), 'id', 1)?.['v'], 'new epoch');
  });

  it('the counter orders writes within one millisecond', () => {
    const s = applyAll([
      [put(1, { v: 2 }), st(1000, 'a', 2)],
      [put(1, { v: 1 }), st(1000, 'z', 1)],
    ]);
    assert.equal(liveRecord(s, 'id', 1)?.['v'], 2);
  });

  it('identical stamps (impossible from one origin) still join deterministically', () => {
    const s = st(5);
    const a: RecordState = { w: { stamp: s, kind: 'put' }, attrs: { v: { value: 'abc', stamp: s } } };
    const b: RecordState = { w: { stamp: s, kind: 'delete' }, attrs: {} };
    // delete wins an exact W tie, and the put's attributes at that stamp go with it
    assert.equal(encodeState(joinStates(a, b)), encodeState(joinStates(b, a)));
    assert.deepEqual(joinStates(a, b), b);
    const c: RecordState = { attrs: { v: { value: 'abd', stamp: s } } };
    const d: RecordState = { attrs: { v: { value: 'abc', stamp: s } } };
    const n: RecordState = { attrs: { v: { value: 10, stamp: s } } };
    // the larger canonical JSON wins: '"abd"' > '"abc"', and '10' > '"abd"' ('1' is 0x31, '"' is 0x22)
    assert.deepEqual(joinStates(c, d).attrs['v'], { value: 'abd', stamp: s });
    assert.deepEqual(joinStates(d, c).attrs['v'], { value: 'abd', stamp: s });
    assert.deepEqual(joinStates(c, n).attrs['v'], { value: 10, stamp: s });
    assert.deepEqual(joinStates(n, c).attrs['v'], { value: 10, stamp: s });
  });
});

describe('joinStates', () => {
  const s1 = applyAll([[put(1, { a: 1, b: 1 }), st(100, 'a')]]);
  const s2 = applyAll([[patch(1, { b: 2, c: 2 }), st(200, 'b')]]);
  const s3 = applyAll([[del(1), st(150, 'c')]]);

  it('is commutative, associative and idempotent', () => {
    const e = (s: RecordState): string => encodeState(s);
    assert.equal(e(joinStates(s1, s2)), e(joinStates(s2, s1)));
    assert.equal(e(joinStates(joinStates(s1, s2), s3)), e(joinStates(s1, joinStates(s2, s3))));
    assert.equal(e(joinStates(s1, s1)), e(s1));
    assert.equal(e(joinStates(joinStates(s1, s2), s2)), e(joinStates(s1, s2)));
    assert.equal(e(joinStates(emptyState(), s3)), e(s3));
  });

  it('merges full states as a replica would merge the ops', () => {
    const viaState = joinStates(joinStates(s1, s3), s2);
    const viaOps = applyAll([
      [patch(1, { b: 2, c: 2 }), st(200, 'b')],
      [put(1, { a: 1, b: 1 }), st(100, 'a')],
      [del(1), st(150, 'c')],
    ]);
    assert.equal(encodeState(viaState), encodeState(viaOps));
    assert.deepEqual(liveRecord(viaState, 'id', 1), {
      id: 1,
      b: 2,
      c: 2,
      __createdtime__: 200,
      __updatedtime__: 200,
    });
  });

  it('does not mutate its inputs', () => {
    const before = encodeState(s1);
    joinStates(s1, s3);
    applyOp(s1, del(1), st(999));
    assert.equal(encodeState(s1), before);
  });
});

describe('created and updated times (SPEC §3)', () => {
  it('created = W if a put, updated = largest live stamp', () => {
    const s = applyAll([
      [put(1, { a: 1 }), st(1000)],
      [patch(1, { b: 1 }), st(4000)],
      [patch(1, { a: 2 }), st(2500)],
    ]);
    assert.deepEqual(liveRecord(s, 'id', 1), {
      id: 1,
      a: 2,
      b: 1,
      __createdtime__: 1000,
      __updatedtime__: 4000,
    });
  });

  it('without a put W, created = smallest attribute stamp', () => {
    const s = applyAll([
      [patch(1, { a: 1 }), st(3000)],
      [patch(1, { b: 1 }), st(1200)],
      [del(1), st(1000)],
    ]);
    assert.deepEqual(liveRecord(s, 'pk', 1), {
      pk: 1,
      a: 1,
      b: 1,
      __createdtime__: 1200,
      __updatedtime__: 3000,
    });
  });

  it('the primary key attribute comes from the key, typed', () => {
    const s = applyOp(emptyState(), put('1', { x: 0 }), st(7));
    assert.deepEqual(liveRecord(s, 'id', '1'), { id: '1', x: 0, __createdtime__: 7, __updatedtime__: 7 });
    assert.deepEqual(Object.keys(liveRecord(s, 'id', '1')!), [
      'id',
      'x',
      '__createdtime__',
      '__updatedtime__',
    ]);
  });
});

describe('foldOps (SPEC §4: one op per key per transaction)', () => {
  it('put then patch → put of the merged attributes', () => {
    assert.deepEqual(foldOps([put(1, { a: 1, b: 1 }), patch(1, { b: 2, c: 3 })]), [
      put(1, { a: 1, b: 2, c: 3 }),
    ]);
  });

  it('patch then patch → patch of the union, later wins', () => {
    assert.deepEqual(foldOps([patch(1, { a: 1, b: 1 }), patch(1, { b: 2 })]), [patch(1, { a: 1, b: 2 })]);
  });

  it('anything then delete → delete; delete then put → put', () => {
    assert.deepEqual(foldOps([put(1, { a: 1 }), del(1)]), [del(1)]);
    assert.deepEqual(foldOps([patch(1, { a: 1 }), del(1)]), [del(1)]);
    assert.deepEqual(foldOps([del(1), del(1)]), [del(1)]);
    assert.deepEqual(foldOps([del(1), put(1, { a: 2 })]), [put(1, { a: 2 })]);
    assert.deepEqual(foldOps([patch(1, { z: 1 }), put(1, { a: 2 })]), [put(1, { a: 2 })]);
  });

  it('delete then patch → put of exactly the patched attributes', () => {
    assert.deepEqual(foldOps([put(1, { a: 1 }), del(1), patch(1, { b: 2 })]), [put(1, { b: 2 })]);
  });

  it('keeps "1" and 1 apart and keeps first-appearance order', () => {
    const out = foldOps([patch('1', { a: 1 }), put(1, { n: 1 }), put(2, {}), patch('1', { a: 2 }), del(1)]);
    assert.deepEqual(out, [patch('1', { a: 2 }), del(1), put(2, {})]);
  });

  it('folded op at one stamp gives the state of applying the ops in order', () => {
    const ops = [
      put(1, { a: 1, b: 1 }),
      patch(1, { b: 2 }),
      del(1),
      patch(1, { c: 3 }),
      patch(1, { c: 4, d: 5 }),
    ];
    const [folded] = foldOps(ops);
    const s = applyOp(emptyState(), folded!, st(50));
    assert.deepEqual(liveRecord(s, 'id', 1), { id: 1, c: 4, d: 5, __createdtime__: 50, __updatedtime__: 50 });
    assert.deepEqual(foldOps([]), []);
  });
});

describe('encodeState / decodeState', () => {
  it('encodes canonically with exact bytes and round-trips', () => {
    const s = applyAll([
      [put('k', { b: [1, { y: 2, x: 1 }], a: null }), st(1000, 'n1', 3, 'ep')],
      [patch('k', { c: 'é' }), st(2000, 'n2', 0, 'ep')],
    ]);
    const text = encodeState(s);
    assert.equal(
      text,
      '{"a":{"a":[null,0],"b":[[1,{"x":1,"y":2}],0],"c":["é",1]},' +
        '"s":[[1000,3,"n1","ep"],[2000,0,"n2","ep"]],"w":["put",0]}',
    );
    assert.deepEqual(decodeState(text), s);
    assert.equal(encodeState(decodeState(text)), text);
    assert.equal(encodeState(emptyState()), '{"a":{},"s":[]}');
    assert.deepEqual(decodeState('{"a":{},"s":[]}'), emptyState());
    // Attributes that refer to one stamp share one object, as the write made them.
    const decoded = decodeState(text);
    assert.equal(decoded.attrs['a']!.stamp, decoded.attrs['b']!.stamp);
    assert.equal(decoded.attrs['a']!.stamp, decoded.w!.stamp);
  });

  it('refuses malformed state with TM_INVALID_VALUE', () => {
    const bad = [
      'not json',
      '[]',
      '{}',
      '{"a":[]}',
      '{"a":{}}', // no stamp table
      '{"a":{},"s":{}}',
      '{"a":{},"s":[],"x":1}',
      '{"a":{},"s":[[1,0,"n","e"]],"w":["maybe",0]}',
      '{"a":{},"s":[[1,0,"n","e"]],"w":["put",1,0,"n","e"]}', // the old 5-tuple form
      '{"a":{},"s":[[1,0,"n"]],"w":["put",0]}',
      '{"a":{},"s":[[-1,0,"n","e"]],"w":["put",0]}',
      '{"a":{},"s":[[9007199254740992,0,"n","e"]],"w":["put",0]}',
      '{"a":{},"s":[[1,4294967296,"n","e"]],"w":["put",0]}',
      '{"a":{},"s":[[1,0,5,"e"]],"w":["put",0]}',
      '{"a":{},"s":[[1,0,"n","e"]],"w":["put",1]}', // no stamp 1
      '{"a":{},"s":[[1,0,"n","e"]],"w":["put",-1]}',
      '{"a":{},"s":[[1,0,"n","e"]],"w":["put",0.5]}',
      '{"a":{},"s":[[1,0,"n","e"]],"w":["put","0"]}',
      '{"a":{"v":[1]},"s":[[1,0,"n","e"]]}',
      '{"a":{"v":[1,0,0]},"s":[[1,0,"n","e"]]}',
      '{"a":{"__proto__":[1,0]},"s":[[1,0,"n","e"]]}',
      '{"a":{"":[1,0]},"s":[[1,0,"n","e"]]}',
      '{"a":{"v":[9007199254740993,0]},"s":[[1,0,"n","e"]]}',
      // an attribute W supersedes cannot be stored (I4)
      '{"a":{"v":[1,0]},"s":[[1,0,"n","e"],[2,0,"n","e"]],"w":["put",1]}',
      '{"a":{"v":[1,0]},"s":[[2,0,"n","e"]],"w":["delete",0]}',
    ];
    for (const text of bad) {
      assert.throws(
        () => decodeState(text),
        (err) => isTmError(err, 'TM_INVALID_VALUE'),
        text,
      );
    }
    // an attribute at a put's own stamp is that put's attribute
    assert.deepEqual(decodeState('{"a":{"v":[1,0]},"s":[[2,0,"n","e"]],"w":["put",0]}').attrs['v'], {
      value: 1,
      stamp: { wall: 2, counter: 0, node: 'n', epoch: 'e' },
    });
  });
});

describe('tombstones and GC helpers (I5)', () => {
  it('maxStamp is the largest stamp of W and attributes', () => {
    assert.equal(maxStamp(emptyState()), undefined);
    const s = applyAll([
      [put(1, { a: 1 }), st(10, 'b')],
      [patch(1, { a: 2 }), st(30, 'a')],
      [del(1), st(20, 'z')],
    ]);
    assert.deepEqual(maxStamp(s), st(30, 'a'));
    assert.deepEqual(maxStamp(stateOfOp(del(1), st(40))), st(40));
  });

  it('a tombstone is collectable once W is a delete, no attribute outlives it and W ≤ horizon', () => {
    const tomb = applyAll([
      [put(1, { a: 1 }), st(10)],
      [del(1), st(20)],
    ]);
    assert.equal(isCollectableTombstone(tomb, st(20)), true);
    assert.equal(isCollectableTombstone(tomb, st(25)), true);
    assert.equal(isCollectableTombstone(tomb, st(19, 'z')), false);
    const revived = applyOp(tomb, patch(1, { b: 1 }), st(21));
    assert.equal(isCollectableTombstone(revived, st(100)), false);
    assert.equal(isCollectableTombstone(applyOp(emptyState(), put(1, {}), st(1)), st(100)), false);
    assert.equal(isCollectableTombstone(emptyState(), st(100)), false);
  });
});

describe('encodeState', () => {
  /** The documented format built as a document and canonicalised: the oracle of the direct writer. */
  function referenceEncoding(state: RecordState): string {
    // The stamp table as documented: each distinct stamp (by value) once, W's first, then the attributes' in
    // name order (UTF-16 code units), where each first appears.
    const table: JsonValue[][] = [];
    const index = (s: Stamp): number => {
      const tuple = [s.wall, s.counter, s.node, s.epoch];
      const at = table.findIndex((t) => JSON.stringify(t) === JSON.stringify(tuple));
      return at >= 0 ? at : table.push(tuple) - 1;
    };
    const w = state.w ? [state.w.kind, index(state.w.stamp)] : undefined;
    // fromEntries, not assignment: `__proto__` is an attribute name like any other here.
    const a: Record<string, JsonValue> = Object.fromEntries(
      Object.keys(state.attrs)
        .sort()
        .map((name) => [name, [state.attrs[name]!.value, index(state.attrs[name]!.stamp)]]),
    );
    const doc: Record<string, JsonValue> = { a, s: table };
    if (w) doc['w'] = w;
    return canonicalJson(doc);
  }

  const stampArb = fc.record({
    wall: fc.integer({ min: 0, max: 2 ** 48 }),
    counter: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    node: fc.string(),
    epoch: fc.string(),
  });
  const valueArb = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as JsonValue);
  const stateArb = fc
    .record({
      // Few stamps (one write's, a patch's) or many (past the table's switch to a Map), with copies of equal
      // value that must share an index.
      stamps: fc
        .oneof(
          fc.array(stampArb, { minLength: 1, maxLength: 3 }),
          fc.array(stampArb, { minLength: 17, maxLength: 30 }),
        )
        .chain((stamps) =>
          fc
            .array(fc.nat(stamps.length - 1), { maxLength: 3 })
            .map((copies) => [...stamps, ...copies.map((i) => ({ ...stamps[i]! }))]),
        ),
      // Index-like names ("10" < "9" in code units) are listed first and in numeric order by Object.keys.
      attrs: fc.dictionary(
        fc.oneof(fc.string(), fc.constantFrom('0', '1', '9', '10', '4294967295', 'a', 'B', '_')),
        fc.tuple(valueArb, fc.nat(40)),
        { maxKeys: 40 },
      ),
      w: fc.option(fc.tuple(fc.constantFrom<'put' | 'delete'>('put', 'delete'), fc.nat(40)), {
        nil: undefined,
      }),
    })
    .map(({ stamps, attrs, w }): RecordState => {
      // Shared stamp objects (as one write produces) and distinct ones, in any attribute order.
      const pick = (i: number): Stamp => stamps[i % stamps.length]!;
      const entries = Object.entries(attrs).map(([name, [value, i]]) => [name, { value, stamp: pick(i) }]);
      const state: RecordState = { attrs: Object.fromEntries(entries) };
      return w ? { ...state, w: { kind: w[0], stamp: pick(w[1]) } } : state;
    });

  it('writes the state of a single op straight from the op exactly as from the state (encodeOpState)', () => {
    const nameArb = fc.oneof(
      fc.string(),
      fc.constantFrom('0', '9', '10', 'a', 'B', '__proto__', 'constructor'),
    );
    const attrsArb = fc
      .array(fc.tuple(nameArb, valueArb), { maxLength: 6 })
      .map((entries) => Object.fromEntries(entries) as Record<string, JsonValue>);
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), key: fc.constant('k'), attrs: attrsArb }),
      fc.record({ kind: fc.constant('patch' as const), key: fc.constant(1), attrs: attrsArb }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.constant('k') }),
    );
    fc.assert(
      fc.property(opArb, stampArb, (op, stamp) => {
        assert.equal(encodeOpState(op, stamp), encodeState(stateOfOp(op, stamp)));
      }),
      { numRuns: 1000 },
    );
  });

  it("reads a put's attribute size off its encoding exactly as recordBytes measures the attributes", () => {
    const attrsArb = fc
      .array(
        fc.tuple(
          fc.string().filter((n) => !n.startsWith('__')),
          valueArb,
        ),
        { maxLength: 6 },
      )
      .map((entries) => Object.fromEntries(entries) as Record<string, JsonValue>);
    fc.assert(
      fc.property(attrsArb, stampArb, (attrs, stamp) => {
        const op: Op = { kind: 'put', key: 'k', attrs };
        assert.equal(putAttrBytes(encodeOpState(op, stamp), attrs, stamp), recordBytes(attrs));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes exactly the canonical JSON (RFC 8785) of the documented state format', () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        assert.equal(encodeState(state), referenceEncoding(state));
      }),
      { numRuns: 1000 },
    );
    const s = applyOp(
      emptyState(),
      put('k', { b: -0, a: 'x\u0000"', c: { z: 1, y: [2e21, 1e-7] } }),
      st(5, 'n"1', 3),
    );
    assert.equal(encodeState(s), referenceEncoding(s));
    assert.equal(
      encodeState(s),
      '{"a":{"a":["x\\u0000\\"",0],"b":[0,0],"c":[{"y":[2e+21,1e-7],"z":1},0]},"s":[[5,3,"n\\"1","e1"]],"w":["put",0]}',
    );
  });
});
