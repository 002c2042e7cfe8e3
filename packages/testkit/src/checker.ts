/**
 * The history checker of the reliability suite. After the faults healed and the cluster went quiet, it takes the
 * client history, the hub's apply log (its feed: one entry per applied transaction, SPEC §5), every replica's
 * final records and the hub's receipt trace, and counts, each on its own (NATS chaos style):
 *
 * - `lost`: writes acknowledged (2xx) but never applied at the hub (I6, I7);
 * - `duplicatedApplies`: one transaction applied more than once (I9);
 * - `orderViolations`: per origin, seqs applied out of commit order, or acknowledged out of real-time order (I8);
 * - `divergentReplicas`: replicas whose table content differs from the hub's (I4 convergence);
 * - `mergeMismatches`: records that differ from an oracle recomputing every key by the I4 join of all applied
 *   transactions (core's `joinStates`), per replica;
 * - `hlcRegressions`: per origin, a stamp not above an earlier one (in seq order, or in real-time order of
 *   acknowledged writes: I1 across restarts and clock jumps);
 * - `unexpectedValues`: values nobody wrote on that key and attribute, values of writes that failed, or reads
 *   returning a write invoked after the read ended;
 * - `receiptOrderViolations`: a receipt sent before the hub traced the batch durable (I7; `trace-receipts`).
 *
 * A check that cannot fail proves nothing: test/checker.test.ts makes each counter fire.
 */
import { createHash } from 'node:crypto';
import {
  canonicalJson,
  compareHlc,
  emptyState,
  type FeedEntry,
  type Hlc,
  type JsonValue,
  joinStates,
  liveRecord,
  type PrimaryKey,
  type RecordState,
  type Stamp,
  stateOfOp,
} from '@tablemesh/core';
import type { HistoryOp } from './history.js';

/** The final content of one table on one node (live records as the data API answers them). */
export interface ReplicaSnapshot {
  readonly node: string;
  /** `db.table` */
  readonly table: string;
  readonly records: readonly Readonly<Record<string, JsonValue>>[];
}

/** What the checker reads. */
export interface CheckInput {
  readonly history: readonly HistoryOp[];
  /** the hub's feed per table (`db.table`): its apply log */
  readonly feeds: Readonly<Record<string, readonly FeedEntry[]>>;
  readonly replicas: readonly ReplicaSnapshot[];
  /** the hub's `tm_trace` log lines (pino lines with pid), in log order */
  readonly traces?: readonly Readonly<Record<string, unknown>>[];
  /** primary key attribute (default `id`) */
  readonly primaryKey?: string;
  /** the hub's node id (default `hub`): its replica is the reference, its writes are numbered by hub seq */
  readonly hubNode?: string;
}

/** The counters; every one must be 0 in a passing scenario. */
export interface CheckCounters {
  lost: number;
  duplicatedApplies: number;
  orderViolations: number;
  divergentReplicas: number;
  mergeMismatches: number;
  hlcRegressions: number;
  unexpectedValues: number;
  receiptOrderViolations: number;
}

/** Counter names, in report order. */
export const CHECK_COUNTERS: readonly (keyof CheckCounters)[] = [
  'lost',
  'duplicatedApplies',
  'orderViolations',
  'divergentReplicas',
  'mergeMismatches',
  'hlcRegressions',
  'unexpectedValues',
  'receiptOrderViolations',
];

/** The checker's answer: the counters, a few examples of each, and figures. */
export interface CheckReport extends CheckCounters {
  /** up to 5 examples per non-zero counter */
  readonly examples: Partial<Record<keyof CheckCounters, string[]>>;
  /** transactions in the apply log, per origin */
  readonly appliedPerOrigin: Readonly<Record<string, number>>;
  /** replicas compared, per table */
  readonly replicasPerTable: Readonly<Record<string, number>>;
  /** live records per table in the oracle */
  readonly oracleRecords: Readonly<Record<string, number>>;
}

const MAX_EXAMPLES = 5;

/** `node/epoch/wall.counter`: a transaction's identity (a re-upload keeps stamps, I10). */
export function stampKey(s: Stamp): string {
  return `${s.node}/${s.epoch}/${s.wall}.${s.counter}`;
}

const keyId = (key: PrimaryKey): string => canonicalJson(key);

class Tally {
  readonly counters: CheckCounters = {
    lost: 0,
    duplicatedApplies: 0,
    orderViolations: 0,
    divergentReplicas: 0,
    mergeMismatches: 0,
    hlcRegressions: 0,
    unexpectedValues: 0,
    receiptOrderViolations: 0,
  };
  readonly examples: Partial<Record<keyof CheckCounters, string[]>> = {};

  add(counter: keyof CheckCounters, example: string): void {
    this.counters[counter]++;
    const list = this.examples[counter] ?? [];
    this.examples[counter] = list;
    if (list.length < MAX_EXAMPLES) list.push(example);
  }
}

/** Runs every check. Pure: no I/O. */
export function checkHistory(input: CheckInput): CheckReport {
  const tally = new Tally();
  const hubNode = input.hubNode ?? 'hub';
  const pk = input.primaryKey ?? 'id';
  const applied = indexApplied(input.feeds);
  checkLost(input.history, applied, tally);
  const appliedPerOrigin = checkApplyLog(input.feeds, hubNode, tally);
  checkRealTimeOrder(input.history, tally);
  const oracle = buildOracle(input.feeds, pk);
  const replicasPerTable = checkReplicas(input.replicas, oracle, hubNode, pk, tally);
  checkValues(input.history, input.replicas, pk, tally);
  checkReceiptOrder(input.traces ?? [], tally);
  const oracleRecords: Record<string, number> = {};
  for (const [table, live] of oracle) oracleRecords[table] = live.size;
  return { ...tally.counters, examples: tally.examples, appliedPerOrigin, replicasPerTable, oracleRecords };
}

interface AppliedIndex {
  /** `table\0stampKey` */
  readonly stamps: Set<string>;
  /** `table\0key\0value` for every string attribute value applied */
  readonly values: Set<string>;
}

function indexApplied(feeds: CheckInput['feeds']): AppliedIndex {
  const stamps = new Set<string>();
  const values = new Set<string>();
  for (const [table, entries] of Object.entries(feeds)) {
    for (const { tx } of entries) {
      stamps.add(`${table}\0${stampKey(tx.stamp)}`);
      for (const op of tx.ops) {
        if (op.kind === 'delete') continue;
        for (const v of Object.values(op.attrs)) {
          if (typeof v === 'string') values.add(`${table}\0${keyId(op.key)}\0${v}`);
        }
      }
    }
  }
  return { stamps, values };
}

/** lost: an acknowledged write whose transaction is not in the apply log (by stamp, else by its token). */
function checkLost(history: readonly HistoryOp[], applied: AppliedIndex, tally: Tally): void {
  for (const op of history) {
    if (op.outcome !== 'ok' || op.kind === 'read') continue;
    const found = op.stamp
      ? applied.stamps.has(`${op.table}\0${stampKey(op.stamp)}`)
      : op.token !== undefined && applied.values.has(`${op.table}\0${keyId(op.key)}\0${op.token}`);
    if (!found)
      tally.add('lost', `${op.client} ${op.kind} ${op.table}/${op.key} ${op.token ?? ''} (acknowledged)`);
  }
}

/**
 * The apply log: each (origin, epoch, seq) and each stamp at most once (I9); per (origin, epoch) seqs 1, 2, 3 … in
 * hub-seq order (I8) with strictly increasing HLCs (I1). The hub's own writes are numbered by hub seq: only
 * their stamps are checked.
 */
function checkApplyLog(feeds: CheckInput['feeds'], hubNode: string, tally: Tally): Record<string, number> {
  const perOrigin: Record<string, number> = {};
  for (const [table, entries] of Object.entries(feeds)) {
    const ids = new Set<string>();
    const stamps = new Set<string>();
    const lastSeq = new Map<string, number>();
    const lastHlc = new Map<string, Hlc>();
    for (const { hubSeq, tx } of entries) {
      const origin = tx.stamp.node;
      perOrigin[origin] = (perOrigin[origin] ?? 0) + 1;
      const stream = `${table} ${origin}/${tx.stamp.epoch}`;
      const id = `${stream}#${tx.seq}`;
      const sk = stampKey(tx.stamp);
      if (ids.has(id) || stamps.has(sk)) {
        tally.add('duplicatedApplies', `${id} applied again at hub seq ${hubSeq}`);
        continue; // counted once, as a duplicate (not also as an order or HLC step back)
      }
      if (origin !== hubNode) {
        const prev = lastSeq.get(stream) ?? 0;
        if (tx.seq !== prev + 1)
          tally.add('orderViolations', `${stream}: seq ${tx.seq} after ${prev} (hub seq ${hubSeq})`);
      }
      ids.add(id);
      stamps.add(sk);
      if (origin !== hubNode) lastSeq.set(stream, Math.max(lastSeq.get(stream) ?? 0, tx.seq));
      const before = lastHlc.get(stream);
      if (before && compareHlc(tx.stamp, before) <= 0) {
        tally.add(
          'hlcRegressions',
          `${stream}: seq ${tx.seq} stamped ${fmtHlc(tx.stamp)} after ${fmtHlc(before)}`,
        );
      }
      if (!before || compareHlc(tx.stamp, before) > 0) lastHlc.set(stream, tx.stamp);
    }
  }
  return perOrigin;
}

const fmtHlc = (h: Hlc): string => `${h.wall}.${h.counter}`;

/**
 * Real-time order of acknowledged writes: when write A was acknowledged before write B was invoked, B's stamp is
 * above A's (I1, per origin node) and B's seq above A's (commit order, per origin, table and epoch).
 */
function checkRealTimeOrder(history: readonly HistoryOp[], tally: Tally): void {
  const writes = history.filter((op) => op.outcome === 'ok' && op.kind !== 'read' && op.stamp !== undefined);
  const byInvoke = [...writes].sort((a, b) => a.invokedAt - b.invokedAt);
  const byComplete = [...writes].sort((a, b) => a.completedAt! - b.completedAt!);
  const maxHlc = new Map<string, { hlc: Hlc; op: HistoryOp }>();
  const maxSeq = new Map<string, { seq: number; op: HistoryOp }>();
  let c = 0;
  for (const b of byInvoke) {
    while (c < byComplete.length && byComplete[c]!.completedAt! < b.invokedAt) {
      const a = byComplete[c++]!;
      const node = a.stamp!.node;
      const h = maxHlc.get(node);
      if (!h || compareHlc(a.stamp!, h.hlc) > 0) maxHlc.set(node, { hlc: a.stamp!, op: a });
      if (a.seq !== undefined && a.seq > 0) {
        const stream = `${a.table} ${node}/${a.stamp!.epoch}`;
        const s = maxSeq.get(stream);
        if (!s || a.seq > s.seq) maxSeq.set(stream, { seq: a.seq, op: a });
      }
    }
    const stamp = b.stamp!;
    const h = maxHlc.get(stamp.node);
    if (h && compareHlc(stamp, h.hlc) <= 0) {
      tally.add(
        'hlcRegressions',
        `${b.client} ${b.table}/${b.key} stamped ${fmtHlc(stamp)} after ${h.op.client}'s ${fmtHlc(h.hlc)} was acknowledged`,
      );
    }
    if (b.seq !== undefined && b.seq > 0) {
      const s = maxSeq.get(`${b.table} ${stamp.node}/${stamp.epoch}`);
      if (s && b.seq <= s.seq) {
        tally.add(
          'orderViolations',
          `${b.client} ${b.table}/${b.key} got seq ${b.seq} after seq ${s.seq} was acknowledged`,
        );
      }
    }
  }
}

/** table → key id → [key, state]: every key's state by the I4 join of every applied transaction. */
function buildOracle(
  feeds: CheckInput['feeds'],
  pk: string,
): Map<string, Map<string, Record<string, JsonValue>>> {
  const oracle = new Map<string, Map<string, Record<string, JsonValue>>>();
  for (const [table, entries] of Object.entries(feeds)) {
    const states = new Map<string, { key: PrimaryKey; state: RecordState }>();
    for (const { tx } of entries) {
      for (const op of tx.ops) {
        const id = keyId(op.key);
        const prev = states.get(id)?.state ?? emptyState();
        states.set(id, { key: op.key, state: joinStates(prev, stateOfOp(op, tx.stamp)) });
      }
    }
    const live = new Map<string, Record<string, JsonValue>>();
    for (const [id, { key, state }] of states) {
      const record = liveRecord(state, pk, key);
      if (record) live.set(id, record);
    }
    oracle.set(table, live);
  }
  return oracle;
}

/** Digest of a replica's records: canonical JSON of the records sorted by key. */
export function recordsDigest(records: readonly Readonly<Record<string, JsonValue>>[], pk = 'id'): string {
  const lines = records.map((r) => [keyId(r[pk] as PrimaryKey), canonicalJson(r as JsonValue)] as const);
  lines.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return createHash('sha256')
    .update(lines.map((l) => l[1]).join('\n'))
    .digest('hex');
}

/** divergentReplicas against the hub's replica; mergeMismatches (keys) against the oracle. */
function checkReplicas(
  replicas: readonly ReplicaSnapshot[],
  oracle: Map<string, Map<string, Record<string, JsonValue>>>,
  hubNode: string,
  pk: string,
  tally: Tally,
): Record<string, number> {
  const perTable: Record<string, number> = {};
  const tables = new Set(replicas.map((r) => r.table));
  for (const table of tables) {
    const group = replicas.filter((r) => r.table === table);
    perTable[table] = group.length;
    const reference = group.find((r) => r.node === hubNode) ?? group[0]!;
    const refDigest = recordsDigest(reference.records, pk);
    for (const replica of group) {
      if (replica !== reference && recordsDigest(replica.records, pk) !== refDigest) {
        tally.add('divergentReplicas', `${table} on ${replica.node} differs from ${reference.node}`);
      }
      const expected = oracle.get(table) ?? new Map<string, Record<string, JsonValue>>();
      const actual = new Map(replica.records.map((r) => [keyId(r[pk] as PrimaryKey), r]));
      for (const id of new Set([...expected.keys(), ...actual.keys()])) {
        const want = expected.get(id);
        const got = actual.get(id);
        const same = want && got ? canonicalJson(want) === canonicalJson(got as JsonValue) : want === got;
        if (!same) {
          tally.add(
            'mergeMismatches',
            `${table}/${id} on ${replica.node}: ${got ? canonicalJson(got as JsonValue) : 'absent'}, oracle ${want ? canonicalJson(want) : 'absent'}`,
          );
        }
      }
    }
  }
  return perTable;
}

/**
 * Every attribute value in a final record or a read came from a write of that key and attribute that did not
 * fail, and (reads) was invoked before the read ended. Keys nobody wrote are unexpected too.
 */
function checkValues(
  history: readonly HistoryOp[],
  replicas: readonly ReplicaSnapshot[],
  pk: string,
  tally: Tally,
): void {
  // Per (table, key, attribute, value): the earliest invocation of a write of it that did not fail, and whether a
  // failed write wrote it (several writes may write one value, e.g. a constant filler).
  const writers = new Map<string, { earliest: number | undefined; failed: HistoryOp | undefined }>();
  const keysWritten = new Set<string>();
  for (const op of history) {
    if (op.kind === 'read') continue;
    keysWritten.add(`${op.table}\0${keyId(op.key)}`);
    for (const [attr, value] of Object.entries(op.attrs ?? {})) {
      const id = `${op.table}\0${keyId(op.key)}\0${attr}\0${canonicalJson(value)}`;
      const w = writers.get(id) ?? { earliest: undefined, failed: undefined };
      if (op.outcome === 'fail') w.failed ??= op;
      else if (w.earliest === undefined || op.invokedAt < w.earliest) w.earliest = op.invokedAt;
      writers.set(id, w);
    }
  }
  const judge = (
    where: string,
    table: string,
    record: Readonly<Record<string, JsonValue>>,
    readEnd?: number,
  ) => {
    const id = keyId(record[pk] as PrimaryKey);
    if (!keysWritten.has(`${table}\0${id}`)) {
      tally.add('unexpectedValues', `${where}: key ${table}/${id} was never written`);
      return;
    }
    for (const [attr, value] of Object.entries(record)) {
      if (attr === pk || attr.startsWith('__')) continue;
      const w = writers.get(`${table}\0${id}\0${attr}\0${canonicalJson(value)}`);
      const what = `${where}: ${table}/${id}.${attr} = ${short(canonicalJson(value))}`;
      if (!w) tally.add('unexpectedValues', `${what} was never written`);
      else if (w.earliest === undefined)
        tally.add(
          'unexpectedValues',
          `${what} comes from a failed write (${w.failed?.status ?? w.failed?.error})`,
        );
      else if (readEnd !== undefined && w.earliest > readEnd)
        tally.add('unexpectedValues', `${what} was written after the read`);
    }
  };
  for (const replica of replicas) for (const r of replica.records) judge(replica.node, replica.table, r);
  for (const op of history) {
    if (op.kind === 'read' && op.outcome === 'ok' && op.value)
      judge(`read by ${op.client}`, op.table, op.value, op.completedAt);
  }
}

const short = (text: string): string => (text.length > 60 ? `${text.slice(0, 57)}…` : text);

/** I7 as an ordering: per hub process, a receipt never covers a seq before the hub traced it durable. */
function checkReceiptOrder(traces: readonly Readonly<Record<string, unknown>>[], tally: Tally): void {
  const durable = new Map<string, number>();
  for (const line of traces) {
    const event = line['tm_trace'];
    if (event !== 'durable' && event !== 'receipt') continue;
    const stream = `${String(line['pid'])} ${String(line['node'])} ${String(line['table'])}/${String(line['epoch'])}`;
    const through = Number(line['through']);
    if (event === 'durable') durable.set(stream, Math.max(durable.get(stream) ?? 0, through));
    else if (through > (durable.get(stream) ?? 0)) {
      tally.add(
        'receiptOrderViolations',
        `${stream}: receipt through ${through}, durable through ${durable.get(stream) ?? 0}`,
      );
    }
  }
}

/** The counters that are not 0, with their examples: for an assertion message. */
export function describeFailures(report: CheckReport): string {
  return CHECK_COUNTERS.filter((c) => report[c] !== 0)
    .map((c) => `${c} = ${report[c]}:\n    ${(report.examples[c] ?? []).join('\n    ')}`)
    .join('\n  ');
}

/** The counters only (for the scenario's JSON line). */
export function countersOf(report: CheckReport): CheckCounters {
  return Object.fromEntries(CHECK_COUNTERS.map((c) => [c, report[c]])) as unknown as CheckCounters;
}
