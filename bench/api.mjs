// Data API benchmark (SPEC §10, issue 4): durable local writes through the edge's HTTP API, over the built binaries
// as real processes (a hub and an edge on loopback), next to the ceilings measured in the same run:
//   - LevelDB batch-100 with fsync and single put with fsync (raw classic-level),
//   - the store alone with the same shapes of work (8 writers × 1 outstanding single-op tx; 8 writers × 100-op tx),
//   - the API: 1 record per request with 8 concurrent clients (PUT), and 100 records per request (POST /_batch)
//     with 8 concurrent clients, each on a local table and on a table the edge publishes to the hub (after each
//     API run the edge's outbox is drained to the hub before the next measure starts, so replication does not
//     slow the next one down; the published rates include the replication running during their own run).
// Ceilings and store first, then the API (runs interleaved within each phase); medians of BENCH_RUNS (3) runs of
// BENCH_MS (2000) ms.
// Needs `npm run build`. Run: node bench/api.mjs [--json]
import { ClassicLevel } from 'classic-level';
import { LevelKv, Store } from '../packages/core/dist/index.js';
import { Testkit } from '../packages/testkit/dist/index.js';
import { median, RUN_MS, RUNS, report, sensorRow, withTempDir } from './_lib.mjs';

const CLIENTS = 8;
const rowBytes = (i) => Buffer.from(JSON.stringify(sensorRow(i)));

async function timed(loop, writers) {
  const start = performance.now();
  const deadline = start + RUN_MS;
  let done = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline) {
        const n = await loop(); // not `done += await loop()`: that reads `done` before the await and loses counts
        done += n;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

function rawLevel(perBatch) {
  return withTempDir('tm-bench-', async (dir) => {
    const db = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    let n = 0;
    try {
      return await timed(async () => {
        const ops = [];
        for (let j = 0; j < perBatch; j++, n++) ops.push({ type: 'put', key: `r/${n}`, value: rowBytes(n) });
        await db.batch(ops, { sync: true });
        return perBatch;
      }, 1);
    } finally {
      await db.close();
    }
  });
}

function storeWriters(perTx) {
  return withTempDir('tm-bench-', async (dir) => {
    const store = await Store.open({ kv: new LevelKv(dir), nodeId: 'bench' });
    try {
      await store.createTable({ name: 'sensors' });
      let n = 0;
      return await timed(async () => {
        const ops = [];
        for (let j = 0; j < perTx; j++, n++) ops.push({ kind: 'put', key: `r${n}`, attrs: sensorRow(n) });
        await store.writeLocal([{ table: 'sensors', ops }]);
        return perTx;
      }, CLIENTS);
    } finally {
      await store.close();
    }
  });
}

/** Waits until the edge has sent everything to the hub, so replication does not run into the next measure. */
async function settle(edge) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const backlog = (await edge.http.metrics()).sum('tablemesh_backlog_count');
    if (backlog === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the edge did not drain its outbox within 120 s');
}

let run = 0;
async function api(edge, table, perRequest) {
  const prefix = `run${run++}-`;
  let n = 0;
  const rate = await timed(async () => {
    if (perRequest === 1) {
      const i = n++;
      const res = await edge.http.request('PUT', `/${table}/${prefix}${i}`, sensorRow(i));
      if (res.status !== 200) throw new Error(`PUT answered ${res.status}: ${res.text}`);
      return 1;
    }
    const ops = [];
    for (let j = 0; j < perRequest; j++, n++)
      ops.push({ kind: 'put', key: `${prefix}${n}`, attrs: sensorRow(n) });
    const res = await edge.http.request('POST', '/_batch', { writes: [{ table, ops }] });
    if (res.status !== 200) throw new Error(`POST /_batch answered ${res.status}: ${res.text}`);
    return perRequest;
  }, CLIENTS);
  await settle(edge);
  return rate;
}

/** Interleaves the runs of `measures` (A B C, A B C, …) so slow drift spreads over all of them. */
async function measureAll(measures) {
  const runs = measures.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (const [i, m] of measures.entries()) runs[i].push(await m.run());
  }
  return measures.map((m, i) => ({ name: m.name, unit: m.unit, runs: runs[i], median: median(runs[i]) }));
}

// Phase 1, before any node runs: the ceilings and the store alone (the API runs leave LevelDB compactions behind
// in the edge and the hub, which would slow whatever is measured next).
const ceilings = await measureAll([
  { name: 'leveldb batch-100 fsync (ceiling)', unit: 'records/s', run: () => rawLevel(100) },
  { name: 'leveldb single put fsync (ceiling)', unit: 'ops/s', run: () => rawLevel(1) },
  { name: 'store, 8 writers × 1-op tx', unit: 'records/s', run: () => storeWriters(1) },
  { name: 'store, 8 writers × 100-op tx', unit: 'records/s', run: () => storeWriters(100) },
]);

// Phase 2: the API of a running edge (with its hub).
const kit = new Testkit('tm-bench-api-');
try {
  const hub = await kit.startHub({ nodes: [{ id: 'edgeA', publish: ['published'] }] });
  const edge = await kit.startEdge({
    name: 'edgeA',
    hub,
    publish: [{ table: 'published', quotaBytes: '4GiB' }],
    tables: [{ name: 'local' }],
  });
  await edge.http.put('published', 'warm', { warm: true });
  await edge.http.put('local', 'warm', { warm: true });
  const apis = await measureAll([
    { name: 'API PUT, 8 clients, local table', unit: 'records/s', run: () => api(edge, 'local', 1) },
    { name: 'API PUT, 8 clients, published table', unit: 'records/s', run: () => api(edge, 'published', 1) },
    { name: 'API _batch of 100, 8 clients, local', unit: 'records/s', run: () => api(edge, 'local', 100) },
    {
      name: 'API _batch of 100, 8 clients, published',
      unit: 'records/s',
      run: () => api(edge, 'published', 100),
    },
  ]);
  const results = [...ceilings, ...apis];
  const [batch, , store1, store100, putLocal, putPublished, batchLocal, batchPublished] = results.map(
    (r) => r.median,
  );
  const targets = [
    { name: 'API PUT 8 clients, k records/s (SPEC §10: ≥ 8)', value: putPublished / 1000, target: 8 },
    { name: 'API PUT / store 1-op (same work without HTTP)', value: putPublished / store1, target: 0.5 },
    { name: 'API _batch 100 / batch-100 fsync ceiling', value: batchPublished / batch, target: 0.2 },
  ].map((t) => ({ ...t, pass: t.value >= t.target }));
  report({
    scenario: 'api',
    runsPerMeasure: RUNS,
    runMs: RUN_MS,
    measures: results,
    targets,
    notes: [
      `HTTP + JSON cost: PUT local at ${((putLocal / store1) * 100).toFixed(0)}% of the store's 1-op rate, ` +
        `_batch local at ${((batchLocal / store100) * 100).toFixed(0)}% of its 100-op rate`,
      'the edge runs as its own process; the client (this process) and the hub share the machine with it',
    ],
  });
} finally {
  await kit.cleanup();
}
