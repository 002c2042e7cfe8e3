/**
 * The hub's configuration: one YAML file, overridden by `TM_HUB_*` environment variables, overridden by flags
 * (SPEC §8 Configuration). This module is the only reader of `process.env` in the hub; the result is validated
 * (every problem listed with its key path), typed and frozen.
 *
 * Environment mapping (see core `applyEnv`): strip `TM_HUB_`, `__` nests, words become camelCase:
 *   TM_HUB_HTTP__TOKEN=…               → http.token
 *   TM_HUB_MQTT__PORT=1884             → mqtt.port
 *   TM_HUB_FEED_RETENTION__BYTES=2GiB  → feedRetention.bytes
 *   TM_HUB_NODES__0__SECRET=…          → nodes[0].secret
 *   TM_HUB_CONFIG=/etc/tablemesh/hub.yaml is the file path, not a key.
 * Durations accept `500ms`, `10s`, `5m`, `7d` or ms; sizes `256MiB`, `512KiB` or bytes.
 */
import {
  type Failpoints,
  failpointsFromEnv,
  type Infer,
  NAME_RE,
  parseConfig,
  type ReportProblem,
  s,
  tableRef,
} from '@tablemesh/core';
import { type LoadConfigOptions, loadLayeredConfig } from '@tablemesh/runtime';
import { isValidStoredSecret } from './admin/secrets.js';

const KiB = 1024;
const DAY_MS = 86_400_000;

/** Every default of the hub, with its unit (SPEC §4, §5, §7). */
export const HUB_DEFAULTS = Object.freeze({
  nodeId: 'hub',
  durability: 'fsync' as const, // fsync every group commit (I7: receipt only after fsync)
  mqtt: Object.freeze({
    host: '0.0.0.0', // bind address of every MQTT listener
    port: 1883,
    allowNoSecret: false, // true: a node without a secret connects by client id alone (tests, closed networks)
    connectionRate: Object.freeze({ perSecond: 10, burst: 50 }), // new connections per source address; 0 = off
  }),
  mqttTls: Object.freeze({ port: 8883, requestCert: false, handshakeTimeoutMs: 10_000 }), // requestCert: mTLS, CN = node id
  mqttWs: Object.freeze({ port: 8080, secure: false }), // secure: wss with the mqtt.tls certificate
  http: Object.freeze({ host: '127.0.0.1', port: 9480 }), // data + admin API, bearer token required
  maxClockSkewMs: 60_000, // ms a transaction's HLC may run ahead of the hub clock (I3)
  feedRetention: Object.freeze({ ms: 7 * DAY_MS, bytes: 1024 ** 3 }), // per table: time and bytes
  tombstoneRetentionMs: 30 * DAY_MS, // ms (I5)
  heartbeatMs: 5_000, // ms between feed head heartbeats
  maintenanceIntervalMs: 60_000, // ms between feed trims (feedRetention) and tombstone GC runs (I5)
  catchupPage: Object.freeze({ entries: 500, bytes: 256 * KiB }), // per catch-up/snapshot page
  limits: Object.freeze({
    maxPacketBytes: 512 * KiB, // bytes of one MQTT packet, checked before Aedes buffers it
    maxTxBytes: 256 * KiB, // bytes of one transaction
    maxOpsPerTx: 1000, // operations in one transaction
    maxRecordBytes: 128 * KiB, // bytes of one record
  }),
  connectTimeoutMs: 10_000, // ms from TCP accept to CONNECT
  drainTimeoutMs: 5_000, // ms to flush clients on shutdown
  table: Object.freeze({ primaryKey: 'id', indexes: Object.freeze([]) as readonly (readonly string[])[] }),
  log: Object.freeze({ level: 'info' as const }),
});

/** pino's levels, plus silent. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const D = HUB_DEFAULTS;
const nameHint = '1–64 characters [A-Za-z0-9_], not starting with a digit';
const nodeName = (def?: string) =>
  s.string({
    pattern: NAME_RE,
    hint: `a node name: ${nameHint}`,
    ...(def === undefined ? {} : { default: def }),
  });

/** `table` or `db.table`, normalised to `db.table`. */
const tableName = s.custom('a table name (table or db.table)', (v) => {
  if (typeof v !== 'string')
    throw new Error(`expected a table name (table or db.table), got ${JSON.stringify(v)}`);
  return tableRef(v);
});

const port = (def: number) => s.number({ int: true, min: 0, max: 65535, default: def });
const positiveInt = (def: number) => s.number({ int: true, min: 1, default: def });
const host = (def: string) => s.string({ pattern: /^\S+$/, hint: 'a host name or address', default: def });

/** The hub configuration schema. */
export const hubConfigSchema = s.object({
  nodeId: nodeName(D.nodeId),
  dataDir: s.string({ pattern: /\S/, hint: 'a directory path' }),
  durability: s.enumOf(['fsync', 'none'], { default: D.durability }),
  mqtt: s.object({
    host: host(D.mqtt.host),
    port: port(D.mqtt.port),
    /** true: enrolled nodes without a secret connect by client id alone — never on an untrusted network */
    allowNoSecret: s.boolean({ default: D.mqtt.allowNoSecret }),
    /** token bucket per source address: `burst` connections at once, refilled at `perSecond`; 0 = off */
    connectionRate: s.object({
      perSecond: s.number({ min: 0, default: D.mqtt.connectionRate.perSecond }),
      burst: s.number({ int: true, min: 0, default: D.mqtt.connectionRate.burst }),
    }),
    /** MQTT over TLS ≥ 1.2 (PEM file paths) */
    tls: s.optional(
      s.object({
        port: port(D.mqttTls.port),
        cert: s.string(),
        key: s.string(),
        /** CA bundle that signs client certificates (required with requestCert) */
        ca: s.optional(s.string()),
        /** mutual TLS: a client certificate signed by `ca` is required and its CN must be the node id */
        requestCert: s.boolean({ default: D.mqttTls.requestCert }),
        handshakeTimeoutMs: s.duration({ min: 1, default: D.mqttTls.handshakeTimeoutMs }),
      }),
    ),
    /** MQTT over WebSocket (maxPayload = limits.maxPacketBytes); `secure` serves wss with mqtt.tls */
    ws: s.optional(s.object({ port: port(D.mqttWs.port), secure: s.boolean({ default: D.mqttWs.secure }) })),
  }),
  http: s.object(
    {
      host: host(D.http.host),
      port: port(D.http.port),
      token: s.string({ pattern: /^\S{16,}$/, hint: 'a token of at least 16 non-space characters' }),
    },
    { required: true },
  ),
  maxClockSkewMs: s.duration({ min: 1, default: D.maxClockSkewMs }),
  feedRetention: s.object({
    ms: s.duration({ min: 1, default: D.feedRetention.ms }),
    bytes: s.bytes({ min: 1, default: D.feedRetention.bytes }),
  }),
  tombstoneRetentionMs: s.duration({ min: 1, default: D.tombstoneRetentionMs }),
  heartbeatMs: s.duration({ min: 1, default: D.heartbeatMs }),
  maintenanceIntervalMs: s.duration({ min: 1, default: D.maintenanceIntervalMs }),
  catchupPage: s.object({
    entries: positiveInt(D.catchupPage.entries),
    bytes: s.bytes({ min: 1, default: D.catchupPage.bytes }),
  }),
  limits: s.object({
    maxPacketBytes: s.bytes({ min: 1, default: D.limits.maxPacketBytes }),
    maxTxBytes: s.bytes({ min: 1, default: D.limits.maxTxBytes }),
    maxOpsPerTx: positiveInt(D.limits.maxOpsPerTx),
    maxRecordBytes: s.bytes({ min: 1, default: D.limits.maxRecordBytes }),
  }),
  connectTimeoutMs: s.duration({ min: 1, default: D.connectTimeoutMs }),
  drainTimeoutMs: s.duration({ min: 0, default: D.drainTimeoutMs }),
  tables: s.array(
    s.object({
      name: tableName,
      primaryKey: s.string({
        pattern: /^(?!__)\S.*$/,
        hint: 'an attribute name',
        default: D.table.primaryKey,
      }),
      indexes: s.array(
        s.array(s.string({ pattern: /^(?!__)[^,]+$/, hint: 'an attribute name' }), { minItems: 1 }),
        {
          default: D.table.indexes,
        },
      ),
    }),
    { default: [] },
  ),
  nodes: s.array(
    s.object({
      id: nodeName(),
      /** plain secret, or a scrypt hash as written by the admin API; omit for mTLS-only nodes */
      secret: s.optional(
        s.string({ pattern: /^\S{8,}$/, hint: 'a secret of at least 8 non-space characters' }),
      ),
      publish: s.array(tableName, { default: [] }),
      subscribe: s.array(tableName, { default: [] }),
    }),
    { default: [] },
  ),
  log: s.object({
    level: s.enumOf(LOG_LEVELS, { default: D.log.level }),
    pretty: s.optional(s.boolean()),
  }),
});

/** The validated, frozen hub configuration. */
export type HubConfig = Infer<typeof hubConfigSchema>;

function duplicates(names: readonly string[]): string[] {
  return [...new Set(names.filter((n, i) => names.indexOf(n) !== i))];
}

/** Cross-field checks the schema cannot express. */
function refineHub(cfg: HubConfig, report: ReportProblem): void {
  const { limits } = cfg;
  if (limits.maxTxBytes >= limits.maxPacketBytes) {
    report(
      'limits.maxTxBytes',
      `must be less than limits.maxPacketBytes (${limits.maxPacketBytes}) to fit a batch`,
    );
  }
  if (limits.maxRecordBytes > limits.maxTxBytes) {
    report('limits.maxRecordBytes', `must be at most limits.maxTxBytes (${limits.maxTxBytes})`);
  }
  if (cfg.catchupPage.bytes > limits.maxPacketBytes) {
    report('catchupPage.bytes', `must be at most limits.maxPacketBytes (${limits.maxPacketBytes})`);
  }
  const ports = [cfg.mqtt.port, cfg.mqtt.tls?.port, cfg.mqtt.ws?.port].filter(
    (p): p is number => p !== undefined,
  );
  if (ports.some((p, i) => p !== 0 && ports.indexOf(p) !== i))
    report('mqtt', `listeners share a port (${ports.join(', ')})`);
  if (cfg.mqtt.tls?.requestCert && cfg.mqtt.tls.ca === undefined)
    report('mqtt.tls.ca', 'is required with requestCert: true (the CA that signs node certificates)');
  if (cfg.mqtt.ws?.secure && cfg.mqtt.tls === undefined)
    report('mqtt.ws.secure', 'needs an mqtt.tls block (wss serves its certificate)');
  for (const dup of duplicates(cfg.tables.map((t) => t.name)))
    report('tables', `table ${dup} is listed more than once`);
  for (const dup of duplicates(cfg.nodes.map((n) => n.id)))
    report('nodes', `node ${dup} is listed more than once`);
  cfg.nodes.forEach((node, i) => {
    if (node.id === cfg.nodeId) report(`nodes[${i}].id`, `${node.id} is the hub's own nodeId`);
    if (node.secret !== undefined && !isValidStoredSecret(node.secret))
      report(`nodes[${i}].secret`, 'looks like a scrypt hash (scrypt$…) but is not one the hub wrote');
    for (const list of ['publish', 'subscribe'] as const) {
      for (const dup of duplicates(node[list]))
        report(`nodes[${i}].${list}`, `table ${dup} is listed more than once`);
    }
  });
}

/** Validates an already-merged config object (file + env + flags). Throws ConfigError. */
export function parseHubConfig(input: unknown, source = 'hub config'): HubConfig {
  return parseConfig(hubConfigSchema, input, source, refineHub);
}

/** Where the hub configuration comes from: file (default `TM_HUB_CONFIG`), env, flags. */
export type LoadHubConfigOptions = LoadConfigOptions;

/** Loads file, then `TM_HUB_*` env, then flags (later wins), validates and freezes. Throws ConfigError. */
export function loadHubConfig(options: LoadHubConfigOptions = {}): HubConfig {
  return loadLayeredConfig('TM_HUB_', parseHubConfig, options);
}

export { readYamlFile } from '@tablemesh/runtime';

/** SPEC §7: the failpoints of a test build, from `TM_FAILPOINTS` when `TM_TESTKIT=1` (none otherwise). */
export function loadHubFailpoints(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Failpoints {
  return failpointsFromEnv(env);
}
