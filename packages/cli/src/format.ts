/**
 * Small output helpers (no dependency: a table, sizes, durations, a progress bar). The maintained table and
 * progress-bar packages add more than these ~100 lines do.
 */
import { usage } from './errors.js';

/** A cell: shown as text; null and undefined as `-`. */
export type Cell = string | number | boolean | null | undefined;

function cellText(c: Cell): string {
  if (c === null || c === undefined || c === '') return '-';
  if (typeof c === 'boolean') return c ? 'yes' : 'no';
  return String(c);
}

/** A plain-text table: upper-case headers, columns padded with two spaces, numbers right-aligned. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  // a column of numbers (and blanks) is right-aligned
  const numeric = headers.map(
    (_, i) =>
      rows.some((r) => typeof r[i] === 'number') &&
      rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...text.map(line)].join('\n');
}

/** `1.5 KiB`, `12 B`, `3.0 MiB`. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** `850ms`, `12s`, `3m20s`, `2h05m`, `3d04h`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const pad = (x: number) => String(x).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** Parses `500ms`, `10s`, `5m`, `1h`, `2d` or a number of seconds. */
export function parseDuration(raw: string, what = 'duration'): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m) throw usage(`${what} must look like 500ms, 30s, 5m, 1h or a number of seconds, got '${raw}'`);
  const factor = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's'] ?? 1_000;
  return Math.round(Number(m[1]) * factor);
}

/** `[########------------]  40%` of `width` characters between the brackets. */
export function progressBar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** A comma-separated list option (`--publish a,b`), trimmed, empties dropped. */
export function list(raw: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  ];
}

/** `alerts` → `data.alerts`; `db.table` unchanged (SPEC §3: database `data` by default). */
export function qualified(table: string): string {
  return table.includes('.') ? table : `data.${table}`;
}

/** `data.alerts` → `{database: 'data', table: 'alerts'}` for the operations API. */
export function splitRef(table: string): { database: string; table: string } {
  const ref = qualified(table);
  const dot = ref.indexOf('.');
  return { database: ref.slice(0, dot), table: ref.slice(dot + 1) };
}
