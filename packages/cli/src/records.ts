/**
 * Helpers of the data commands (get, put, patch, delete, query): path building, JSON arguments, record tables,
 * and the write answer with its confirmation (SPEC §8: local commit, or the hub's receipt with a timeout that
 * answers 202 — reported as not confirmed, never as a success).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Answer } from './client.js';
import type { Context } from './context.js';
import { CliError, EXIT, usage } from './errors.js';
import { type Cell, parseDuration, table } from './format.js';

/** `/{table}/{id}` with `?idType=number` for numeric keys (SPEC §3: "1" ≠ 1). */
export function recordPath(
  tableName: string,
  id: string,
  numeric: boolean,
): { path: string; query: Record<string, string> } {
  if (numeric && !Number.isFinite(Number(id))) throw usage(`--number: '${id}' is not a number`);
  return {
    path: `/${encodeURIComponent(tableName)}/${encodeURIComponent(id)}`,
    query: numeric ? { idType: 'number' } : {},
  };
}

/** A JSON object from an argument, `-` (stdin) or `@file`. */
export function jsonArg(raw: string, what = 'the record'): Record<string, unknown> {
  let text = raw;
  if (raw === '-') text = readFileSync(0, 'utf8');
  else if (raw.startsWith('@')) text = readFileSync(raw.slice(1), 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw usage(`${what} must be a JSON object (or - for stdin, @file): ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw usage(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

const show = (v: unknown): Cell =>
  v === undefined ? undefined : typeof v === 'string' ? v : JSON.stringify(v);

/** Records as a table: the primary key first, then attributes by name; derived times only with `times`. */
export function recordsTable(
  records: readonly Record<string, unknown>[],
  primaryKey: string,
  times = false,
): string {
  const attrs = new Set<string>();
  for (const r of records) for (const k of Object.keys(r)) attrs.add(k);
  attrs.delete(primaryKey);
  if (!times) {
    attrs.delete('__createdtime__');
    attrs.delete('__updatedtime__');
  }
  const cols = [...(records.some((r) => primaryKey in r) ? [primaryKey] : []), ...[...attrs].sort()];
  return table(
    cols,
    records.map((r) => cols.map((c) => show(r[c]))),
  );
}

/** One record as `attribute  value` lines. */
export function recordText(record: Record<string, unknown>): string {
  return table(
    ['attribute', 'value'],
    Object.entries(record).map(([k, v]) => [k, show(v)]),
  );
}

/** Confirmation options of write commands. */
export interface ConfirmOptions {
  readonly confirm?: string;
  readonly confirmTimeout?: string;
}

/** Adds `--confirm local|hub` and `--confirm-timeout` to a write command. */
export function confirmOptions(cmd: Command): Command {
  return cmd
    .option('--confirm <level>', 'answer after the local commit (local) or the hub receipt (hub)', 'local')
    .option('--confirm-timeout <duration>', 'with --confirm hub: how long to wait (e.g. 10s)');
}

/** Query parameters of the confirmation options. */
export function confirmQuery(o: ConfirmOptions): Record<string, string> {
  if (o.confirm !== undefined && o.confirm !== 'local' && o.confirm !== 'hub')
    throw usage(`--confirm must be local or hub, got '${o.confirm}'`);
  return {
    ...(o.confirm === 'hub' ? { confirm: 'hub' } : {}),
    ...(o.confirmTimeout
      ? { confirmTimeoutMs: String(parseDuration(o.confirmTimeout, '--confirm-timeout')) }
      : {}),
  };
}

/** Prints a write answer; a 202 (the hub did not confirm in time) exits 6 after printing it. */
export function printWrite(ctx: Context, answer: Answer, verb: string, target: string): void {
  const body = answer.body as { seq?: number; confirmed?: string } & Record<string, unknown>;
  const how = body.confirmed === 'hub' ? ', confirmed by the hub' : '';
  ctx.print(
    body,
    () => `${verb} ${target}${body.seq ? ` (seq ${body.seq}${how})` : how ? ` (${how.slice(2)})` : ''}`,
  );
  if (answer.status === 202) {
    throw new CliError(
      `committed locally, not confirmed by the hub in time: ${JSON.stringify(body['hub'] ?? body)}`,
      EXIT.NOT_SYNCED,
      'TM_NOT_CONFIRMED',
      202,
    );
  }
}
