// Runs every scenario script in bench/ (each in its own process), prints their tables and writes all results
// as JSON to bench/results/<time>.json. Benchmarks never fail CI: exit 0 whatever the targets say.
// Usage: npm run bench            (builds first)
//        node bench/run.mjs [name…] (only the named scenarios, e.g. `store`)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable } from './_lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
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
for (const script of scripts) {
  const child = spawnSync(process.execPath, [join(here, script), '--json'], {
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
}

const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });
const file = join(resultsDir, `${new Date().toISOString().replaceAll(':', '-')}.json`);
writeFileSync(file, `${JSON.stringify({ machine, loadavgAtEnd: loadavg(), results }, null, 2)}\n`);
// `biome check .` also reads gitignored files; format the result its way so a local `npm test` stays green.
spawnSync(join(here, '..', 'node_modules', '.bin', 'biome'), ['format', '--write', file], {
  stdio: 'ignore',
});
console.log(`\nresults: ${file}`);
