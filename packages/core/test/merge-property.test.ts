// I4 convergence, property-tested: any permutation of a set of transactions, with duplicates, merged op by op or
// as whole states, yields byte-identical state per key, equal to a sequential model applied in stamp order.
// Replay a failure with TM_SEED=<seed printed by fast-check>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { canonicalJson } from '../src/canonical-json.js';
import { compareHlc, compareStamp } from '../src/hlc.js';
import { applyOp, emptyState, encodeState, joinStates, liveRecord, stateOfOp } from '../src/merge.js';
import type { JsonValue, Op, PrimaryKey, RecordState, Stamp, StampedValue } from '../src/types.js';

/** The merge functions under test, so the same property can run against deliberately broken merges. */
interface MergeImpl {
  applyOp(state: RecordState, op: Op, stamp: Stamp): RecordState;
  joinStates(a: RecordState, b: RecordState): RecordState;
}

interface GenTx {
  stamp: Stamp;
  ops: Op[];
}

interface Scenario {
  txs: GenTx[];
  /** two delivery orders: every tx at least once, some more than once, shuffled */
  order1: number[];
  order2: number[];
  /** order2 is delivered to two replicas (before / after `split`) whose states are then joined */
  split: number;
}

type Replica = Map<PrimaryKey, RecordState>;

const KEYS: PrimaryKey[] = ['1', 1, 'k', 2];
const VALUES: JsonValue[] = [0, 1, 'v', null, true, { n: 1 }, [1, 2]];
const PK = 'id';

const valueArb = fc.constantFrom(...VALUES);
const attrsArb = fc.record({ x: valueArb, y: valueArb, z: valueArb }, { requiredKeys: [] });
const keyArb = fc.constantFrom(...KEYS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), key: keyArb, attrs: attrsArb }),
  fc.record({ kind: fc.constant('patch' as const), key: keyArb, attrs: attrsArb }),
  fc.record({ kind: fc.constant('delete' as const), key: keyArb }),
);
// Few HLC values so equal HLCs from different nodes (and epochs) really happen.
const stampArb: fc.Arbitrary<Stamp> = fc.record({
  wall: fc.constantFrom(1000, 1001, 1002, 1003),
  counter: fc.constantFrom(0, 1),
  node: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
  epoch: fc.constantFrom('x', 'x', 'x', 'y'),
});
const stampId = (s: Stamp): string => `${s.wall}/${s.counter}/${s.node}/${s.epoch}`;
const txArb: fc.Arbitrary<GenTx> = fc.record({
  stamp: stampArb,
  // SPEC §4: at most one op per key per transaction; uniqueArray compares keys by SameValue, so "1" ≠ 1.
  ops: fc.uniqueArray(opArb, { minLength: 1, maxLength: 4, selector: (op) => op.key }),
});
// A real origin never reuses a stamp: stamps are unique per (node, epoch).
const txsArb = fc.uniqueArray(txArb, { minLength: 1, maxLength: 12, selector: (tx) => stampId(tx.stamp) });

function deliveryArb(n: number): fc.Arbitrary<number[]> {
  const all = Array.from({ length: n }, (_, i) => i);
  return fc
    .tuple(
      fc.shuffledSubarray(all, { minLength: n, maxLength: n }),
      fc.array(fc.tuple(fc.nat({ max: n - 1 }), fc.nat()), { maxLength: n }),
    )
    .map(([perm, dups]) => {
      const order = [...perm];
      for (const [tx, at] of dups) order.splice(at % (order.length + 1), 0, tx);
      return order;
    });
}

const scenarioArb: fc.Arbitrary<Scenario> = txsArb.chain((txs) =>
  fc.record({
    txs: fc.constant(txs),
    order1: deliveryArb(txs.length),
    order2: deliveryArb(txs.length),
    split: fc.nat({ max: 2 * txs.length }),
  }),
);

function deliver(impl: MergeImpl, replica: Replica, tx: GenTx): void {
  for (const op of tx.ops)
    replica.set(op.key, impl.applyOp(replica.get(op.key) ?? emptyState(), op, tx.stamp));
}

function replicaOf(impl: MergeImpl, txs: GenTx[], order: number[]): Replica {
  const replica: Replica = new Map();
  for (const i of order) deliver(impl, replica, txs[i]!);
  return replica;
}

function joinReplicas(impl: MergeImpl, a: Replica, b: Replica): Replica {
  const out: Replica = new Map();
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    out.set(key, impl.joinStates(a.get(key) ?? emptyState(), b.get(key) ?? emptyState()));
  }
  return out;
}

/** Independent model of I4: apply the transactions one by one in stamp order. */
function sequentialModel(txs: GenTx[]): Replica {
  const out: Replica = new Map();
  for (const tx of [...txs].sort((x, y) => compareStamp(x.stamp, y.stamp))) {
    for (const op of tx.ops) {
      const prev = out.get(op.key) ?? emptyState();
      const set = (
        base: Readonly<Record<string, StampedValue>>,
        attrs: Readonly<Record<string, JsonValue>>,
      ) => {
        const next: Record<string, StampedValue> = { ...base };
        for (const [name, value] of Object.entries(attrs)) next[name] = { value, stamp: tx.stamp };
        return next;
      };
      if (op.kind === 'put')
        out.set(op.key, { w: { stamp: tx.stamp, kind: 'put' }, attrs: set({}, op.attrs) });
      else if (op.kind === 'delete') out.set(op.key, { w: { stamp: tx.stamp, kind: 'delete' }, attrs: {} });
      else
        out.set(
          op.key,
          prev.w ? { w: prev.w, attrs: set(prev.attrs, op.attrs) } : { attrs: set(prev.attrs, op.attrs) },
        );
    }
  }
  return out;
}

const typedKey = (key: PrimaryKey): string => JSON.stringify(key); // "1" → '"1"', 1 → '1'

/** Byte view of a replica: every key's encoded state, in key order. */
function bytesOf(replica: Replica): [string, string][] {
  return [...replica].map(([k, s]): [string, string] => [typedKey(k), encodeState(s)]).sort(byFirst);
}

/** What users see: every live record in canonical JSON, in key order. */
function liveOf(replica: Replica): [string, string][] {
  const out: [string, string][] = [];
  for (const [key, state] of replica) {
    const rec = liveRecord(state, PK, key);
    if (rec !== undefined) out.push([typedKey(key), canonicalJson(rec)]);
  }
  return out.sort(byFirst);
}

function byFirst(a: [string, string], b: [string, string]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * I4 as a property over a merge implementation: replicas fed the same transactions in different orders, with
 * duplicates, op by op or as joined states, hold byte-identical state; with `againstModel`, that state must also
 * equal the sequential model (a join that converges to the wrong state, e.g. without the W filter, is still a
 * semilattice and only the model catches it).
 */
function convergence(impl: MergeImpl, againstModel: boolean) {
  return fc.property(scenarioArb, ({ txs, order1, order2, split }) => {
    const inOrder = replicaOf(
      impl,
      txs,
      txs.map((_, i) => i),
    );
    const shuffled = replicaOf(impl, txs, order1);
    const first = replicaOf(impl, txs, order2.slice(0, split));
    const viaJoin = joinReplicas(impl, first, replicaOf(impl, txs, order2.slice(split)));
    const bytes = bytesOf(inOrder);
    assert.deepEqual(bytesOf(shuffled), bytes, 'replicas diverge (shuffled with duplicates)');
    assert.deepEqual(bytesOf(viaJoin), bytes, 'replicas diverge (joined states)');
    assert.deepEqual(liveOf(shuffled), liveOf(inOrder), 'live records diverge');
    if (againstModel) {
      const model = sequentialModel(txs);
      assert.deepEqual(bytes, bytesOf(model), 'state differs from the sequential model');
      assert.deepEqual(liveOf(inOrder), liveOf(model), 'live records differ from the sequential model');
    }
  });
}

const seedFromEnv = process.env['TM_SEED'] === undefined ? {} : { seed: Number(process.env['TM_SEED']) };

const real: MergeImpl = { applyOp, joinStates };

/** Mutant 1: compares only the HLC; on an equal HLC the incumbent (left side) stays. */
const ignoresNodeTieBreak: MergeImpl = (() => {
  const newer = (a: Stamp, b: Stamp): boolean => compareHlc(b, a) > 0;
  const join = (a: RecordState, b: RecordState): RecordState => {
    const w = a.w === undefined || (b.w !== undefined && newer(a.w.stamp, b.w.stamp)) ? (b.w ?? a.w) : a.w;
    const attrs: Record<string, StampedValue> = {};
    for (const name of new Set([...Object.keys(a.attrs), ...Object.keys(b.attrs)])) {
      const x = a.attrs[name];
      const y = b.attrs[name];
      const best = x === undefined || (y !== undefined && newer(x.stamp, y.stamp)) ? y! : x;
      const c = w === undefined ? 1 : compareHlc(best.stamp, w.stamp);
      if (c > 0 || (c === 0 && w?.kind === 'put')) attrs[name] = best;
    }
    return w === undefined ? { attrs } : { w, attrs };
  };
  return { joinStates: join, applyOp: (s, op, stamp) => join(s, stateOfOp(op, stamp)) };
})();

/** Mutant 2: the correct max on W and attributes, but never drops attributes W supersedes. */
const keepsSupersededAttrs: MergeImpl = (() => {
  const join = (a: RecordState, b: RecordState): RecordState => {
    const joined = joinStates(a, b);
    const attrs: Record<string, StampedValue> = {};
    for (const name of new Set([...Object.keys(a.attrs), ...Object.keys(b.attrs)])) {
      const x = a.attrs[name];
      const y = b.attrs[name];
      attrs[name] = x === undefined ? y! : y === undefined ? x : compareStamp(x.stamp, y.stamp) >= 0 ? x : y;
    }
    return joined.w === undefined ? { attrs } : { w: joined.w, attrs };
  };
  return { joinStates: join, applyOp: (s, op, stamp) => join(s, stateOfOp(op, stamp)) };
})();

describe('I4 convergence (property)', () => {
  it('any order, any duplicates, op by op or joined: byte-identical state equal to the sequential model', () => {
    fc.assert(convergence(real, true), { numRuns: 1000, verbose: true, ...seedFromEnv });
  });

  it('mutant without the node/epoch tie-break is caught: replicas diverge', (t) => {
    // No model here: equal HLCs from different nodes must make the replicas themselves disagree.
    const result = fc.check(convergence(ignoresNodeTieBreak, false), { numRuns: 100, ...seedFromEnv });
    t.diagnostic(`failed=${result.failed} after ${result.numRuns} runs, seed ${result.seed}`);
    assert.equal(result.failed, true);
  });

  it('mutant without the W filter is caught: it converges, but not to I4 state', (t) => {
    const result = fc.check(convergence(keepsSupersededAttrs, true), { numRuns: 100, ...seedFromEnv });
    t.diagnostic(`failed=${result.failed} after ${result.numRuns} runs, seed ${result.seed}`);
    assert.equal(result.failed, true);
  });
});
