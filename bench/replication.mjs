// Replication benchmark (SPEC §10, issue 3's rough numbers), over the built binaries as real processes:
//   1. throughput: 100k records written to edge A's API, 100 records per POST /_batch (one transaction each),
//      several concurrent clients → records/s until acknowledged locally, until durable at the hub (the hub
//      applied a marker written after them; per-origin order, I8), and until visible on edge B;
//   2. lag at a steady 1k tx/s (single-record PUTs on A): a probe record every ~25 ms, timed from A's 2xx
//      (local commit) until the hub and edge B serve it (polled every ms); p50/p99.
// Needs `npm run build` (uses packages/testkit/dist). Run: node bench/replication.mjs [--json]
// Knobs: BENCH_RECORDS (100000), BENCH_CLIENTS (8), BENCH_LAG_MS (12000), BENCH_RATE (1000 tx/s).
import { Testkit, waitFor } from '../packages/testkit/dist/index.js';
import { report, rssOf, sensorRow } from './_lib.mjs';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const PER_REQUEST = 100;
const LAG_MS = Number(process.env.BENCH_LAG_MS ?? 12_000);
const RATE = Number(process.env.BENCH_RATE ?? 1_000);
const WARMUP_MS = 2_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function cluster(kit) {
  const hub = await kit.startHub({
    tables: [{ name: 'probe' }],
    nodes: [
      { id: 'edgeA', publish: ['bench', 'load', 'probe'] },
      { id: 'edgeB', subscribe: ['bench', 'load', 'probe'] },
    ],
  });
  const a = await kit.startEdge({ name: 'edgeA', hub, publish: ['bench', 'load', 'probe'] });
  const b = await kit.startEdge({
    name: 'edgeB',
    hub,
    subscribe: [{ table: 'bench' }, { table: 'load' }, { table: 'probe' }],
  });
  // Tables exist on the hub after A's first publish; B's subscriptions retry until then.
  for (const table of ['bench', 'load', 'probe']) await a.http.put(table, 'warm', { warm: true });
  await waitFor(
    async () =>
      (await b.http.get('bench', 'warm')) &&
      (await b.http.get('load', 'warm')) &&
      (await b.http.get('probe', 'warm')),
    { timeoutMs: 30_000, message: 'edge B subscribed' },
  );
  return { hub, a, b };
}

/** Group batches written (fsyncs) per node so far, from /metrics. */
async function fsyncs(nodes) {
  const out = {};
  for (const [name, node] of Object.entries(nodes)) {
    out[name] = (await node.http.metrics()).sum('tablemesh_store_batches_total');
  }
  return out;
}

/** Throughput: RECORDS records in batches of PER_REQUEST from CLIENTS concurrent clients. */
async function throughput({ hub, a, b }) {
  const requests = Math.ceil(RECORDS / PER_REQUEST);
  let next = 0;
  const before = await fsyncs({ hub, a, b });
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < requests) {
        const r = next++;
        const ops = [];
        for (let j = 0; j < PER_REQUEST; j++) {
          const i = r * PER_REQUEST + j;
          ops.push({ kind: 'put', key: `r${i}`, attrs: sensorRow(i) });
        }
        await a.http.batch([{ table: 'bench', ops }]);
      }
    }),
  );
  const acked = performance.now();
  // One more transaction after all of them: the hub applies A's transactions in seq order (I8) and B applies
  // the hub's feed in order, so the marker is visible only after every record before it.
  await a.http.put('bench', 'marker', { done: true });
  const seen = { hub: 0, b: 0 };
  const markerOn = (node, name) =>
    waitFor(
      async () => {
        if (!(await node.http.get('bench', 'marker'))) return false;
        seen[name] = performance.now();
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 5, message: `marker on ${name}` },
    );
  await Promise.all([markerOn(hub, 'hub'), markerOn(b, 'b')]);
  const [hubCount, bCount] = [(await hub.http.digest('bench')).count, (await b.http.digest('bench')).count];
  if (hubCount !== RECORDS + 2 || bCount !== RECORDS + 2) {
    throw new Error(`expected ${RECORDS + 2} records, hub has ${hubCount}, edge B ${bCount}`);
  }
  const rate = (t) => RECORDS / ((t - start) / 1000);
  const after = await fsyncs({ hub, a, b });
  // fsyncs per 100 records (one request's worth): how well each node groups its commits
  const per100 = Object.fromEntries(
    Object.keys(after).map((k) => [k, ((after[k] - before[k]) * PER_REQUEST) / RECORDS]),
  );
  return {
    local: rate(acked),
    hub: rate(seen.hub),
    b: rate(seen.b),
    seconds: (seen.b - start) / 1000,
    per100,
  };
}

/** Lag at RATE tx/s: background single-record PUTs plus timed probes. */
async function lag({ hub, a, b }) {
  let stop = false;
  let sent = 0;
  let done = 0;
  let errors = 0;
  const firstErrors = [];
  const startedAt = performance.now();
  const load = (async () => {
    // Paced in 10 ms ticks: RATE/100 PUTs per tick, without waiting for their answers.
    let tick = 0;
    const inflight = new Set();
    while (!stop) {
      const due = startedAt + tick * 10;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      tick++;
      for (let j = 0; j < RATE / 100; j++) {
        const p = a.http
          .put('load', `l${sent % 5_000}`, { n: sent, t: Date.now() })
          .then(() => done++)
          .catch((err) => {
            errors++;
            if (firstErrors.length < 3) firstErrors.push(String(err.message ?? err).slice(0, 200));
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
        sent++;
      }
    }
    await Promise.all(inflight);
  })();
  const hubLags = [];
  const bLags = [];
  let probes = 0;
  while (performance.now() - startedAt < LAG_MS) {
    const key = `p${probes++}`;
    await a.http.put('probe', key, { t: Date.now() });
    const committed = performance.now();
    let atHub = 0;
    let atB = 0;
    const deadline = committed + 10_000;
    while ((!atHub || !atB) && performance.now() < deadline) {
      const [h, x] = await Promise.all([
        atHub ? true : hub.http.get('probe', key),
        atB ? true : b.http.get('probe', key),
      ]);
      const now = performance.now();
      if (h && !atHub) atHub = now;
      if (x && !atB) atB = now;
      if (!atHub || !atB) await sleep(1);
    }
    if (committed - startedAt > WARMUP_MS) {
      hubLags.push(atHub ? atHub - committed : Number.POSITIVE_INFINITY);
      bLags.push(atB ? atB - committed : Number.POSITIVE_INFINITY);
    }
    await sleep(25);
  }
  stop = true;
  await load;
  const seconds = (performance.now() - startedAt) / 1000;
  hubLags.sort((x, y) => x - y);
  bLags.sort((x, y) => x - y);
  return {
    offered: sent / seconds,
    completed: done / seconds,
    errors,
    firstErrors,
    samples: bLags.length,
    hub: { p50: pct(hubLags, 50), p99: pct(hubLags, 99) },
    b: { p50: pct(bLags, 50), p99: pct(bLags, 99) },
  };
}

const kit = new Testkit('tm-bench-repl-');
const onSignal = () => void kit.cleanup().finally(() => process.exit(130));
process.once('SIGINT', onSignal);
try {
  const nodes = await cluster(kit);
  const tp = await throughput(nodes);
  // Peak RSS (VmHWM) so far: the throughput phase is the heaviest of this scenario (SPEC §10: ≤ 150 MB).
  const peak = {
    a: rssOf(nodes.a.pid).peakMb,
    b: rssOf(nodes.b.pid).peakMb,
    hub: rssOf(nodes.hub.pid).peakMb,
  };
  const lg = await lag(nodes);
  const measure = (name, unit, value) => ({ name, unit, median: value, runs: [value] });
  report({
    scenario: 'replication',
    runsPerMeasure: 1,
    runMs: Math.round(tp.seconds * 1000),
    measures: [
      measure(
        `edge A API acked (${RECORDS} records, ${PER_REQUEST}/request, ${CLIENTS} clients)`,
        'records/s',
        tp.local,
      ),
      measure('edge A API → durable at the hub', 'records/s', tp.hub),
      measure('edge A API → visible on edge B', 'records/s', tp.b),
      measure(`load offered during the lag measures (${RATE} tx/s wanted)`, 'tx/s', lg.offered),
      measure('load committed by edge A meanwhile', 'tx/s', lg.completed),
      measure('lag A commit → hub serves it, p50', 'ms', lg.hub.p50),
      measure('lag A commit → hub serves it, p99', 'ms', lg.hub.p99),
      measure('lag A commit → edge B serves it, p50', 'ms', lg.b.p50),
      measure('lag A commit → edge B serves it, p99', 'ms', lg.b.p99),
      measure('edge A peak RSS under the throughput load', 'MB', peak.a),
      measure('edge B peak RSS under the throughput load', 'MB', peak.b),
      measure('hub peak RSS under the throughput load', 'MB', peak.hub),
    ],
    targets: [
      {
        name: 'A → hub durable, k records/s (SPEC ≥ 25)',
        value: tp.hub / 1000,
        target: 25,
        pass: tp.hub >= 25_000,
      },
      { name: 'lag A → B p50: 5 ms budget ÷ measured', value: 5 / lg.b.p50, target: 1, pass: lg.b.p50 <= 5 },
      {
        name: 'edge A peak RSS: 150 MB budget ÷ measured',
        value: 150 / peak.a,
        target: 1,
        pass: peak.a <= 150,
      },
      {
        name: 'lag A → B p99: 30 ms budget ÷ measured',
        value: 30 / lg.b.p99,
        target: 1,
        pass: lg.b.p99 <= 30,
      },
    ],
    notes: [
      `fsyncs per ${PER_REQUEST} records during the throughput phase: edge A ${tp.per100.a.toFixed(3)}, hub ${tp.per100.hub.toFixed(3)}, edge B ${tp.per100.b.toFixed(3)} (tablemesh_store_batches_total)`,
      `${lg.samples} lag probes after a ${WARMUP_MS} ms warm-up, polled every ~1 ms over HTTP (adds ~0.5 ms); ${lg.errors} load errors`,
      'fsync on every node (durability: fsync); hub and both edges share this machine',
      ...lg.firstErrors.map((e) => `load error: ${e}`),
    ],
  });
} finally {
  await kit.cleanup();
}
