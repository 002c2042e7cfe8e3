// Prints a run.mjs JSON result file as the markdown tables of bench/RESULTS.md.
// Usage: node bench/_results-md.mjs bench/results/<time>.json
import { readFileSync } from 'node:fs';

const run = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const fmt = (n) =>
  !Number.isFinite(n)
    ? String(n)
    : Math.abs(n) < 100
      ? n.toFixed(Math.abs(n) < 10 ? 2 : 1)
      : Math.round(n).toLocaleString('en-US');
const m = run.machine;
const loads = run.loads ?? [];
const all = loads.flatMap((l) => [l.load1Before, l.load1After]);
console.log(
  `Run of ${run.date ?? 'unknown date'}: Node ${m.node}, ${m.cpus} × ${m.cpuModel}, ${m.memoryMb} MB, ${m.platform}.`,
);
console.log(
  `Load average (1 min) at start ${m.loadavgAtStart.map((l) => l.toFixed(2)).join(' / ')}; during the scenarios ${Math.min(...all).toFixed(2)}–${Math.max(...all).toFixed(2)}.\n`,
);
for (const r of run.results) {
  const load = loads.find((l) => l.scenario === r.scenario);
  const loadText = load ? `, load ${load.load1Before.toFixed(1)} → ${load.load1After.toFixed(1)}` : '';
  console.log(`### ${r.scenario} (${r.runsPerMeasure ?? '?'} run(s) per measure${loadText})\n`);
  if (r.error) {
    console.log(`no result: ${r.error}\n`);
    continue;
  }
  if (r.measures.length > 0) {
    console.log('| measure | median | min–max |\n|---|---:|---:|');
    for (const x of r.measures) {
      const range = x.runs.length > 1 ? `${fmt(Math.min(...x.runs))}–${fmt(Math.max(...x.runs))}` : '(1 run)';
      console.log(`| ${x.name} | ${fmt(x.median)} ${x.unit} | ${range} |`);
    }
    console.log('');
  }
  if (r.targets.length > 0) {
    console.log('| target | value | wanted | |\n|---|---:|---:|---|');
    for (const t of r.targets)
      console.log(`| ${t.name} | ${t.value.toFixed(2)} | ≥ ${t.target} | ${t.pass ? 'PASS' : 'FAIL'} |`);
    console.log('');
  }
  for (const note of r.notes ?? []) console.log(`- ${note}`);
  console.log('');
}
if ((run.ratios ?? []).length > 0) {
  console.log("### ratios against the same run's ceilings\n\n| ratio | value | SPEC |\n|---|---:|---|");
  for (const r of run.ratios)
    console.log(`| ${r.name} | ${r.value.toFixed(r.value < 0.1 ? 3 : 2)} | ${r.wanted ?? ''} |`);
}
