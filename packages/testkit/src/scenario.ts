/**
 * A reliability scenario's cluster: one hub and N edges, each edge behind its own FaultProxy, optional fake clocks
 * and failpoints, the workload's history, counters sampled across restarts, and the closing steps — heal, wait
 * until quiet and converged (timed: convergence after heal), read every replica and the hub's apply log, run the
 * checker, print one JSON line of figures. The hub always runs with the `trace-receipts` failpoint (it only logs)
 * so the receipt ordering check has its trace.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FeedEntry, JsonValue } from '@tablemesh/core';
import { type CheckReport, checkHistory, countersOf, type ReplicaSnapshot } from './checker.js';
import { type ClockSetting, FakeClock } from './clock.js';
import { CounterTracker } from './counters.js';
import { FaultProxy, type LinkShape } from './fault-proxy.js';
import { type ApiTarget, callApi, History } from './history.js';
import { readHubFeed } from './inspect.js';
import { type AfterHook, Testkit } from './kit.js';
import { parseMetrics } from './metrics.js';
import type { NetnsLink } from './netns.js';
import { type ConfigObject, type EdgeNode, type HubNode, mergeConfig, type PublishSpec } from './nodes.js';
import { Random } from './random.js';
import { resume } from './signals.js';
import { sleep, WaitTimeoutError } from './wait.js';
import { Workload, type WorkloadOptions } from './workload.js';

/** The contended and the append-only table of every scenario. */
export const KV = 'data.kv';
export const EV = 'data.ev';

/** One edge of a scenario. */
export interface ScenarioEdge {
  readonly name: string;
  /** its wall clock (a FakeClock through libfaketime) */
  readonly clock?: ClockSetting;
  /** TM_FAILPOINTS of this edge */
  readonly failpoints?: readonly string[];
  /** publish specs (default kv and ev, no limits) */
  readonly publish?: readonly PublishSpec[];
  readonly config?: ConfigObject;
  readonly shape?: LinkShape;
  /** runs once before the edge first starts (e.g. mount a small tmpfs on its data directory) */
  readonly prepare?: (edge: EdgeNode) => void;
}

/** A scenario's setup. */
export interface ScenarioOptions {
  readonly name: string;
  readonly seed: number;
  readonly edges: readonly ScenarioEdge[];
  readonly hubConfig?: ConfigObject;
  /** TM_FAILPOINTS of the hub, besides trace-receipts */
  readonly hubFailpoints?: readonly string[];
  readonly hubClock?: ClockSetting;
  /** failpoints that break an invariant on purpose (shown in the JSON line as `mutant`) */
  readonly mutant?: string;
  /** run the hub inside this network namespace (netns mode: real loss and partitions with nftables) */
  readonly hubNetns?: NetnsLink;
}

/** Edge defaults of the suite: quick keepalive, reconnects and resends so faults show within seconds. */
export const FAULT_EDGE_DEFAULTS: ConfigObject = {
  hub: { connectTimeoutMs: 3_000, keepaliveSec: 3, backoff: { initialMs: 100, maxMs: 1_000 } },
  limits: { receiptTimeoutMs: 3_000 },
};

const EDGE_COUNTERS = [
  'tablemesh_publisher_txs_sent_total',
  'tablemesh_publisher_timeouts_total',
  'tablemesh_publisher_gaps_total',
  'tablemesh_publisher_transient_total',
  'tablemesh_link_connects_total',
];
const HUB_COUNTERS = [
  'tablemesh_applied_total',
  'tablemesh_duplicates_total',
  'tablemesh_gaps_total',
  'tablemesh_transient_total',
];

/** What `finish()` returns: the checker's report and the scenario's figures (also printed as one JSON line). */
export interface ScenarioResult {
  readonly report: CheckReport;
  readonly figures: Record<string, unknown>;
}

/** Options of Scenario.finish. */
export interface FinishOptions {
  /** default 20 000 ms */
  readonly convergeTimeoutMs?: number;
  /** go on to the checker when the replicas never agree (mutants); convergenceMs is then null */
  readonly allowNoConvergence?: boolean;
}

/** A running scenario. */
export class Scenario {
  readonly kit: Testkit;
  readonly history = new History();
  readonly random: Random;
  readonly counters = new CounterTracker();
  readonly hub: HubNode;
  readonly edges = new Map<string, EdgeNode>();
  readonly proxies = new Map<string, FaultProxy>();
  readonly clocks = new Map<string, FakeClock>();
  readonly traces: Record<string, unknown>[] = [];
  readonly notes: Record<string, unknown> = {};
  workload: Workload | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private healedAt: number | undefined;
  private readonly startedAt = Date.now();

  private constructor(
    readonly options: ScenarioOptions,
    t: AfterHook,
  ) {
    this.kit = new Testkit('tablemesh-fault-');
    t.after(async () => {
      clearInterval(this.sampler);
      await this.workload?.stop();
      for (const edge of this.edges.values()) resume(edge);
      resume(this.hub);
      await Promise.all([...this.proxies.values()].map((p) => p.close()));
      await this.kit.cleanup();
    });
    this.random = new Random(options.seed);
    const grants = options.edges.map((e) => ({ id: e.name, publish: [KV, EV], subscribe: [KV, EV] }));
    const ns = options.hubNetns;
    const nsConfig = ns ? { mqtt: { host: ns.nsAddress }, http: { host: ns.nsAddress } } : {};
    this.hub = this.kit.createHub({
      nodes: grants,
      tables: [{ name: KV }, { name: EV }],
      config: mergeConfig(options.hubConfig ?? {}, nsConfig),
      ...(options.hubClock ? { fakeTime: this.clock('hub', options.hubClock).fakeTime } : {}),
    });
    this.hub.extraEnv = {
      TM_FAILPOINTS: ['trace-receipts', ...(options.hubFailpoints ?? [])].join(','),
      ...(options.hubClock ? { TZ: 'UTC' } : {}),
    };
    if (ns) {
      this.hub.wrapper = ns.wrapper;
      this.hub.httpHost = ns.nsAddress;
    }
    this.hub.watch((line) => {
      if (line['tm_trace'] !== undefined) this.traces.push(line);
    });
  }

  /** Starts the hub, a proxy per edge and the edges (all connected before it resolves). */
  static async start(t: AfterHook, options: ScenarioOptions): Promise<Scenario> {
    const s = new Scenario(options, t);
    await s.hub.start();
    for (const spec of options.edges) {
      const proxy = await FaultProxy.start({
        target: () => s.hub.mqttPort!,
        ...(options.hubNetns ? { targetHost: options.hubNetns.nsAddress } : {}),
        seed: s.random.int(1, 2 ** 30),
        ...(spec.shape ? { shape: spec.shape } : {}),
      });
      s.proxies.set(spec.name, proxy);
      const edge = s.kit.createEdge({
        name: spec.name,
        hub: s.hub,
        publish: spec.publish ?? [KV, EV],
        subscribe: [KV, EV],
        config: mergeConfig(mergeConfig(FAULT_EDGE_DEFAULTS, spec.config ?? {}), { hub: { url: proxy.url } }),
        ...(spec.clock ? { fakeTime: s.clock(spec.name, spec.clock).fakeTime } : {}),
      });
      edge.extraEnv = {
        ...(spec.failpoints?.length ? { TM_FAILPOINTS: spec.failpoints.join(',') } : {}),
        ...(spec.clock ? { TZ: 'UTC' } : {}),
      };
      s.edges.set(spec.name, edge);
      spec.prepare?.(edge);
    }
    await Promise.all([...s.edges.values()].map((e) => e.start()));
    s.sampler = setInterval(() => void s.sample(), 500);
    s.sampler.unref();
    return s;
  }

  private clock(name: string, setting: ClockSetting): FakeClock {
    const dir = join(this.kit.root, 'clocks');
    mkdirSync(dir, { recursive: true });
    const clock = new FakeClock(dir, setting, name);
    this.clocks.set(name, clock);
    return clock;
  }

  /** The edge called `name`. */
  edge(name: string): EdgeNode {
    const e = this.edges.get(name);
    if (!e) throw new Error(`no edge ${name}`);
    return e;
  }

  /** The proxy in front of edge `name`. */
  proxy(name: string): FaultProxy {
    const p = this.proxies.get(name);
    if (!p) throw new Error(`no proxy for ${name}`);
    return p;
  }

  /** API target of a node for the workload. */
  target(node: string): ApiTarget {
    if (node === 'hub')
      return {
        node: 'hub',
        url: () => `http://${this.hub.httpHost}:${this.hub.httpPort}`,
        token: this.hub.token,
      };
    const edge = this.edge(node);
    return { node, url: () => `http://127.0.0.1:${edge.httpPort}` };
  }

  /**
   * Starts the workload: `clientsPerNode` clients on every edge (contended + append-only) and, unless
   * `hubClients` is 0, on the hub (contended only: the hub's own writes).
   */
  startWorkload(
    options: WorkloadOptions & {
      clientsPerNode?: number;
      hubClients?: number;
      pauseMs?: number;
      nodes?: readonly string[];
    } = {},
  ): Workload {
    const w = new Workload(this.history, this.random.fork(), options);
    const nodes = options.nodes ?? [...this.edges.keys()];
    for (const node of nodes) {
      for (let i = 1; i <= (options.clientsPerNode ?? 2); i++) {
        w.add({
          name: `${node}.${i}`,
          target: this.target(node),
          contended: KV,
          appendOnly: EV,
          pauseMs: options.pauseMs ?? 15,
        });
      }
    }
    for (let i = 1; i <= (options.hubClients ?? 1); i++) {
      w.add({ name: `hub.${i}`, target: this.target('hub'), contended: KV, pauseMs: options.pauseMs ?? 15 });
    }
    this.workload = w;
    return w;
  }

  private async sample(): Promise<void> {
    const scrape = async (node: string, url: string, token: string | undefined, names: readonly string[]) => {
      const r = await callApi(
        { node, url: () => url, ...(token ? { token } : {}) },
        'GET',
        '/metrics',
        undefined,
        1_000,
      );
      if (r.kind !== 'answer' || r.status !== 200 || typeof r.body !== 'string') return;
      const m = parseMetrics(r.body);
      this.counters.observe(node, Object.fromEntries(names.map((n) => [n, m.sum(n)])));
    };
    const jobs: Promise<void>[] = [];
    if (this.hub.running)
      jobs.push(
        scrape('hub', `http://${this.hub.httpHost}:${this.hub.httpPort}`, this.hub.token, HUB_COUNTERS),
      );
    for (const [name, edge] of this.edges) {
      if (edge.running)
        jobs.push(scrape(name, `http://127.0.0.1:${edge.httpPort}`, undefined, EDGE_COUNTERS));
    }
    await Promise.allSettled(jobs);
  }

  /** Heals every fault the scenario can make: proxies up, stopped processes continued, every node running. */
  async heal(): Promise<void> {
    for (const proxy of this.proxies.values()) {
      proxy.heal();
      proxy.setShape({});
    }
    resume(this.hub);
    for (const edge of this.edges.values()) resume(edge);
    if (!this.hub.running) await this.hub.start();
    await Promise.all([...this.edges.values()].filter((e) => !e.running).map((e) => e.start()));
    this.healedAt = Date.now();
  }

  /**
   * Waits until every edge's outbox is empty and every table reads the same on the hub and every edge, twice in
   * a row; resolves with the time since heal (convergence time).
   */
  async converge(timeoutMs = 20_000): Promise<number> {
    const since = this.healedAt ?? Date.now();
    const deadline = Date.now() + timeoutMs;
    let stableSince: number | undefined;
    let last = '';
    while (Date.now() < deadline) {
      const state = await this.convergenceState().catch((err: unknown) => `error ${String(err)}`);
      if (state === 'converged') {
        stableSince ??= Date.now();
        // Twice in a row, 300 ms apart: nothing was still in flight.
        if (Date.now() - stableSince >= 300) return stableSince - since;
      } else {
        stableSince = undefined;
        last = state;
      }
      await sleep(100);
    }
    throw new WaitTimeoutError(
      `${this.options.name}: no convergence within ${timeoutMs} ms: ${last}\n${this.kit.tails(15)}`,
      last,
    );
  }

  private async convergenceState(): Promise<string> {
    for (const [name, edge] of this.edges) {
      const m = await edge.http.metrics();
      const backlog = m.sum('tablemesh_backlog_count');
      if (backlog !== 0) return `${name} backlog ${backlog}`;
    }
    for (const table of [KV, EV]) {
      const digests = await Promise.all(
        [this.hub, ...this.edges.values()].map(
          async (n) => [n.name, (await n.http.digest(table)).digest] as const,
        ),
      );
      if (new Set(digests.map((d) => d[1])).size !== 1)
        return `${table} digests differ: ${JSON.stringify(digests)}`;
    }
    return 'converged';
  }

  private async feedHeads(): Promise<Record<string, number>> {
    const m = await this.hub.http.metrics();
    return Object.fromEntries([KV, EV].map((t) => [t, m.get('tablemesh_feed_head', { table: t }) ?? 0]));
  }

  /** Snapshots taken while the hub's feed heads stood still (retried after a late apply, then converged again). */
  private async consistentSnapshots(
    options: FinishOptions,
  ): Promise<{ replicas: ReplicaSnapshot[]; heads: Record<string, number> }> {
    for (let attempt = 1; ; attempt++) {
      const heads = await this.feedHeads();
      const replicas = await this.snapshots();
      const after = await this.feedHeads();
      if (JSON.stringify(after) === JSON.stringify(heads) || attempt === 3) return { replicas, heads };
      await sleep(500);
      await this.converge(options.convergeTimeoutMs).catch((err: unknown) => {
        if (!options.allowNoConvergence) throw err;
      });
    }
  }

  /** Every replica's live records of both tables. */
  async snapshots(): Promise<ReplicaSnapshot[]> {
    const out: ReplicaSnapshot[] = [];
    for (const node of [this.hub, ...this.edges.values()]) {
      for (const table of [KV, EV]) {
        const records = await node.http.query<Record<string, JsonValue>>(table.replace(/^data\./, ''));
        out.push({ node: node.name, table, records });
      }
    }
    return out;
  }

  /**
   * Closes the run: stops the workload, heals, waits for convergence, reads replicas and (hub stopped) the apply
   * log, runs the checker, prints one JSON line `{"scenario":…}` and returns it with the report.
   */
  async finish(options: FinishOptions = {}): Promise<ScenarioResult> {
    await this.workload?.stop();
    this.history.closeOpen();
    if (this.healedAt === undefined) await this.heal();
    let convergenceMs: number | null = null;
    try {
      convergenceMs = await this.converge(options.convergeTimeoutMs);
    } catch (err) {
      // A mutant (failpoint) may never converge: the checker still runs and says why.
      if (!options.allowNoConvergence) throw err;
    }
    await this.sample();
    clearInterval(this.sampler);
    const { replicas, heads } = await this.consistentSnapshots(options);
    await this.hub.stop();
    // A write whose client gave up (info) may still reach the hub after the snapshots (a request stuck in a
    // partition is retransmitted after heal): the oracle is computed at the snapshots' feed heads.
    const feeds: Record<string, FeedEntry[]> = {};
    let lateApplies = 0;
    for (const table of [KV, EV]) {
      const all = await readHubFeed(this.hub.storeDir, table);
      feeds[table] = all.filter((e) => e.hubSeq <= (heads[table] ?? 0));
      lateApplies += all.length - feeds[table].length;
    }
    if (lateApplies > 0) this.notes['lateApplies'] = lateApplies;
    const report = checkHistory({ history: this.history.ops, feeds, replicas, traces: this.traces });
    const summary = this.history.summary();
    const edgeApplied = Object.entries(report.appliedPerOrigin)
      .filter(([origin]) => origin !== 'hub')
      .reduce((n, [, c]) => n + c, 0);
    const sent = this.counters.total('tablemesh_publisher_txs_sent_total');
    const figures: Record<string, unknown> = {
      scenario: this.options.name,
      ...(this.options.mutant ? { mutant: this.options.mutant } : {}),
      seed: this.options.seed,
      writesAcked: summary.writesOk,
      ops: {
        invoked: summary.invoked,
        ok: summary.ok,
        fail: summary.fail,
        info: summary.info,
        reads: summary.reads,
      },
      http507: summary.statuses['507'] ?? 0,
      applied: report.appliedPerOrigin,
      txsSent: sent,
      // lower bounds: a SIGKILL loses the last samples of the process (see docs/reliability.md)
      resends: Math.max(0, sent - edgeApplied, this.counters.total('tablemesh_duplicates_total')),
      receiptTimeouts: this.counters.total('tablemesh_publisher_timeouts_total'),
      duplicatesDropped: this.counters.total('tablemesh_duplicates_total'),
      gaps: this.counters.total('tablemesh_gaps_total'),
      transient: this.counters.total('tablemesh_transient_total'),
      reconnects: this.counters.total('tablemesh_link_connects_total'),
      convergenceMs,
      durationMs: Date.now() - this.startedAt,
      ...countersOf(report),
      ...this.notes,
    };
    console.log(JSON.stringify(figures));
    return { report, figures };
  }
}
