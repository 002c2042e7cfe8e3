import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTmError } from '../src/errors.js';
import { Failpoints, failpointsFromEnv, joinFor, parseFailpoints } from '../src/failpoints.js';
import { decodeState, emptyState, encodeState, joinStates, stateOfOp } from '../src/merge.js';
import type { Op, RecordState, Stamp } from '../src/types.js';

const st = (wall: number, node = 'a', counter = 0): Stamp => ({ wall, counter, node, epoch: 'e1' });
const put = (attrs: Record<string, string>): Op => ({ kind: 'put', key: 'k', attrs });
const patch = (attrs: Record<string, string>): Op => ({ kind: 'patch', key: 'k', attrs });
const del: Op = { kind: 'delete', key: 'k' };

function fold(join: (a: RecordState, b: RecordState) => RecordState, steps: [Op, Stamp][]): RecordState {
  return steps.reduce((s, [op, stamp]) => join(s, stateOfOp(op, stamp)), emptyState());
}

describe('failpoints (SPEC §7)', () => {
  it('are read only with TM_TESTKIT=1', () => {
    assert.ok(failpointsFromEnv({ TM_FAILPOINTS: 'dedup-off' }).empty);
    assert.ok(failpointsFromEnv({ TM_TESTKIT: '0', TM_FAILPOINTS: 'dedup-off' }).empty);
    const on = failpointsFromEnv({ TM_TESTKIT: '1', TM_FAILPOINTS: ' dedup-off , trace-receipts,' });
    assert.deepEqual(on.names, ['dedup-off', 'trace-receipts']);
    assert.ok(on.has('dedup-off') && !on.has('tie-break-off'));
    assert.ok(failpointsFromEnv({ TM_TESTKIT: '1' }).empty);
  });

  it('refuse an unknown name with TM_INVALID_CONFIG listing the known ones', () => {
    assert.throws(
      () => parseFailpoints('dedup-off,no-such'),
      (err) =>
        isTmError(err, 'TM_INVALID_CONFIG') && /no-such/.test(err.message) && /dedup-off/.test(err.message),
    );
  });

  it('leave the join alone when no merge failpoint is on', () => {
    assert.equal(joinFor(Failpoints.none), joinStates);
    assert.equal(joinFor(parseFailpoints('dedup-off')), joinStates);
  });

  it('tie-break-off: on equal HLCs the arrival order decides (the real join is order-free)', () => {
    const a: [Op, Stamp] = [put({ v: 'from-a' }), st(5, 'a')];
    const b: [Op, Stamp] = [put({ v: 'from-b' }), st(5, 'b')];
    const mutant = joinFor(parseFailpoints('tie-break-off'));
    assert.equal(encodeState(fold(joinStates, [a, b])), encodeState(fold(joinStates, [b, a])));
    const ab = fold(mutant, [a, b]);
    const ba = fold(mutant, [b, a]);
    assert.notEqual(encodeState(ab), encodeState(ba));
    assert.equal(ab.attrs['v']?.value, 'from-b');
    assert.equal(ba.attrs['v']?.value, 'from-a');
    // Mutant states stay storable: the store must be able to read them back.
    for (const s of [ab, ba]) assert.deepEqual(decodeState(encodeState(s)), s);
  });

  it('w-filter-off: a late older patch resurrects a deleted record, a put keeps older attributes', () => {
    const mutant = joinFor(parseFailpoints('w-filter-off'));
    const late: [Op, Stamp][] = [
      [del, st(9)],
      [patch({ x: 'old' }), st(3)],
    ];
    assert.deepEqual(fold(joinStates, late).attrs, {});
    assert.equal(fold(mutant, late).attrs['x']?.value, 'old');
    const replaced: [Op, Stamp][] = [
      [patch({ b: 'older' }), st(1)],
      [put({ a: 'new' }), st(2)],
    ];
    assert.deepEqual(Object.keys(fold(joinStates, replaced).attrs), ['a']);
    const m = fold(mutant, replaced);
    assert.deepEqual(Object.keys(m.attrs).sort(), ['a', 'b']);
    assert.deepEqual(decodeState(encodeState(m)), m);
  });
});
