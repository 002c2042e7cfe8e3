/** Helpers shared by the e2e tests (not a test file: node:test runs only *.test.ts). */
import type { EdgeNode, HttpClient } from '@tablemesh/testkit';

/** Runs `tasks` with at most `n` at a time; rejects with the first failure. */
export async function pool(n: number, tasks: readonly (() => Promise<unknown>)[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, tasks.length) }, async () => {
      while (next < tasks.length) await tasks[next++]!();
    }),
  );
}

/** `count` single-record PUT transactions `${prefix}${i}` on `table`, `n` requests at a time. */
export function putMany(
  http: HttpClient,
  table: string,
  prefix: string,
  count: number,
  attrs: (i: number) => Record<string, unknown>,
  n = 16,
): Promise<void> {
  return pool(
    n,
    Array.from({ length: count }, (_, i) => () => http.put(table, `${prefix}${i}`, attrs(i))),
  );
}

/** A small deterministic PRNG (mulberry32) so a failing run can be replayed with its seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The record without the derived times (SPEC §3). */
export function strip(r: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!r) return r;
  const { __createdtime__: _c, __updatedtime__: _u, ...rest } = r;
  return rest;
}

/** Unreceipted outbox entries of an edge's published table (tablemesh_backlog_count). */
export async function backlog(edge: EdgeNode, table: string): Promise<number> {
  return (await edge.http.metrics()).sum('tablemesh_backlog_count', {
    table: table.includes('.') ? table : `data.${table}`,
  });
}

/** True when every client answers the same digest for `table`; resolves with it (or false). */
export async function sameDigest(
  table: string,
  clients: readonly HttpClient[],
): Promise<{ digest: string; count: number } | false> {
  const all = await Promise.all(clients.map((c) => c.digest(table)));
  return all.every((d) => d.digest === all[0]!.digest) ? all[0]! : false;
}
