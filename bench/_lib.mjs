// Shared helpers of the benchmark scripts: timing, medians, fresh LevelDB dirs, a sensor-like row, output.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs per scenario (median reported); BENCH_RUNS overrides, never below 3 for reported numbers. */
export const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
/** Length of one timed run in ms; BENCH_MS overrides. */
export const RUN_MS = Math.max(200, Number(process.env.BENCH_MS ?? 2_000));

/** Median of a list of numbers. */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A fresh directory under os.tmpdir(); the callback's result is returned and the directory removed. */
export async function withTempDir(prefix, fn) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A sensor reading of about 100 bytes of JSON. */
export function sensorRow(i) {
  return {
    sensor: `sensor-${String(i % 1000).padStart(4, '0')}`,
    ts: 1_718_000_000_000 + i,
    temp: 21.37,
    humidity: 48.2,
    pressure: 1013.25,
    battery: 0.87,
    status: 'ok',
  };
}

/** Prints a scenario report as a table, or as one JSON line with --json (read by run.mjs). */
export function report(result) {
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  printTable(result);
}

/** Human-readable table of one scenario report. */
export function printTable(result) {
  const fmt = (n) =>
    Math.abs(n) < 100 ? n.toFixed(Math.abs(n) < 10 ? 2 : 1) : Math.round(n).toLocaleString('en-US');
  console.log(`\n${result.scenario} (${result.runsPerMeasure} runs × ${result.runMs} ms, median)`);
  const rows = result.measures.map((m) => [
    m.name,
    `${fmt(m.median)} ${m.unit}`,
    m.runs.length > 1 ? `${fmt(Math.min(...m.runs))}–${fmt(Math.max(...m.runs))}` : '(1 run)',
  ]);
  printRows(['measure', 'median', 'min–max'], rows);
  if (result.targets.length > 0) {
    console.log('');
    const trows = result.targets.map((t) => [
      t.name,
      t.value.toFixed(2),
      `≥ ${t.target}`,
      t.pass ? 'PASS' : 'FAIL',
    ]);
    printRows(['target', 'value', 'wanted', ''], trows);
  }
  for (const note of result.notes ?? []) console.log(`note: ${note}`);
}

function printRows(header, rows) {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  const line = (r) => r.map((cell, c) => String(cell).padEnd(widths[c])).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

/** RSS now and its peak (VmHWM) of a process, in MB, from /proc (Linux). */
export function rssOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** `count` records in `/_batch` requests of `perRequest` puts from `clients` concurrent clients; keys `${prefix}${i}`. */
export async function loadRecords(
  edge,
  table,
  { count, perRequest = 100, clients = 8, prefix = 'r', from = 0 },
) {
  const requests = Math.ceil(count / perRequest);
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < requests) {
        const r = next++;
        const ops = [];
        for (let j = 0; j < perRequest && r * perRequest + j < count; j++) {
          const i = from + r * perRequest + j;
          ops.push({ kind: 'put', key: `${prefix}${i}`, attrs: sensorRow(i) });
        }
        await edge.http.batch([{ table, ops }]);
      }
    }),
  );
}
