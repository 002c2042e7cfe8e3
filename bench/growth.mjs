// Growth (SPEC §10, issue 8 scenario 7): replication throughput (100k records, 100/request, 8 clients, edge A API
// → durable at the hub → visible on edge B) on a table that already holds BENCH_GROWTH_BASE (1M) records.
// Loading 1M records through the API takes minutes on a loaded 2-core machine, so this scenario runs only with
// BENCH_GROWTH=1 (otherwise it reports that it was skipped). Needs `npm run build`. Run: node bench/growth.mjs
import { Testkit, waitFor } from '../packages/testkit/dist/index.js';
import { loadRecords, report } from './_lib.mjs';

const BASE = Number(process.env.BENCH_GROWTH_BASE ?? 1_000_000);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 100_000);

/** Writes `count` records after `from`, then a marker; seconds until acked, on the hub, on edge B. */
async function replicate({ hub, a, b }, from, count, marker) {
  const start = performance.now();
  await loadRecords(a, 'bench', { count, from });
  const acked = performance.now();
  await a.http.put('bench', marker, { done: true });
  const on = async (node) => {
    await waitFor(async () => (await node.http.get('bench', marker)) !== undefined, {
      timeoutMs: 1_800_000,
      intervalMs: 5,
      message: `${marker} replicated`,
    });
    return performance.now();
  };
  const [atHub, atB] = await Promise.all([on(hub), on(b)]);
  const rate = (t) => count / ((t - start) / 1000);
  return { local: rate(acked), hub: rate(atHub), b: rate(atB) };
}

if (process.env.BENCH_GROWTH !== '1') {
  report({
    scenario: 'growth',
    runsPerMeasure: 0,
    runMs: 0,
    measures: [],
    targets: [],
    notes: [`skipped: set BENCH_GROWTH=1 (loads ${BASE} records first, several minutes)`],
  });
} else {
  const kit = new Testkit('tm-bench-growth-');
  process.once('SIGINT', () => void kit.cleanup().finally(() => process.exit(130)));
  try {
    const hub = await kit.startHub({
      nodes: [
        { id: 'edgeA', publish: ['bench'] },
        { id: 'edgeB', subscribe: ['bench'] },
      ],
    });
    const a = await kit.startEdge({ name: 'edgeA', hub, publish: ['bench'] });
    const b = await kit.startEdge({ name: 'edgeB', hub, subscribe: [{ table: 'bench' }] });
    const nodes = { hub, a, b };
    const empty = await replicate(nodes, 0, RECORDS, 'm0');
    await replicate(nodes, RECORDS, BASE - RECORDS, 'm1');
    const full = await replicate(nodes, BASE, RECORDS, 'm2');
    const one = (name, value) => ({ name, unit: 'records/s', median: value, runs: [value] });
    report({
      scenario: 'growth',
      runsPerMeasure: 1,
      runMs: 0,
      measures: [
        one(`A → hub durable, first ${RECORDS} records (empty table)`, empty.hub),
        one(`A → hub durable, ${RECORDS} records on a table holding ${BASE}`, full.hub),
        one(`A → edge B visible, empty table`, empty.b),
        one(`A → edge B visible, table holding ${BASE}`, full.b),
      ],
      targets: [
        {
          name: `A → hub at ${BASE} ÷ on an empty table`,
          value: full.hub / empty.hub,
          target: 0.8,
          pass: full.hub / empty.hub >= 0.8,
        },
      ],
      notes: ['fsync on every node; one run'],
    });
  } finally {
    await kit.cleanup();
  }
}
