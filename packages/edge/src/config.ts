/**
 * The edge agent's configuration: one YAML file, overridden by `TM_EDGE_*` environment variables, overridden by
 * flags (SPEC §8 Configuration). This module is the only reader of `process.env` in the edge; the result is
 * validated (every problem listed with its key path), typed and frozen.
 *
 * Environment mapping (see core `applyEnv`): strip `TM_EDGE_`, `__` nests, words become camelCase:
 *   TM_EDGE_NODE_ID=edge1                 → nodeId
 *   TM_EDGE_HUB__URL=mqtts://hub:8883     → hub.url
 *   TM_EDGE_HUB__PASSWORD=…               → hub.password
 *   TM_EDGE_PUBLISH__0__QUOTA_BYTES=64MiB → publish[0].quotaBytes
 *   TM_EDGE_CONFIG=/etc/tablemesh/edge.yaml is the file path, not a key.
 * Flags: `--set key.path=value` pairs as an overrides object (`{ 'hub.url': '…' }`).
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
import { MEMORY_PROFILE_NAMES } from './config-memory.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const DAY_MS = 86_400_000;

/** Every default of the edge, with its unit (SPEC §5, §7). */
export const EDGE_DEFAULTS = Object.freeze({
  durability: 'fsync' as const, // fsync every group commit (I6)
  hub: Object.freeze({
    connectTimeoutMs: 10_000, // ms, MQTT CONNECT → CONNACK
    keepaliveSec: 30, // s, MQTT keepalive
    backoff: Object.freeze({ initialMs: 500, maxMs: 30_000 }), // ms, reconnect backoff (doubling, jittered)
  }),
  http: Object.freeze({ host: '127.0.0.1', port: 9380, allowRemote: false }), // SPEC §7: loopback by default
  table: Object.freeze({ primaryKey: 'id', indexes: Object.freeze([]) as readonly (readonly string[])[] }),
  publish: Object.freeze({
    quotaBytes: 256 * MiB, // bytes of unsent outbox entries per table
    onFull: 'reject' as const, // reject (507) | drop-oldest | coalesce
    priority: 1, // weight in the round-robin across tables (1–100)
  }),
  subscribe: Object.freeze({ start: 'now' as const }), // now | beginning | ISO time | epoch ms
  limits: Object.freeze({
    maxRecordBytes: 128 * KiB, // bytes of one record (canonical JSON)
    maxTxBytes: 256 * KiB, // bytes of one transaction
    maxOpsPerTx: 1000, // operations in one transaction
    windowBatches: 8, // batches in flight (unreceipted) per link
    batchMaxTxs: 256, // transactions per MQTT message
    batchMaxBytes: 256 * KiB, // bytes per MQTT message
    receiptTimeoutMs: 10_000, // ms before unreceipted batches are resent
  }),
  tombstoneRetentionMs: 30 * DAY_MS, // ms (I5); also the bound of publish ttlMs (I14)
  log: Object.freeze({ level: 'info' as const }),
});

/** pino's levels, plus silent. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const nodeName = (what: string) =>
  s.string({ pattern: NAME_RE, hint: `${what}: 1–64 characters [A-Za-z0-9_], not starting with a digit` });

/** `table` or `db.table`, normalised to `db.table`. */
export const tableName = s.custom('a table name (table or db.table)', (v) => {
  if (typeof v !== 'string')
    throw new Error(`expected a table name (table or db.table), got ${JSON.stringify(v)}`);
  return tableRef(v);
});

const hubUrl = s.custom('an mqtt:// or mqtts:// URL', (v) => {
  let url: URL | undefined;
  try {
    url = typeof v === 'string' ? new URL(v) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'mqtt:' && url.protocol !== 'mqtts:') || url.hostname === '') {
    throw new Error(
      `expected an mqtt:// or mqtts:// URL like mqtts://hub.example.com:8883, got ${JSON.stringify(v)}`,
    );
  }
  return v as string;
});

/** A hub certificate pin: `sha256/<base64 SPKI hash>` or a SHA-256 certificate fingerprint (hex, colons optional). */
const certPin = s.custom('a certificate pin (sha256/<base64> or a SHA-256 fingerprint)', (v) => {
  if (typeof v === 'string' && /^sha256\/[A-Za-z0-9+/]{43}=$/.test(v)) return v;
  const hex = typeof v === 'string' ? v.replace(/:/g, '') : '';
  if (/^[0-9A-Fa-f]{64}$/.test(hex)) return hex.toUpperCase().match(/../g)!.join(':');
  throw new Error(
    `expected sha256/<base64 of the SPKI SHA-256> or a SHA-256 certificate fingerprint, got ${JSON.stringify(v)}`,
  );
});

/** A subscription start point: now, beginning, or a time as epoch ms. */
export type StartPoint = 'now' | 'beginning' | number;

const startPoint = s.custom<StartPoint>(
  'now, beginning, an ISO time or epoch ms',
  (v) => {
    if (v === 'now' || v === 'beginning') return v;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
    if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
    // YAML turns an unquoted timestamp into a Date; strings must look like an ISO date.
    const ms =
      v instanceof Date
        ? v.getTime()
        : typeof v === 'string' && /^\d{4}-\d\d-\d\d/.test(v)
          ? Date.parse(v)
          : NaN;
    if (Number.isNaN(ms)) {
      throw new Error(`expected now, beginning, an ISO time or epoch ms, got ${JSON.stringify(v)}`);
    }
    return ms;
  },
  { default: EDGE_DEFAULTS.subscribe.start },
);

const port = (def: number) => s.number({ int: true, min: 0, max: 65535, default: def });
const positiveInt = (def: number) => s.number({ int: true, min: 1, default: def });
const token = s.optional(
  s.string({ pattern: /^\S{16,}$/, hint: 'a token of at least 16 non-space characters' }),
);
const D = EDGE_DEFAULTS;

/** The edge configuration schema. */
export const edgeConfigSchema = s.object({
  nodeId: nodeName('a node name'),
  dataDir: s.string({ pattern: /\S/, hint: 'a directory path' }),
  durability: s.enumOf(['fsync', 'none'], { default: D.durability }),
  hub: s.object(
    {
      url: hubUrl,
      username: s.optional(s.string()),
      password: s.optional(s.string()),
      /** PEM file paths (relative paths are relative to the working directory) */
      ca: s.optional(s.string()),
      cert: s.optional(s.string()),
      key: s.optional(s.string()),
      /** the hub's certificate must also match one of these pins (mqtts only) */
      pin: s.optional(s.array(certPin, { minItems: 1 })),
      connectTimeoutMs: s.duration({ min: 1, default: D.hub.connectTimeoutMs }),
      keepaliveSec: s.number({ int: true, min: 1, max: 65535, default: D.hub.keepaliveSec }),
      backoff: s.object({
        initialMs: s.duration({ min: 1, default: D.hub.backoff.initialMs }),
        maxMs: s.duration({ min: 1, default: D.hub.backoff.maxMs }),
      }),
    },
    { required: true },
  ),
  http: s.object({
    host: s.string({ pattern: /^\S+$/, default: D.http.host }),
    port: port(D.http.port),
    token,
    /** must be true to bind beyond loopback (SPEC §7), together with a token */
    allowRemote: s.boolean({ default: D.http.allowRemote }),
  }),
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
      /** local retention in seconds; only on tables that are not replicated (SPEC §3) */
      expirationSec: s.optional(s.number({ int: true, min: 1 })),
    }),
    { default: [] },
  ),
  publish: s.array(
    s.object({
      table: tableName,
      quotaBytes: s.bytes({ min: 1, default: D.publish.quotaBytes }),
      onFull: s.enumOf(['reject', 'drop-oldest', 'coalesce'], { default: D.publish.onFull }),
      /** unsent entries older than this are skipped (opt-in loss, SPEC §5) */
      ttlMs: s.optional(s.duration({ min: 1 })),
      priority: s.number({ int: true, min: 1, max: 100, default: D.publish.priority }),
    }),
    { default: [] },
  ),
  subscribe: s.array(s.object({ table: tableName, start: startPoint }), { default: [] }),
  limits: s.object({
    maxRecordBytes: s.bytes({ min: 1, default: D.limits.maxRecordBytes }),
    maxTxBytes: s.bytes({ min: 1, default: D.limits.maxTxBytes }),
    maxOpsPerTx: positiveInt(D.limits.maxOpsPerTx),
    windowBatches: positiveInt(D.limits.windowBatches),
    batchMaxTxs: positiveInt(D.limits.batchMaxTxs),
    batchMaxBytes: s.bytes({ min: 1, default: D.limits.batchMaxBytes }),
    receiptTimeoutMs: s.duration({ min: 1, default: D.limits.receiptTimeoutMs }),
  }),
  tombstoneRetentionMs: s.duration({ min: 1, default: D.tombstoneRetentionMs }),
  /** memory profile (config-memory.ts, docs/memory.md); absent = default */
  memory: s.optional(s.enumOf(MEMORY_PROFILE_NAMES)),
  log: s.object({
    level: s.enumOf(LOG_LEVELS, { default: D.log.level }),
    pretty: s.optional(s.boolean()),
  }),
});

/** The validated, frozen edge configuration. */
export type EdgeConfig = Infer<typeof edgeConfigSchema>;

/** True for addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

function duplicates(names: readonly string[]): string[] {
  return names.filter((n, i) => names.indexOf(n) !== i);
}

/** Cross-field checks the schema cannot express. */
function refineEdge(cfg: EdgeConfig, report: ReportProblem): void {
  if (!isLoopbackHost(cfg.http.host)) {
    // SPEC §7: the edge offers no service reachable from outside unless explicitly told to, with a token.
    if (!cfg.http.allowRemote) {
      report(
        'http.host',
        `${cfg.http.host} is not a loopback address; set http.allowRemote: true and http.token`,
      );
    } else if (cfg.http.token === undefined) {
      report('http.token', `is required when http.host (${cfg.http.host}) is not a loopback address`);
    }
  }
  if ((cfg.hub.cert === undefined) !== (cfg.hub.key === undefined)) {
    report(
      cfg.hub.cert === undefined ? 'hub.cert' : 'hub.key',
      'hub.cert and hub.key go together (mutual TLS)',
    );
  }
  if (cfg.hub.pin !== undefined && !cfg.hub.url.startsWith('mqtts:')) {
    report('hub.pin', 'needs an mqtts:// hub.url (pins are checked on the TLS certificate)');
  }
  if (cfg.hub.backoff.initialMs > cfg.hub.backoff.maxMs) {
    report('hub.backoff.initialMs', `must be at most hub.backoff.maxMs (${cfg.hub.backoff.maxMs} ms)`);
  }
  cfg.publish.forEach((p, i) => {
    if (p.ttlMs !== undefined && p.ttlMs > cfg.tombstoneRetentionMs) {
      // I14: a skipped range must still be covered by tombstone retention.
      report(
        `publish[${i}].ttlMs`,
        `must be at most tombstoneRetentionMs (${cfg.tombstoneRetentionMs} ms) (I14)`,
      );
    }
  });
  for (const [list, names] of [
    ['tables', cfg.tables.map((t) => t.name)],
    ['publish', cfg.publish.map((p) => p.table)],
    ['subscribe', cfg.subscribe.map((p) => p.table)],
  ] as const) {
    for (const dup of new Set(duplicates(names))) report(list, `table ${dup} is listed more than once`);
  }
  const replicated = new Set([...cfg.publish.map((p) => p.table), ...cfg.subscribe.map((p) => p.table)]);
  cfg.tables.forEach((t, i) => {
    if (t.expirationSec !== undefined && replicated.has(t.name)) {
      // SPEC §3: local retention only on tables that are not replicated; a subscribed table's definition is the hub's.
      report(
        `tables[${i}].expirationSec`,
        `${t.name} is published or subscribed; retention is only for local tables`,
      );
    }
  });
  const { limits } = cfg;
  if (limits.maxRecordBytes > limits.maxTxBytes) {
    report('limits.maxRecordBytes', `must be at most limits.maxTxBytes (${limits.maxTxBytes})`);
  }
  if (limits.batchMaxBytes < limits.maxTxBytes) {
    report(
      'limits.batchMaxBytes',
      `must be at least limits.maxTxBytes (${limits.maxTxBytes}) so any transaction fits`,
    );
  }
}

/** Validates an already-merged config object (file + env + flags). Throws ConfigError. */
export function parseEdgeConfig(input: unknown, source = 'edge config'): EdgeConfig {
  return parseConfig(edgeConfigSchema, input, source, refineEdge);
}

/** Where the edge configuration comes from: file (default `TM_EDGE_CONFIG`), env, flags. */
export type LoadEdgeConfigOptions = LoadConfigOptions;

/** Loads file, then `TM_EDGE_*` env, then flags (later wins), validates and freezes. Throws ConfigError. */
export function loadEdgeConfig(options: LoadEdgeConfigOptions = {}): EdgeConfig {
  return loadLayeredConfig('TM_EDGE_', parseEdgeConfig, options);
}

export { readYamlFile } from '@tablemesh/runtime';

/** SPEC §7: the failpoints of a test build, from `TM_FAILPOINTS` when `TM_TESTKIT=1` (none otherwise). */
export function loadEdgeFailpoints(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Failpoints {
  return failpointsFromEnv(env);
}
