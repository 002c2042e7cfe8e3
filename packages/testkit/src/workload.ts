/**
 * The reliability suite's workload: sequential clients (one request outstanding each) on the nodes' data APIs,
 * writing self-describing values into a contended table (puts, patches and deletes over a small key space, so
 * writes from different origins conflict and I4 decides) and an append-only table (unique keys, so a lost write
 * is a missing record), with occasional reads. Every operation goes into the History.
 */
import type { JsonValue } from '@tablemesh/core';
import { type ApiTarget, type History, recordedRead, recordedWrite } from './history.js';
import type { Random } from './random.js';
import { sleep } from './wait.js';

/** What one client does. */
export interface ClientSpec {
  /** unique in the run, e.g. `edgeA.1` (tokens are `${name}.${n}`) */
  readonly name: string;
  readonly target: ApiTarget;
  /** contended table (`db.table`), keys `k0 … k{keys-1}`; omit for none */
  readonly contended?: string;
  /** append-only table: puts of unique keys `${name}-${n}`; omit for none */
  readonly appendOnly?: string;
  /** pause between operations, ms (default 15) */
  readonly pauseMs?: number;
}

/** Mix and sizes of the workload. */
export interface WorkloadOptions {
  /** keys of the contended table (default 24) */
  readonly keys?: number;
  /** probabilities among operations on the contended table (the rest are puts) */
  readonly patch?: number;
  readonly delete?: number;
  /** share of operations that go to the append-only table (default 0.3) */
  readonly appendShare?: number;
  /** share of operations that are reads of the contended table (default 0.1) */
  readonly readShare?: number;
  /** request timeout, ms (default 5000) */
  readonly timeoutMs?: number;
  /** bytes of filler added to every put (attribute `pad`), to fill disks and links faster (default 0) */
  readonly padBytes?: number;
}

/** Running clients; stop() ends them after their current operation. */
export class Workload {
  private running = true;
  private readonly loops: Promise<void>[] = [];
  private paused = new Set<string>();

  constructor(
    private readonly history: History,
    private readonly random: Random,
    private readonly options: WorkloadOptions = {},
  ) {}

  /** Starts one client loop. */
  add(spec: ClientSpec): void {
    this.loops.push(this.loop(spec, this.random.fork()));
  }

  /** Suspends (true) or resumes (false) the clients of one node (e.g. while it is SIGSTOPped). */
  pauseNode(node: string, paused: boolean): void {
    if (paused) this.paused.add(node);
    else this.paused.delete(node);
  }

  /** Stops every client and waits for their current operation to end. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(spec: ClientSpec, random: Random): Promise<void> {
    const o = this.options;
    const keys = o.keys ?? 24;
    const timeoutMs = o.timeoutMs ?? 5_000;
    const pad: Record<string, JsonValue> = o.padBytes ? { pad: 'x'.repeat(o.padBytes) } : {};
    let n = 0;
    while (this.running) {
      if (this.paused.has(spec.target.node)) {
        await sleep(50);
        continue;
      }
      n++;
      const token = `${spec.name}.${n}`;
      const roll = random.next();
      if (spec.appendOnly && (roll < (o.appendShare ?? 0.3) || !spec.contended)) {
        const attrs = { tok: token, by: spec.name, n, ...pad };
        await recordedWrite(
          this.history,
          spec.name,
          spec.target,
          spec.appendOnly,
          'put',
          `${spec.name}-${n}`,
          attrs,
          token,
          timeoutMs,
        );
      } else if (spec.contended) {
        const key = `k${random.int(0, keys - 1)}`;
        const pick = random.next();
        if (pick < (o.readShare ?? 0.1)) {
          await recordedRead(this.history, spec.name, spec.target, spec.contended, key, timeoutMs);
        } else if (pick < (o.readShare ?? 0.1) + (o.delete ?? 0.1)) {
          await recordedWrite(
            this.history,
            spec.name,
            spec.target,
            spec.contended,
            'delete',
            key,
            undefined,
            token,
            timeoutMs,
          );
        } else if (pick < (o.readShare ?? 0.1) + (o.delete ?? 0.1) + (o.patch ?? 0.3)) {
          // A patch sets one of two attributes: with puts (which set `a` only) this mixes W and attributes (I4).
          const attrs: Record<string, JsonValue> = random.chance(0.5) ? { a: token } : { b: token };
          await recordedWrite(
            this.history,
            spec.name,
            spec.target,
            spec.contended,
            'patch',
            key,
            attrs,
            token,
            timeoutMs,
          );
        } else {
          await recordedWrite(
            this.history,
            spec.name,
            spec.target,
            spec.contended,
            'put',
            key,
            { tok: token, a: token, ...pad },
            token,
            timeoutMs,
          );
        }
      }
      await sleep(spec.pauseMs ?? 15);
    }
  }
}
