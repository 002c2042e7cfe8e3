/**
 * An in-process hub for security tests: real Aedes on real sockets, real LevelDB in a temp dir, HTTP API with a
 * token. Nodes: `bystander` (publishes `bys`, the well-behaved edge every refusal test watches), `edgeA`
 * (publishes `alerts`), `edgeB` (publishes `alerts`) — each with a secret.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseHubConfig } from '../../src/config.js';
import { buildHub, type Hub } from '../../src/hub.js';

export const TOKEN = 'security-test-token-0123456789';
export const SECRETS = {
  bystander: 'bystander-secret-1',
  edgeA: 'edgeA-secret-1',
  edgeB: 'edgeB-secret-1',
} as const;

/** A deep-mergeable config object. */
type ConfigObject = { [key: string]: unknown };

function merge(base: ConfigObject, over: ConfigObject): ConfigObject {
  const out: ConfigObject = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? merge(b as ConfigObject, v as ConfigObject)
        : v;
  }
  return out;
}

/** A started hub and helpers around it. */
export interface TestHub {
  readonly hub: Hub;
  readonly dir: string;
  /** the TCP listener's port */
  readonly port: number;
  readonly ports: { readonly tcp: number; readonly tls?: number; readonly ws?: number };
  readonly httpUrl: string;
  /** stops the hub and starts a new one on the same data directory (new ports) */
  restart(): Promise<void>;
  /** `/metrics` as name{labels} → value */
  metrics(): Promise<Map<string, number>>;
  /** calls the admin/data HTTP API with the bearer token (or another `token`) */
  api(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: unknown }>;
  /** live records of a table at the hub */
  count(table: string): Promise<number>;
  stop(): Promise<void>;
}

/** Starts a hub with the default nodes; `config` is deep-merged over the defaults. */
export async function startTestHub(config: ConfigObject = {}): Promise<TestHub> {
  const dir = mkdtempSync(join(tmpdir(), 'tm-hub-security-'));
  const base: ConfigObject = {
    nodeId: 'hub',
    dataDir: join(dir, 'hub'),
    durability: 'none',
    mqtt: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0, token: TOKEN },
    connectTimeoutMs: 2_000,
    heartbeatMs: 60_000,
    tables: [{ name: 'thresholds' }],
    nodes: [
      { id: 'bystander', secret: SECRETS.bystander, publish: ['bys'], subscribe: ['thresholds'] },
      { id: 'edgeA', secret: SECRETS.edgeA, publish: ['alerts'], subscribe: ['thresholds'] },
      { id: 'edgeB', secret: SECRETS.edgeB, publish: ['alerts'], subscribe: ['thresholds'] },
    ],
    log: { level: 'silent' },
  };
  const cfg = parseHubConfig(merge(base, config), 'security test');
  let hub: Hub;
  let httpUrl = '';
  const boot = async () => {
    hub = buildHub(cfg, { logger: pino({ level: process.env['TM_DEBUG_HUB'] ? 'debug' : 'silent' }) });
    await hub.start();
    httpUrl = `http://127.0.0.1:${hub.httpPort}`;
  };
  await boot();
  const api = async (method: string, path: string, body?: unknown, token = TOKEN) => {
    const res = await fetch(`${httpUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };
  return {
    get hub() {
      return hub;
    },
    dir,
    get port() {
      return hub.mqttPort!;
    },
    get ports() {
      return hub.mqttPorts!;
    },
    get httpUrl() {
      return httpUrl;
    },
    api,
    async restart() {
      await hub.stop();
      await boot();
    },
    async metrics() {
      const res = await fetch(`${httpUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const out = new Map<string, number>();
      for (const line of (await res.text()).split('\n')) {
        const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
        if (m) out.set(m[1]!, Number(m[2]));
      }
      return out;
    },
    async count(table: string) {
      const store = hub.store!;
      if (!store.getTable(table)) return 0;
      return (await store.digest(table)).count;
    },
    async stop() {
      await hub.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
