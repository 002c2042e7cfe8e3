// Edge memory (SPEC §10): RSS of an edge (real processes, fsync) 60 s after start with 3 tables — it publishes
// `alerts` and `sensor_data` and subscribes to `thresholds` — no forced GC, for each memory profile
// (packages/edge/src/config-memory.ts, docs/memory.md):
//   idle: a few records in each table, then nothing;
//   load: from start, 8 clients write /_batch requests of 100 sensor rows to the published `sensor_data` (the
//         replication load of replication.mjs) until the measure; records/s acked by the edge and receipted by the
//         hub (durable there) are reported next to the RSS, so a profile that saves memory by losing throughput
//         shows it.
// The low profile runs as deployed: `memory: low` in the config plus the startup settings that
// deploy/systemd/low-memory.conf and deploy/docker/edge-low-memory.env set (NODE_OPTIONS, MALLOC_ARENA_MAX, …).
// Each (profile, phase) is a fresh hub + edge. Also the hub's idle RSS (default profile run).
// `--quick` waits 5 s instead of 60 s (development only). Needs `npm run build`.
// Run: node bench/memory.mjs [--json]; BENCH_MEMORY_PROFILES=default,low; BENCH_MEMORY_PHASES=idle,load.
import { readFileSync } from 'node:fs';
import { MEMORY_PROFILES } from '../packages/edge/dist/config-memory.js';
import { Testkit, waitFor } from '../packages/testkit/dist/index.js';
import { report, rssOf, sensorRow } from './_lib.mjs';

const MEASURE_MS = process.argv.includes('--quick') ? 5_000 : Number(process.env.BENCH_IDLE_MS ?? 60_000);
const PROFILES = (process.env.BENCH_MEMORY_PROFILES ?? 'default,low').split(',');
const PHASES = (process.env.BENCH_MEMORY_PHASES ?? 'idle,load').split(',');
const CLIENTS = 8;
const PER_REQUEST = 100;
const BUDGET = { idle: { default: 80, low: 64 }, load: { default: 150, low: 150 } };

/** The environment a deployment with this profile gives the edge (the systemd drop-in, the container env file). */
function startupEnv(profile) {
  const { startup } = MEMORY_PROFILES[profile];
  return startup.nodeOptions.length > 0
    ? { NODE_OPTIONS: startup.nodeOptions.join(' '), ...startup.env }
    : { ...startup.env };
}

/** Anonymous RSS (V8 heap, malloc, stacks) in MB: RSS without the file-backed pages of node and its libraries. */
function anonMb(pid) {
  const kb = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? Number.NaN) / 1024;
}

/** `tablemesh_receipted_through{table="data.sensor_data"}` from the edge's /metrics. */
async function receiptedThrough(edge) {
  const text = await (await fetch(`http://127.0.0.1:${edge.httpPort}/metrics`)).text();
  return Number(/^tablemesh_receipted_through\{table="data.sensor_data"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

/** One fresh hub + edge with `profile`; `phase` idle or load; RSS MEASURE_MS after the edge's start. */
async function measure(profile, phase) {
  const kit = new Testkit('tm-bench-mem-');
  const stopOnSignal = () => void kit.cleanup().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  try {
    const hub = await kit.startHub({
      tables: [{ name: 'thresholds' }],
      nodes: [{ id: 'edgeA', publish: ['alerts', 'sensor_data'], subscribe: ['thresholds'] }],
    });
    const a = kit.createEdge({
      name: 'edgeA',
      hub,
      publish: ['alerts', 'sensor_data'],
      subscribe: [{ table: 'thresholds' }],
      config: profile === 'default' ? {} : { memory: profile },
    });
    a.extraEnv = startupEnv(profile);
    await a.start();
    const started = performance.now();
    const ready = a.ready?.memory;
    for (let i = 0; i < 10; i++) {
      await hub.http.put('thresholds', `t${i}`, { max: 30 + i });
      await a.http.put('sensor_data', `s${i}`, sensorRow(i));
      await a.http.put('alerts', `a${i}`, { sensor: `s${i}`, value: 31 });
    }
    await waitFor(async () => (await a.http.get('thresholds', 't9')) !== undefined, {
      timeoutMs: 30_000,
      message: 'thresholds on the edge',
    });
    let stop = false;
    let acked = 0;
    let next = 0;
    const seq0 = await receiptedThrough(a);
    const loadStart = performance.now();
    const clients =
      phase === 'load'
        ? Array.from({ length: CLIENTS }, async () => {
            while (!stop) {
              const r = next++;
              const ops = [];
              for (let j = 0; j < PER_REQUEST; j++) {
                const i = r * PER_REQUEST + j;
                ops.push({ kind: 'put', key: `r${i}`, attrs: sensorRow(i) });
              }
              await a.http.batch([{ table: 'sensor_data', ops }]);
              acked += PER_REQUEST;
            }
          })
        : [];
    const wait = started + MEASURE_MS - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const edge = { ...rssOf(a.pid), anonMb: anonMb(a.pid) };
    const hubMem = rssOf(hub.pid);
    const seconds = (performance.now() - loadStart) / 1000;
    // one transaction of PER_REQUEST records per request: receipted seqs × PER_REQUEST = records durable at the hub
    const receipted = ((await receiptedThrough(a)) - seq0) * PER_REQUEST;
    stop = true;
    await Promise.all(clients);
    return { edge, hub: hubMem, acked: acked / seconds, receipted: receipted / seconds, ready };
  } finally {
    await kit.cleanup();
    process.removeListener('SIGINT', stopOnSignal);
  }
}

const one = (name, unit, value) => ({ name, unit, median: value, runs: [value] });
const measures = [];
const targets = [];
const notes = [];
const secs = MEASURE_MS / 1000;
for (const profile of PROFILES) {
  for (const phase of PHASES) {
    const m = await measure(profile, phase);
    const label = `edge, memory ${profile}, ${phase}`;
    measures.push(one(`${label}: RSS ${secs} s after start`, 'MB', m.edge.rssMb));
    measures.push(one(`${label}: peak RSS (VmHWM)`, 'MB', m.edge.peakMb));
    measures.push(one(`${label}: anonymous RSS (RssAnon) ${secs} s after start`, 'MB', m.edge.anonMb));
    if (phase === 'load') {
      measures.push(one(`${label}: records acked by the edge`, 'records/s', m.acked));
      measures.push(one(`${label}: records receipted by the hub`, 'records/s', m.receipted));
    }
    if (profile === 'default' && phase === 'idle') {
      measures.push(one(`hub RSS ${secs} s after start, idle`, 'MB', m.hub.rssMb));
    }
    const budget = BUDGET[phase][profile];
    if (budget !== undefined) {
      targets.push({
        name: `edge ${phase}, memory ${profile}: ${budget} MB budget ÷ RSS`,
        value: budget / m.edge.rssMb,
        target: 1,
        pass: m.edge.rssMb <= budget,
      });
    }
    if (m.ready?.missing?.length > 0) notes.push(`${label}: startup settings missing: ${m.ready.missing}`);
    if (m.ready) notes.push(`${label}: V8 heap limit ${m.ready.heapLimitMiB} MiB`);
  }
}
report({
  scenario: 'memory',
  runsPerMeasure: 1,
  runMs: MEASURE_MS,
  measures,
  targets,
  notes: [
    'no forced GC; RSS from /proc/<pid>/status (VmRSS, VmHWM); a fresh hub + edge per line',
    'RssAnon = RSS less the file-backed pages of the node binary and its libraries (≈ 40 MB, shared and reclaimable)',
    `load: ${CLIENTS} clients × /_batch of ${PER_REQUEST} sensor rows into a published table, from start to the measure`,
    ...Object.keys(MEMORY_PROFILES).map(
      (p) =>
        `memory ${p}: startup env ${JSON.stringify(startupEnv(p))}, V8 ${MEMORY_PROFILES[p].v8Flags.join(' ')}`,
    ),
    ...notes,
    ...(MEASURE_MS < 60_000 ? [`--quick: ${MEASURE_MS} ms instead of 60 s, not a reported figure`] : []),
  ],
});
