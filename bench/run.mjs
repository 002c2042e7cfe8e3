// Runs every scenario script in bench/ (each in its own process), prints their tables and writes all results
// as JSON to bench/results/<time>.json. Benchmarks never fail CI: exit 0 whatever the targets say.
// Usage: npm run bench                       (builds first)
//        node bench/run.mjs [name…]            (only the named scenarios, e.g. `store`)
//        node bench/run.mjs --json FILE        (also write the results to FILE)
//        node bench/run.mjs --quick            (passed to scenarios: shorter waits, development only)
// Ratios: each figure next to the ceiling it is compared to (SPEC §10), taken from the same run's store.mjs,
// api.mjs and mqtt.mjs results; load average sampled before and after every scenario.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable } from './_lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const quick = args.includes('--quick');
const wanted = args.filter((a, i) => !a.startsWith('--') && (jsonAt < 0 || i !== jsonAt + 1));
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && f !== 'run.mjs' && !f.startsWith('_'))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.mjs$/, '')))
  .sort();

const machine = {
  node: process.version,
  platform: `${platform()} ${release()}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryMb: Math.round(totalmem() / 2 ** 20),
  loadavgAtStart: loadavg(),
};
console.log(
  `node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, load ${machine.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')}`,
);

const results = [];
const loads = [];
for (const script of scripts) {
  const before = loadavg()[0];
  const child = spawnSync(process.execPath, [join(here, script), '--json', ...(quick ? ['--quick'] : [])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 10 * 60_000,
  });
  const line = child.stdout?.trim().split('\n').pop() ?? '';
  try {
    const result = JSON.parse(line);
    results.push(result);
    printTable(result);
  } catch {
    console.log(`\n${script}: no result (exit ${child.status}, signal ${child.signal})`);
    results.push({ scenario: script, error: `exit ${child.status}`, output: child.stdout });
  }
  loads.push({ scenario: script.replace(/\.mjs$/, ''), load1Before: before, load1After: loadavg()[0] });
}

const ratios = crossRatios(results);
if (ratios.length > 0) {
  console.log("\nratios against the same run's ceilings");
  for (const r of ratios)
    console.log(
      `${r.name}: ${r.value.toFixed(r.value < 0.1 ? 3 : 2)}${r.wanted ? ` (SPEC ${r.wanted})` : ''}`,
    );
}
const load1 = loads.flatMap((l) => [l.load1Before, l.load1After]);
console.log(
  `\nload average (1 min) during the run: ${Math.min(...load1).toFixed(2)}–${Math.max(...load1).toFixed(2)}`,
);
if (Math.max(...load1) > 2) console.log('load above 2 on this machine: absolute figures are indicative only');

const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `${new Date().toISOString().replaceAll(':', '-')}.json`);
const out = `${JSON.stringify({ date: new Date().toISOString(), machine, loadavgAtEnd: loadavg(), loads, ratios, results }, null, 2)}\n`;
writeFileSync(file, out);
if (jsonFile) writeFileSync(jsonFile, out);
// `biome check .` also reads gitignored files; format the result its way so a local `npm test` stays green.
spawnSync(join(here, '..', 'node_modules', '.bin', 'biome'), ['format', '--write', file], {
  stdio: 'ignore',
});
console.log(`\nresults: ${file}`);

/** Figures of different scenarios compared as SPEC §10 compares them (missing scenarios are left out). */
function crossRatios(all) {
  const find = (scenario, prefix) =>
    all.find((r) => r.scenario === scenario)?.measures?.find((m) => m.name.startsWith(prefix))?.median;
  const batch100 = find('store', 'leveldb batch-100 fsync') ?? find('api', 'leveldb batch-100 fsync');
  const single = find('store', 'leveldb single put fsync') ?? find('api', 'leveldb single put fsync');
  const mqtt10k = find('mqtt', 'Aedes+mqtt.js QoS 1, 10000 B, PUBACKed');
  const pairs = [
    [
      'replication A → hub durable ÷ batch-100 fsync',
      find('replication', 'edge A API → durable'),
      batch100,
      '≥ 0.20',
    ],
    ['replication A → edge B ÷ batch-100 fsync', find('replication', 'edge A API → visible'), batch100],
    [
      'API PUT 8 clients (published) ÷ single put fsync',
      find('api', 'API PUT, 8 clients, published'),
      single,
    ],
    ['store 128 outstanding ÷ batch-100 fsync', find('store', 'store, 128 outstanding'), batch100, '≥ 0.70'],
    ['drain ÷ batch-100 fsync', find('drain', 'drain to the hub'), batch100],
    [
      'replication A → hub durable ÷ (bare MQTT 10 kB msg/s × 100)',
      find('replication', 'edge A API → durable'),
      mqtt10k && mqtt10k * 100,
    ],
  ];
  return pairs
    .filter(([, a, b]) => a !== undefined && b)
    .map(([name, a, b, wanted]) => ({ name, value: a / b, ...(wanted ? { wanted } : {}) }));
}
