/**
 * Hub and edge nodes as real processes (`process.execPath` + the built `dist/bin.js`), each with its own
 * directory under the kit's temp root. Config is written to a file (JSON, which is YAML) on every start, so
 * `restart({ ... })` can change it; ports are 0 and read back from the ready line, except the hub's MQTT port,
 * which is kept across restarts so edges find the hub again.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child, type ChildExit, type LogLine } from './child.js';
import { HttpClient } from './http-client.js';

/** A config object (deep-merged; arrays are replaced). */
export type ConfigObject = { [key: string]: unknown };

/** Paths of the built binaries, from this file's place in packages/testkit/{src,dist}. */
export const BINARIES = {
  hub: fileURLToPath(new URL('../../hub/dist/bin.js', import.meta.url)),
  edge: fileURLToPath(new URL('../../edge/dist/bin.js', import.meta.url)),
} as const;

const LIBFAKETIME = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1',
  '/usr/lib/faketime/libfaketimeMT.so.1',
  '/usr/local/lib/faketime/libfaketimeMT.so.1',
];

/** The libfaketime library if installed (apt `faketime`), else undefined: tests that need it skip. */
export function findLibFaketime(): string | undefined {
  return LIBFAKETIME.find((p) => existsSync(p));
}

/** Deep merge of plain objects; arrays and other values in `patch` replace. */
export function mergeConfig(base: ConfigObject, patch: ConfigObject): ConfigObject {
  const out: ConfigObject = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    const prev = out[key];
    const plain = (v: unknown): v is ConfigObject => typeof v === 'object' && v !== null && !Array.isArray(v);
    out[key] = plain(prev) && plain(value) ? mergeConfig(prev, value) : value;
  }
  return out;
}

/** The environment of a child: ours without TM_* (the config file decides), plus `extra`. */
function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('TM_') && k !== 'LD_PRELOAD' && k !== 'FAKETIME') env[k] = v;
  }
  return { ...env, TM_TESTKIT: '1', ...extra };
}

/** Clock settings of a child: a libfaketime offset such as `+8s` (monotonic time stays real). */
export interface FakeTime {
  /** FAKETIME spec, e.g. `+8s` or `-2m` */
  readonly offset?: string;
  /**
   * a file holding the FAKETIME spec instead, re-read on every call (FAKETIME_NO_CACHE=1), so the test can
   * move the child's clock at run time (see FakeClock)
   */
  readonly timestampFile?: string;
}

function fakeTimeEnv(fake: FakeTime | undefined): Record<string, string> {
  if (!fake) return {};
  const lib = findLibFaketime();
  if (!lib) throw new Error('libfaketime is not installed (apt-get install faketime)');
  // FAKETIME would win over the file: set only one of them.
  const spec: Record<string, string> = fake.timestampFile
    ? { FAKETIME_TIMESTAMP_FILE: fake.timestampFile }
    : { FAKETIME: fake.offset ?? '+0' };
  return { LD_PRELOAD: lib, ...spec, DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1' };
}

/** What both node kinds share. */
abstract class Node {
  protected child: Child | undefined;
  protected config: ConfigObject;
  protected fake: FakeTime | undefined;
  /** Node options of the child (e.g. `--cpu-prof`); set before start */
  nodeArgs: readonly string[] = [];
  /** extra environment of the child (e.g. `TM_FAILPOINTS`, SPEC §7); set before start */
  extraEnv: Readonly<Record<string, string>> = {};
  /** a command that execs the child's node (e.g. `ip netns exec NS`); set before start */
  wrapper: readonly string[] = [];
  /** the address its HTTP API is reached at (another one when it runs in a network namespace) */
  httpHost = '127.0.0.1';
  private readonly watchers = new Set<(line: LogLine) => void>();
  /** the ready line of the last start */
  ready: LogLine | undefined;
  private readonly logs: LogLine[] = [];

  constructor(
    readonly name: string,
    /** this node's own directory (config file, data) */
    readonly dir: string,
    config: ConfigObject,
    fake: FakeTime | undefined,
  ) {
    this.config = config;
    this.fake = fake;
  }

  /** The data directory; the LevelDB store is in `dataDir/store`. */
  get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** The LevelDB store directory (open it only while the node is stopped). */
  get storeDir(): string {
    return join(this.dataDir, 'store');
  }

  /** The pid while running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child?.running === true;
  }

  /** Log lines of every start so far (the last few thousand of each). */
  get log(): readonly LogLine[] {
    return [...this.logs, ...(this.child?.log ?? [])];
  }

  /** Log lines matching a pino `msg` (substring) or a predicate. */
  grep(match: string | ((line: LogLine) => boolean)): LogLine[] {
    const pred = typeof match === 'string' ? (l: LogLine) => String(l.msg ?? '').includes(match) : match;
    return this.log.filter(pred);
  }

  /** Calls `fn` with every log line from now on, across restarts (the kept log is bounded); returns unwatch. */
  watch(fn: (line: LogLine) => void): () => void {
    this.watchers.add(fn);
    this.child?.watch(fn);
    return () => {
      this.watchers.delete(fn);
      this.child?.unwatch(fn);
    };
  }

  /** The last lines of the log, for failure messages. */
  tail(n = 30): string {
    return this.log
      .slice(-n)
      .map((l) => `  [${this.name}] ${JSON.stringify(l)}`)
      .join('\n');
  }

  protected abstract bin(): string;
  protected abstract readyMsg(): string;
  protected abstract env(): Record<string, string>;
  protected abstract onReady(line: LogLine): void;
  /** the config written before each start */
  protected abstract effectiveConfig(): ConfigObject;

  /** Starts the process (config written first); resolves once its ready line was logged. */
  async start(): Promise<this> {
    if (this.running) throw new Error(`${this.name} is already running`);
    if (this.child) this.logs.push(...this.child.log);
    const file = join(this.dir, `${this.name}.yaml`);
    writeFileSync(file, `${JSON.stringify(this.effectiveConfig(), null, 2)}\n`);
    this.child = new Child({
      name: this.name,
      script: this.bin(),
      args: ['--config', file],
      nodeArgs: this.nodeArgs,
      wrapper: this.wrapper,
      env: childEnv({ ...this.env(), ...fakeTimeEnv(this.fake), ...this.extraEnv }),
      readyMsg: this.readyMsg(),
    });
    for (const watcher of this.watchers) this.child.watch(watcher);
    this.ready = await this.child.start();
    this.onReady(this.ready);
    return this;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs` (default 10 s). */
  async stop(timeoutMs?: number): Promise<ChildExit | undefined> {
    return this.child?.stop(timeoutMs);
  }

  /** SIGKILL (no graceful shutdown). */
  async kill(): Promise<ChildExit | undefined> {
    return this.child?.kill();
  }

  /** Stops (if running), applies config changes (deep merge) and a new fake time, and starts on the same directory. */
  async restart(changes: { config?: ConfigObject; fakeTime?: FakeTime | null } = {}): Promise<this> {
    await this.stop();
    if (changes.config) this.config = mergeConfig(this.config, changes.config);
    if (changes.fakeTime !== undefined) this.fake = changes.fakeTime ?? undefined;
    return this.start();
  }

  /** Deletes the data directory (the store): the node must be stopped. */
  wipe(): void {
    if (this.running) throw new Error(`${this.name} must be stopped before its store is wiped`);
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** One node's grants on the hub. */
export interface GrantSpec {
  readonly id: string;
  readonly secret?: string;
  readonly publish?: readonly string[];
  readonly subscribe?: readonly string[];
}

/** A hub table the hub owns. */
export interface HubTableSpec {
  readonly name: string;
  readonly primaryKey?: string;
  readonly indexes?: readonly (readonly string[])[];
}

/** Options of a hub. */
export interface HubOptions {
  /** default `hub` (also the process name in messages) */
  readonly name?: string;
  readonly nodes: readonly GrantSpec[];
  readonly tables?: readonly HubTableSpec[];
  /** other hub config keys, deep-merged over the kit's defaults */
  readonly config?: ConfigObject;
  readonly fakeTime?: FakeTime;
}

/** The kit's hub defaults: loopback, port 0, quick heartbeats, fsync as in production. */
export const HUB_TEST_DEFAULTS: ConfigObject = {
  nodeId: 'hub',
  durability: 'fsync',
  // allowNoSecret: test nodes without a secret connect by client id (the hub refuses them by default, SPEC §7)
  mqtt: { host: '127.0.0.1', port: 0, allowNoSecret: true },
  http: { host: '127.0.0.1', port: 0 },
  heartbeatMs: 1_000,
  connectTimeoutMs: 5_000,
  drainTimeoutMs: 1_000,
  log: { level: 'info' },
};

/** The kit's default secret of a node that has none given. */
export const defaultSecret = (node: string): string => `${node}-e2e-secret`;

function grantsConfig(nodes: readonly GrantSpec[]): ConfigObject[] {
  return nodes.map((n) => ({
    id: n.id,
    secret: n.secret ?? defaultSecret(n.id),
    publish: [...(n.publish ?? [])],
    subscribe: [...(n.subscribe ?? [])],
  }));
}

/** A hub process. */
export class HubNode extends Node {
  /** bearer token of its HTTP API */
  readonly token: string;
  /** data API client (bearer token set) */
  readonly http: HttpClient;
  mqttPort: number | undefined;
  httpPort: number | undefined;
  hubEpoch: string | undefined;

  constructor(dir: string, options: HubOptions, token: string) {
    const config = mergeConfig(
      mergeConfig(HUB_TEST_DEFAULTS, {
        tables: (options.tables ?? []).map((t) => ({ ...t })),
        nodes: grantsConfig(options.nodes),
      }),
      options.config ?? {},
    );
    super(options.name ?? 'hub', dir, config, options.fakeTime);
    this.token = token;
    this.http = new HttpClient(() => `http://${this.httpHost}:${this.httpPort}`, token);
  }

  /** `mqtt://127.0.0.1:PORT` (known after the first start). */
  get url(): string {
    if (this.mqttPort === undefined) throw new Error(`${this.name} has not started yet`);
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  protected bin(): string {
    return BINARIES.hub;
  }
  protected readyMsg(): string {
    return 'tablemesh-hub started';
  }
  protected env(): Record<string, string> {
    return { TM_HUB_HTTP__TOKEN: this.token };
  }
  protected effectiveConfig(): ConfigObject {
    // Edges hold the MQTT URL: after the first start the hub keeps its port.
    const mqtt = this.mqttPort === undefined ? {} : { mqtt: { port: this.mqttPort } };
    return mergeConfig(mergeConfig(this.config, { dataDir: this.dataDir }), mqtt);
  }
  protected onReady(line: LogLine): void {
    this.mqttPort = Number(line['mqttPort']);
    this.httpPort = Number(line['httpPort']);
    this.hubEpoch = String(line['hubEpoch']);
  }

  /** Replaces the grants (takes effect at the next start; the hub reads grants from config). */
  setNodes(nodes: readonly GrantSpec[]): void {
    this.config = { ...this.config, nodes: grantsConfig(nodes) };
  }

  /** The secret configured for a node (given, or the kit's default `${id}-e2e-secret`). */
  secretOf(node: string): string | undefined {
    const nodes = (this.config['nodes'] ?? []) as { id: string; secret?: string }[];
    return nodes.find((n) => n.id === node)?.secret;
  }
}

/** A published table with its outbox limits. */
export type PublishSpec =
  | string
  | { readonly table: string; readonly quotaBytes?: number | string; readonly onFull?: string };
/** A subscribed table with its start point. */
export type SubscribeSpec =
  | string
  | { readonly table: string; readonly start?: 'now' | 'beginning' | number };

/** Options of an edge. */
export interface EdgeOptions {
  /** node id (also the process name) */
  readonly name: string;
  /** the hub to connect to (its URL is read at each start), or a URL */
  readonly hub: HubNode | string;
  /** MQTT password; default: the secret the hub (a HubNode) has for this node */
  readonly secret?: string;
  readonly publish?: readonly PublishSpec[];
  readonly subscribe?: readonly SubscribeSpec[];
  /** local tables (created at start) */
  readonly tables?: readonly ConfigObject[];
  /** other edge config keys, deep-merged over the kit's defaults */
  readonly config?: ConfigObject;
  readonly fakeTime?: FakeTime;
}

/** The kit's edge defaults: loopback port 0, quick reconnects, fsync as in production. */
export const EDGE_TEST_DEFAULTS: ConfigObject = {
  durability: 'fsync',
  http: { host: '127.0.0.1', port: 0 },
  hub: { connectTimeoutMs: 5_000, keepaliveSec: 10, backoff: { initialMs: 100, maxMs: 1_000 } },
  limits: { receiptTimeoutMs: 5_000 },
  log: { level: 'info' },
};

/** An edge process. */
export class EdgeNode extends Node {
  /** local data API client */
  readonly http: HttpClient;
  httpPort: number | undefined;
  storeEpoch: string | undefined;
  private readonly hub: HubNode | string;

  constructor(dir: string, options: EdgeOptions) {
    const config = mergeConfig(
      mergeConfig(EDGE_TEST_DEFAULTS, {
        nodeId: options.name,
        hub: {
          username: options.name,
          ...(options.secret !== undefined ? { password: options.secret } : {}),
        },
        tables: (options.tables ?? []).map((t) => ({ ...t })),
        publish: (options.publish ?? []).map((p) => (typeof p === 'string' ? { table: p } : { ...p })),
        subscribe: (options.subscribe ?? []).map((s) =>
          typeof s === 'string' ? { table: s, start: 'beginning' } : { start: 'beginning', ...s },
        ),
      }),
      options.config ?? {},
    );
    super(options.name, dir, config, options.fakeTime);
    this.hub = options.hub;
    this.http = new HttpClient(() => `http://${this.httpHost}:${this.httpPort}`);
  }

  protected bin(): string {
    return BINARIES.edge;
  }
  protected readyMsg(): string {
    return 'tablemesh-edge started';
  }
  protected env(): Record<string, string> {
    return {};
  }
  protected effectiveConfig(): ConfigObject {
    const given = (this.config['hub'] as ConfigObject | undefined)?.['url'];
    const url = given ?? (typeof this.hub === 'string' ? this.hub : this.hub.url);
    const hubConfig = this.config['hub'] as ConfigObject | undefined;
    const password =
      hubConfig?.['password'] ?? (typeof this.hub === 'string' ? undefined : this.hub.secretOf(this.name));
    return mergeConfig(this.config, {
      dataDir: this.dataDir,
      hub: { url, ...(password !== undefined ? { password } : {}) },
    });
  }
  protected onReady(line: LogLine): void {
    this.httpPort = Number(line['httpPort']);
    this.storeEpoch = String(line['storeEpoch']);
  }
}
