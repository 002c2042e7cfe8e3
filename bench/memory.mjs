// Idle memory (SPEC §10): RSS of a hub and an edge (real processes, fsync) 60 s after start with 3 tables — the
// edge publishes `alerts` and `sensor_data` and subscribes to `thresholds`, a few records in each — no forced GC.
// Peak RSS under the replication load is reported by replication.mjs (VmHWM). `--quick` waits 5 s instead of
// 60 s (development only: the reported run uses 60 s). Needs `npm run build`. Run: node bench/memory.mjs [--json]
import { Testkit, waitFor } from '../packages/testkit/dist/index.js';
import { report, rssOf, sensorRow } from './_lib.mjs';

const IDLE_MS = process.argv.includes('--quick') ? 5_000 : Number(process.env.BENCH_IDLE_MS ?? 60_000);

const kit = new Testkit('tm-bench-mem-');
process.once('SIGINT', () => void kit.cleanup().finally(() => process.exit(130)));
try {
  const hub = await kit.startHub({
    tables: [{ name: 'thresholds' }],
    nodes: [{ id: 'edgeA', publish: ['alerts', 'sensor_data'], subscribe: ['thresholds'] }],
  });
  const a = await kit.startEdge({
    name: 'edgeA',
    hub,
    publish: ['alerts', 'sensor_data'],
    subscribe: [{ table: 'thresholds' }],
  });
  const started = performance.now();
  for (let i = 0; i < 10; i++) {
    await hub.http.put('thresholds', `t${i}`, { max: 30 + i });
    await a.http.put('sensor_data', `s${i}`, sensorRow(i));
    await a.http.put('alerts', `a${i}`, { sensor: `s${i}`, value: 31 });
  }
  await waitFor(async () => (await a.http.get('thresholds', 't9')) !== undefined, {
    timeoutMs: 30_000,
    message: 'thresholds on the edge',
  });
  const wait = started + IDLE_MS - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const edge = rssOf(a.pid);
  const hubMem = rssOf(hub.pid);
  const one = (name, value) => ({ name, unit: 'MB', median: value, runs: [value] });
  report({
    scenario: 'memory',
    runsPerMeasure: 1,
    runMs: IDLE_MS,
    measures: [
      one(`edge RSS ${IDLE_MS / 1000} s after start, 3 tables, idle`, edge.rssMb),
      one('edge peak RSS (VmHWM) over that time', edge.peakMb),
      one(`hub RSS ${IDLE_MS / 1000} s after start, idle`, hubMem.rssMb),
      one('hub peak RSS (VmHWM) over that time', hubMem.peakMb),
    ],
    targets: [
      { name: 'edge idle: 80 MB budget ÷ RSS', value: 80 / edge.rssMb, target: 1, pass: edge.rssMb <= 80 },
    ],
    notes: [
      'no forced GC; RSS from /proc/<pid>/status (VmRSS, VmHWM)',
      'the low-memory profile (≤ 64 MB) is not measured: the edge has no documented low-memory profile yet',
      ...(IDLE_MS < 60_000 ? [`--quick: ${IDLE_MS} ms instead of 60 s, not a reported figure`] : []),
    ],
  });
} finally {
  await kit.cleanup();
}
