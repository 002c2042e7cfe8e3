/**
 * The history checker can fail: a clean synthetic run gives all zeros, and one targeted defect per counter makes
 * exactly that counter (and only the ones it must) fire.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type FeedEntry,
  type JsonValue,
  joinStates,
  liveRecord,
  type Op,
  type RecordState,
  type Stamp,
  stateOfOp,
} from '@tablemesh/core';
import { CHECK_COUNTERS, type CheckInput, checkHistory, type ReplicaSnapshot } from '../src/checker.ts';
import { History, type HistoryOp } from '../src/history.ts';

const T = 'data.kv';
const stamp = (node: string, wall: number, counter = 0, epoch = `${node}-e1`): Stamp => ({
  node,
  wall,
  counter,
  epoch,
});

interface Write {
  readonly client: string;
  readonly node: string;
  readonly seq: number;
  readonly stamp: Stamp;
  readonly op: Op;
  readonly token: string;
  readonly invokedAt: number;
  readonly completedAt: number;
}

/** A clean run: two edges and the hub write k1/k2; everything applied once, in order; replicas equal the oracle. */
function cleanRun(): { writes: Write[]; input: CheckInput } {
  const writes: Write[] = [
    {
      client: 'a.1',
      node: 'edgeA',
      seq: 1,
      stamp: stamp('edgeA', 100),
      op: { kind: 'put', key: 'k1', attrs: { tok: 'a.1.1', a: 'a.1.1' } },
      token: 'a.1.1',
      invokedAt: 1,
      completedAt: 2,
    },
    {
      client: 'a.1',
      node: 'edgeA',
      seq: 2,
      stamp: stamp('edgeA', 101),
      op: { kind: 'patch', key: 'k1', attrs: { b: 'a.1.2' } },
      token: 'a.1.2',
      invokedAt: 3,
      completedAt: 4,
    },
    {
      client: 'b.1',
      node: 'edgeB',
      seq: 1,
      stamp: stamp('edgeB', 100),
      op: { kind: 'put', key: 'k2', attrs: { tok: 'b.1.1', a: 'b.1.1' } },
      token: 'b.1.1',
      invokedAt: 1,
      completedAt: 2,
    },
    {
      client: 'hub.1',
      node: 'hub',
      seq: 4,
      stamp: stamp('hub', 105, 0, 'hub-e'),
      op: { kind: 'patch', key: 'k2', attrs: { a: 'hub.1.1' } },
      token: 'hub.1.1',
      invokedAt: 5,
      completedAt: 6,
    },
  ];
  const history = new History();
  for (const w of writes) history.ops.push(historyOp(history.ops.length + 1, w));
  const feed: FeedEntry[] = writes.map((w, i) => entry(i + 1, w));
  const records = oracleRecords(feed);
  const replicas: ReplicaSnapshot[] = ['hub', 'edgeA', 'edgeB'].map((node) => ({ node, table: T, records }));
  const traces = [
    { pid: 7, tm_trace: 'durable', node: 'edgeA', table: T, epoch: 'edgeA-e1', through: 2 },
    { pid: 7, tm_trace: 'receipt', node: 'edgeA', table: T, epoch: 'edgeA-e1', through: 2 },
  ];
  return { writes, input: { history: history.ops, feeds: { [T]: feed }, replicas, traces } };
}

function historyOp(id: number, w: Write): HistoryOp {
  return {
    id,
    client: w.client,
    node: w.node,
    table: T,
    kind: w.op.kind,
    key: String(w.op.key),
    ...(w.op.kind === 'delete' ? {} : { attrs: w.op.attrs }),
    token: w.token,
    invokedAt: w.invokedAt,
    completedAt: w.completedAt,
    outcome: 'ok',
    status: 200,
    stamp: w.stamp,
    seq: w.seq,
  };
}

function entry(hubSeq: number, w: Pick<Write, 'seq' | 'stamp' | 'op'>): FeedEntry {
  return { hubSeq, wall: w.stamp.wall, tx: { table: T, stamp: w.stamp, seq: w.seq, ops: [w.op] } };
}

function oracleRecords(feed: readonly FeedEntry[]): Record<string, JsonValue>[] {
  const states = new Map<string, RecordState>();
  for (const { tx } of feed) {
    for (const op of tx.ops) {
      const key = String(op.key);
      states.set(key, joinStates(states.get(key) ?? { attrs: {} }, stateOfOp(op, tx.stamp)));
    }
  }
  return [...states].flatMap(([key, s]) => {
    const r = liveRecord(s, 'id', key);
    return r ? [r] : [];
  });
}

/** Asserts exactly these counters are non-zero. */
function expectOnly(
  input: CheckInput,
  fired: Partial<Record<(typeof CHECK_COUNTERS)[number], number>>,
): void {
  const report = checkHistory(input);
  const nonZero = Object.fromEntries(
    CHECK_COUNTERS.filter((c) => report[c] !== 0).map((c) => [c, report[c]]),
  );
  assert.deepEqual(nonZero, fired, JSON.stringify(report.examples, null, 2));
  for (const c of Object.keys(fired)) assert.ok(report.examples[c as keyof typeof fired]!.length > 0);
}

describe('history checker', () => {
  it('reports all zeros for a clean run, with per-origin figures', () => {
    const { input } = cleanRun();
    const report = checkHistory(input);
    for (const c of CHECK_COUNTERS) assert.equal(report[c], 0, c);
    assert.deepEqual(report.appliedPerOrigin, { edgeA: 2, edgeB: 1, hub: 1 });
    assert.deepEqual(report.oracleRecords, { [T]: 2 });
  });

  it('lost: an acknowledged write missing from the apply log (by stamp, and by token without a stamp)', () => {
    const { input } = cleanRun();
    const feed = input.feeds[T]!.filter((e) => e.tx.stamp.node !== 'edgeB');
    const records = oracleRecords(feed);
    const replicas = input.replicas.map((r) => ({ ...r, records }));
    expectOnly({ ...input, feeds: { [T]: feed }, replicas }, { lost: 1 });
    const noStamp = input.history.map((op) => {
      const { stamp: _s, ...rest } = op;
      return rest as HistoryOp;
    });
    expectOnly({ ...input, history: noStamp, feeds: { [T]: feed }, replicas }, { lost: 1 });
  });

  it('duplicatedApplies: one transaction applied twice (same origin, epoch, seq)', () => {
    const { input, writes } = cleanRun();
    const feed = [...input.feeds[T]!, entry(5, writes[0]!)];
    expectOnly({ ...input, feeds: { [T]: feed } }, { duplicatedApplies: 1 });
  });

  it('orderViolations: a seq applied before its predecessor, and a seq acknowledged out of real-time order', () => {
    const { input } = cleanRun();
    const [a1, a2, ...rest] = input.feeds[T]!;
    const swapped = [{ ...a2!, hubSeq: 1 }, { ...a1!, hubSeq: 2 }, ...rest];
    // a1 after a2 is also an HLC step back in that stream
    expectOnly({ ...input, feeds: { [T]: swapped } }, { orderViolations: 2, hlcRegressions: 1 });
    const history = input.history.map((op) => (op.client === 'a.1' && op.seq === 2 ? { ...op, seq: 1 } : op));
    expectOnly({ ...input, history }, { orderViolations: 1 });
  });

  it('divergentReplicas and mergeMismatches: a replica that differs from the hub and the oracle', () => {
    const { input } = cleanRun();
    const replicas = input.replicas.map((r) =>
      r.node === 'edgeB' ? { ...r, records: r.records.filter((rec) => rec['id'] !== 'k2') } : r,
    );
    expectOnly({ ...input, replicas }, { divergentReplicas: 1, mergeMismatches: 1 });
  });

  it('mergeMismatches without divergence: every replica agrees on a state the I4 join does not give', () => {
    const { input } = cleanRun();
    // All replicas kept the put's `a` although the hub's later patch of `a` wins (a lost-update merge bug).
    const wrong = input.replicas[0]!.records.map((r) => (r['id'] === 'k2' ? { ...r, a: 'b.1.1' } : r));
    const replicas = input.replicas.map((r) => ({ ...r, records: wrong }));
    expectOnly({ ...input, replicas }, { mergeMismatches: 3 });
  });

  it('hlcRegressions: a stamp not above one the same origin had acknowledged earlier', () => {
    const { input } = cleanRun();
    const low = stamp('edgeA', 99);
    const history = input.history.map((op) =>
      op.client === 'a.1' && op.seq === 2 ? { ...op, stamp: low } : op,
    );
    const feed = input.feeds[T]!.map((e) =>
      e.tx.stamp.node === 'edgeA' && e.tx.seq === 2 ? { ...e, tx: { ...e.tx, stamp: low } } : e,
    );
    const records = oracleRecords(feed);
    const replicas = input.replicas.map((r) => ({ ...r, records }));
    expectOnly({ ...input, history, feeds: { [T]: feed }, replicas }, { hlcRegressions: 2 });
  });

  it('unexpectedValues: a value nobody wrote, a failed write visible, a read from the future', () => {
    const { input } = cleanRun();
    const invented = input.replicas.map((r) => ({
      ...r,
      records: r.records.map((rec) => (rec['id'] === 'k1' ? { ...rec, b: 'nobody' } : rec)),
    }));
    // invented is also a mismatch against the oracle on every replica
    expectOnly({ ...input, replicas: invented }, { unexpectedValues: 3, mergeMismatches: 3 });

    const failed = input.history.map((op) =>
      op.client === 'b.1' ? { ...op, outcome: 'fail' as const, status: 507 } : op,
    );
    // b.1's write failed (507) yet its value is on every replica (and it cannot be "lost")
    expectOnly({ ...input, history: failed }, { unexpectedValues: 3 });

    const read: HistoryOp = {
      id: 99,
      client: 'r.1',
      node: 'edgeB',
      table: T,
      kind: 'read',
      key: 'k1',
      invokedAt: 0,
      completedAt: 2.5, // before a.1.2 (the patch of b) was invoked at 3
      outcome: 'ok',
      value: { id: 'k1', tok: 'a.1.1', a: 'a.1.1', b: 'a.1.2' },
    };
    expectOnly({ ...input, history: [...input.history, read] }, { unexpectedValues: 1 });
  });

  it('a value several writes share (a filler) is expected once any write of it was invoked before the read', () => {
    const { input } = cleanRun();
    const pad = 'x'.repeat(10);
    const history = input.history.map((op) =>
      op.kind === 'put' ? { ...op, attrs: { ...op.attrs, pad } } : op,
    ) as HistoryOp[];
    const feed = input.feeds[T]!.map((e) =>
      e.tx.ops[0]!.kind === 'put'
        ? { ...e, tx: { ...e.tx, ops: [{ ...e.tx.ops[0]!, attrs: { ...e.tx.ops[0]!.attrs, pad } }] } }
        : e,
    );
    const records = oracleRecords(feed);
    const replicas = input.replicas.map((r) => ({ ...r, records }));
    // read of k1 at 2.5 sees a.1.1's put (invoked at 1) with the pad; b.1.1's put of the same pad is irrelevant
    const read: HistoryOp = {
      id: 98,
      client: 'r.1',
      node: 'edgeA',
      table: T,
      kind: 'read',
      key: 'k1',
      invokedAt: 2,
      completedAt: 2.5,
      outcome: 'ok',
      value: { id: 'k1', tok: 'a.1.1', a: 'a.1.1', pad },
    };
    // a later put of k1 with the same pad, indeterminate (never applied)
    const later: HistoryOp = {
      id: 97,
      client: 'a.2',
      node: 'edgeA',
      table: T,
      kind: 'put',
      key: 'k1',
      attrs: { tok: 'a.2.1', a: 'a.2.1', pad },
      token: 'a.2.1',
      invokedAt: 10,
      completedAt: 15,
      outcome: 'info',
    };
    expectOnly({ ...input, history: [...history, read, later], feeds: { [T]: feed }, replicas }, {});
  });

  it('receiptOrderViolations: a receipt traced before the batch was durable, per hub process', () => {
    const { input } = cleanRun();
    const early = [
      { pid: 7, tm_trace: 'receipt', node: 'edgeA', table: T, epoch: 'edgeA-e1', through: 2 },
      { pid: 7, tm_trace: 'durable', node: 'edgeA', table: T, epoch: 'edgeA-e1', through: 2 },
    ];
    expectOnly({ ...input, traces: early }, { receiptOrderViolations: 1 });
    // a durable trace of an earlier process does not excuse a receipt of the next one
    const restarted = [
      { pid: 7, tm_trace: 'durable', node: 'edgeA', table: T, epoch: 'edgeA-e1', through: 2 },
      { pid: 8, tm_trace: 'receipt', node: 'edgeA', table: T, epoch: 'edgeA-e1', through: 2 },
    ];
    expectOnly({ ...input, traces: restarted }, { receiptOrderViolations: 1 });
  });
});
