// Backlog drain and snapshot (SPEC §10), over the built binaries as real processes with fsync:
//   4. drain: the hub is stopped while BENCH_BACKLOG (200k) records queue in edge A's outbox (100 per request);
//      then the hub starts again and A drains: records/s until the outbox is empty (receipted, i.e. durable at
//      the hub), first half vs second half (no decay);
//   5. snapshot: the hub keeps almost no feed (feedRetention 1 byte, trimmed every 200 ms), so a new edge C
//      subscribing from `beginning` gets a snapshot (I13) of the BENCH_SNAPSHOT (100k) records: seconds from
//      C's start until it logs that the snapshot is applied, and C holds every record.
// Needs `npm run build`. Run: node bench/drain.mjs [--json]
import { Testkit, waitFor } from '../packages/testkit/dist/index.js';
import { loadRecords, report } from './_lib.mjs';

const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 200_000);
const SNAPSHOT = Number(process.env.BENCH_SNAPSHOT ?? 100_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function status(edge) {
  const res = await fetch(`http://127.0.0.1:${edge.httpPort}/_status`);
  return res.json();
}

/** Receipted seq of `table` on edge A (one transaction per 100 records). */
async function receipted(edge, table) {
  const s = await status(edge);
  return s.published.find((p) => p.table === `data.${table}`)?.receiptedThrough ?? 0;
}

async function drain(kit) {
  const hub = await kit.startHub({ nodes: [{ id: 'edgeA', publish: ['drain'] }] });
  const a = await kit.startEdge({ name: 'edgeA', hub, publish: ['drain'] });
  await a.http.put('drain', 'warm', { warm: true });
  await waitFor(async () => (await receipted(a, 'drain')) >= 1, {
    timeoutMs: 30_000,
    message: 'warm-up receipted',
  });
  await hub.stop();
  const loadStart = performance.now();
  await loadRecords(a, 'drain', { count: BACKLOG });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const base = await receipted(a, 'drain');
  const total = BACKLOG / 100;
  await hub.start();
  const batchesOf = async (node) => (await node.http.metrics()).sum('tablemesh_store_batches_total');
  const hubBefore = await batchesOf(hub);
  const start = performance.now();
  let half = 0;
  for (;;) {
    const done = (await receipted(a, 'drain')) - base;
    const now = performance.now();
    if (!half && done >= total / 2) half = now;
    if (done >= total) break;
    if (now - start > 600_000) throw new Error(`drain stalled at ${done} of ${total} transactions`);
    await sleep(20);
  }
  const end = performance.now();
  const hubFsyncs = (await batchesOf(hub)) - hubBefore;
  await hub.stop();
  await a.stop();
  return {
    loadRate: BACKLOG / loadSeconds,
    rate: BACKLOG / ((end - start) / 1000),
    first: BACKLOG / 2 / ((half - start) / 1000),
    second: BACKLOG / 2 / ((end - half) / 1000),
    seconds: (end - start) / 1000,
    hubFsyncs,
    transactions: total,
  };
}

async function snapshot(kit) {
  const hub = await kit.startHub({
    nodes: [
      { id: 'edgeA', publish: ['snap'] },
      { id: 'edgeC', subscribe: ['snap'] },
    ],
    config: { feedRetention: { bytes: 1 }, maintenanceIntervalMs: 200 },
  });
  const a = await kit.startEdge({ name: 'edgeA', hub, publish: ['snap'] });
  await loadRecords(a, 'snap', { count: SNAPSHOT });
  await a.http.put('snap', 'marker', { done: true });
  await waitFor(async () => (await hub.http.get('snap', 'marker')) !== undefined, {
    timeoutMs: 300_000,
    intervalMs: 50,
    message: 'records durable at the hub',
  });
  await a.stop();
  await sleep(1_000); // at least one feed trim after the last write
  const c = kit.createEdge({ name: 'edgeC', hub, subscribe: [{ table: 'snap', start: 'beginning' }] });
  let applied = 0;
  c.watch((line) => {
    if (!applied && line.msg === 're-baselined by snapshot (I13)') applied = performance.now();
  });
  const start = performance.now();
  await c.start();
  const ready = performance.now();
  await waitFor(() => applied > 0, {
    timeoutMs: 120_000,
    intervalMs: 5,
    message: 'snapshot applied on edge C',
  });
  const count = (await c.http.digest('snap')).count;
  if (count !== SNAPSHOT + 1) throw new Error(`edge C holds ${count} records, expected ${SNAPSHOT + 1}`);
  return { seconds: (applied - start) / 1000, afterReady: (applied - ready) / 1000 };
}

const kit = new Testkit('tm-bench-drain-');
process.once('SIGINT', () => void kit.cleanup().finally(() => process.exit(130)));
try {
  const dr = await drain(kit);
  const sn = await snapshot(kit);
  const one = (name, unit, value) => ({ name, unit, median: value, runs: [value] });
  report({
    scenario: 'drain',
    runsPerMeasure: 1,
    runMs: Math.round(dr.seconds * 1000),
    measures: [
      one(`backlog queued offline (${BACKLOG} records, 100/request, 8 clients)`, 'records/s', dr.loadRate),
      one('drain to the hub (receipted), whole backlog', 'records/s', dr.rate),
      one('drain, first half', 'records/s', dr.first),
      one('drain, second half', 'records/s', dr.second),
      one('drain, time to empty', 's', dr.seconds),
      one(`snapshot of ${SNAPSHOT} records to a new edge, from its process start`, 's', sn.seconds),
      one('snapshot, from its ready line', 's', sn.afterReady),
    ],
    targets: [
      { name: 'drain, k records/s (SPEC ≥ 40)', value: dr.rate / 1000, target: 40, pass: dr.rate >= 40_000 },
      {
        name: 'drain, second half ÷ first half (no decay)',
        value: dr.second / dr.first,
        target: 0.9,
        pass: dr.second / dr.first >= 0.9,
      },
      { name: 'snapshot: 3 s budget ÷ measured', value: 3 / sn.seconds, target: 1, pass: sn.seconds <= 3 },
    ],
    notes: [
      `hub fsyncs during the drain: ${dr.hubFsyncs} for ${dr.transactions} transactions of 100 records (tablemesh_store_batches_total)`,
      'one run each (minutes of setup); fsync on every node; drain rate read from edge A /_status every 20 ms',
      'snapshot forced by feedRetention.bytes = 1 on the hub (the feed is trimmed before edge C subscribes)',
    ],
  });
} finally {
  await kit.cleanup();
}
