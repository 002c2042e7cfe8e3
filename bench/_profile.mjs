// Development helper (not a scenario): runs hub + edge A + edge B with --cpu-prof, replicates BENCH_RECORDS
// records (100/request, 8 clients), then a snapshot to a new edge C, and stops them (profiles in PROF_DIR).
import { Testkit, waitFor } from '../packages/testkit/dist/index.js';
import { loadRecords } from './_lib.mjs';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 30_000);
const dir = process.env.PROF_DIR ?? '/tmp/prof';
const prof = (name) => ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}.cpuprofile`];
const kit = new Testkit('tm-bench-prof-');
try {
  const hub = kit.createHub({
    nodes: [
      { id: 'edgeA', publish: ['bench'] },
      { id: 'edgeB', subscribe: ['bench'] },
      { id: 'edgeC', subscribe: ['bench'] },
    ],
    config: { feedRetention: { bytes: 1 }, maintenanceIntervalMs: 200 },
  });
  hub.nodeArgs = prof('hub');
  await hub.start();
  const a = kit.createEdge({ name: 'edgeA', hub, publish: ['bench'] });
  a.nodeArgs = prof('edgeA');
  await a.start();
  const b = kit.createEdge({ name: 'edgeB', hub, subscribe: [{ table: 'bench', start: 'now' }] });
  b.nodeArgs = prof('edgeB');
  await b.start();
  await a.http.put('bench', 'warm', { w: 1 });
  await waitFor(async () => (await b.http.get('bench', 'warm')) !== undefined, { timeoutMs: 60_000 });
  const t0 = performance.now();
  await loadRecords(a, 'bench', { count: RECORDS });
  await a.http.put('bench', 'marker', { done: true });
  await waitFor(async () => (await hub.http.get('bench', 'marker')) !== undefined, {
    timeoutMs: 300_000,
    intervalMs: 5,
  });
  const t1 = performance.now();
  await waitFor(async () => (await b.http.get('bench', 'marker')) !== undefined, {
    timeoutMs: 300_000,
    intervalMs: 5,
  });
  const t2 = performance.now();
  console.log(
    `hub durable ${Math.round(RECORDS / ((t1 - t0) / 1000))}/s, B visible ${Math.round(RECORDS / ((t2 - t0) / 1000))}/s`,
  );
  await new Promise((r) => setTimeout(r, 1000));
  const c = kit.createEdge({ name: 'edgeC', hub, subscribe: [{ table: 'bench', start: 'beginning' }] });
  c.nodeArgs = prof('edgeC');
  let done = 0;
  c.watch((l) => {
    if (!done && l.msg === 're-baselined by snapshot (I13)') done = performance.now();
  });
  const t3 = performance.now();
  await c.start();
  await waitFor(() => done > 0, { timeoutMs: 120_000, intervalMs: 5 });
  console.log(`snapshot ${RECORDS} in ${((done - t3) / 1000).toFixed(2)} s`);
  for (const n of [c, b, a, hub]) await n.stop(20_000);
} finally {
  await kit.cleanup(20_000);
}
