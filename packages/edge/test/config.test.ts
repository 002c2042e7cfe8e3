import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, isTmError } from '@tablemesh/core';
import { EDGE_DEFAULTS, isLoopbackHost, loadEdgeConfig, parseEdgeConfig } from '../src/config.js';

const example = fileURLToPath(new URL('../../../deploy/examples/edge.yaml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tm-edge-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function yamlFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const minimal = { nodeId: 'edge1', dataDir: '/var/lib/tm', hub: { url: 'mqtt://hub:1883' } };

function problems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(isTmError(err, 'TM_INVALID_CONFIG'));
    return err.problems;
  }
  assert.fail('expected ConfigError');
}

describe('edge config', () => {
  it('the shipped example validates and describes the reference use case', () => {
    const cfg = loadEdgeConfig({ file: example, env: {} });
    assert.equal(cfg.nodeId, 'edge1');
    assert.equal(cfg.durability, 'fsync');
    assert.deepEqual(
      cfg.tables.map((t) => [t.name, t.expirationSec ?? null, t.indexes]),
      [
        ['data.sensor_data', 3600, [['sensor', 'ts']]],
        ['data.alerts', null, []],
        ['data.alert_chunks', null, [['alertId']]],
      ],
    );
    assert.deepEqual(
      cfg.publish.map((p) => [p.table, p.quotaBytes, p.onFull]),
      [
        ['data.alerts', 256 * 1024 * 1024, 'reject'],
        ['data.alert_chunks', 1024 ** 3, 'reject'],
      ],
    );
    assert.deepEqual(cfg.subscribe, [{ table: 'data.thresholds', start: 'beginning' }]);
    assert.equal(cfg.hub.connectTimeoutMs, 10_000);
    assert.equal(cfg.tombstoneRetentionMs, 30 * 86_400_000);
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.publish[0]) && Object.isFrozen(cfg.limits));
  });

  it('fills every documented default', () => {
    const cfg = parseEdgeConfig(minimal);
    assert.deepEqual(cfg, {
      nodeId: 'edge1',
      dataDir: '/var/lib/tm',
      durability: 'fsync',
      hub: {
        url: 'mqtt://hub:1883',
        connectTimeoutMs: 10_000,
        keepaliveSec: 30,
        backoff: { initialMs: 500, maxMs: 30_000 },
      },
      http: { host: '127.0.0.1', port: 9380, allowRemote: false },
      tables: [],
      publish: [],
      subscribe: [],
      limits: { ...EDGE_DEFAULTS.limits },
      tombstoneRetentionMs: 2_592_000_000,
      log: { level: 'info' },
    });
    assert.deepEqual(EDGE_DEFAULTS.limits, {
      maxRecordBytes: 131_072,
      maxTxBytes: 262_144,
      maxOpsPerTx: 1000,
      windowBatches: 8,
      batchMaxTxs: 256,
      batchMaxBytes: 262_144,
      receiptTimeoutMs: 10_000,
    });
    const withEntries = parseEdgeConfig({
      ...minimal,
      tables: [{ name: 'x' }],
      publish: [{ table: 'x' }],
      subscribe: [{ table: 'y' }],
    });
    assert.deepEqual(withEntries.tables, [{ name: 'data.x', primaryKey: 'id', indexes: [] }]);
    assert.deepEqual(withEntries.publish, [
      { table: 'data.x', quotaBytes: 268_435_456, onFull: 'reject', priority: 1 },
    ]);
    assert.deepEqual(withEntries.subscribe, [{ table: 'data.y', start: 'now' }]);
  });

  it('lists every problem with its key path', () => {
    assert.deepEqual(
      problems(() =>
        parseEdgeConfig({
          nodeId: 'edge-1',
          durability: 'sometimes',
          hub: { url: 'http://hub' },
          publish: [{ table: 'alerts' }, { table: 'a/b', quotaBytes: 'lots', onFull: 'panic' }],
          subscribe: [{ table: 'thresholds', start: 'yesterday' }],
          limits: { maxOpsPerTx: 0 },
        }),
      ),
      [
        'nodeId: expected a node name: 1–64 characters [A-Za-z0-9_], not starting with a digit, got "edge-1"',
        'dataDir: is required (a directory path)',
        'durability: expected one of fsync, none, got "sometimes"',
        'hub.url: expected an mqtt:// or mqtts:// URL like mqtts://hub.example.com:8883, got "http://hub"',
        'publish[1].table: invalid table name "a/b": use 1–64 characters [A-Za-z0-9_], not starting with a digit',
        'publish[1].quotaBytes: expected a size like 256MiB, got "lots"',
        'publish[1].onFull: expected one of reject, drop-oldest, coalesce, got "panic"',
        'subscribe[0].start: expected now, beginning, an ISO time or epoch ms, got "yesterday"',
        'limits.maxOpsPerTx: must be at least 1, got 0',
      ],
    );
    assert.deepEqual(
      problems(() => parseEdgeConfig({ ...minimal, hub: undefined, extra: 1 })),
      [
        'extra: unknown key (known keys: nodeId, dataDir, durability, hub, http, tables, publish, subscribe, limits, tombstoneRetentionMs, memory, log)',
        'hub: is required (an object)',
      ],
    );
  });

  it('refuses a non-loopback HTTP host without allowRemote and a token (SPEC §7)', () => {
    assert.deepEqual(
      problems(() => parseEdgeConfig({ ...minimal, http: { host: '0.0.0.0' } })),
      ['http.host: 0.0.0.0 is not a loopback address; set http.allowRemote: true and http.token'],
    );
    assert.deepEqual(
      problems(() => parseEdgeConfig({ ...minimal, http: { host: '0.0.0.0', allowRemote: true } })),
      ['http.token: is required when http.host (0.0.0.0) is not a loopback address'],
    );
    assert.deepEqual(
      problems(() => parseEdgeConfig({ ...minimal, http: { token: 'short' } })),
      ['http.token: expected a token of at least 16 non-space characters, got "short"'],
    );
    const ok = parseEdgeConfig({
      ...minimal,
      http: { host: '10.0.0.5', allowRemote: true, token: 'a-long-random-token-123' },
    });
    assert.equal(ok.http.host, '10.0.0.5');
    assert.ok(isLoopbackHost('127.0.0.2') && isLoopbackHost('::1') && isLoopbackHost('localhost'));
    assert.ok(!isLoopbackHost('0.0.0.0') && !isLoopbackHost('128.0.0.1'));
  });

  it('enforces ttlMs ≤ tombstoneRetentionMs (I14), no duplicates, retention only on local tables', () => {
    assert.deepEqual(
      problems(() =>
        parseEdgeConfig({
          ...minimal,
          tombstoneRetentionMs: '1d',
          tables: [
            { name: 'thresholds', expirationSec: 60 },
            { name: 'local', expirationSec: 60 },
          ],
          publish: [{ table: 'alerts', ttlMs: '2d' }, { table: 'data.alerts' }],
          subscribe: [{ table: 'thresholds' }],
        }),
      ),
      [
        'publish[0].ttlMs: must be at most tombstoneRetentionMs (86400000 ms) (I14)',
        'publish: table data.alerts is listed more than once',
        'tables[0].expirationSec: data.thresholds is published or subscribed; retention is only for local tables',
      ],
    );
    const ok = parseEdgeConfig({ ...minimal, publish: [{ table: 'alerts', ttlMs: '1d' }] });
    assert.equal(ok.publish[0]?.ttlMs, 86_400_000);
    // a subscribed table may declare local indexes
    const idx = parseEdgeConfig({
      ...minimal,
      tables: [{ name: 'thresholds', indexes: [['sensor']] }],
      subscribe: [{ table: 'thresholds' }],
    });
    assert.deepEqual(idx.tables[0]?.indexes, [['sensor']]);
  });

  it('checks limits, TLS pairs and backoff against each other', () => {
    assert.deepEqual(
      problems(() =>
        parseEdgeConfig({
          ...minimal,
          hub: { url: 'mqtts://hub:8883', cert: '/c.pem', backoff: { initialMs: '1m', maxMs: '30s' } },
          limits: { maxRecordBytes: '512KiB', batchMaxBytes: '64KiB' },
        }),
      ),
      [
        'hub.key: hub.cert and hub.key go together (mutual TLS)',
        'hub.backoff.initialMs: must be at most hub.backoff.maxMs (30000 ms)',
        'limits.maxRecordBytes: must be at most limits.maxTxBytes (262144)',
        'limits.batchMaxBytes: must be at least limits.maxTxBytes (262144) so any transaction fits',
      ],
    );
  });

  it('parses start points: now, beginning, ISO time, epoch ms', () => {
    const cfg = parseEdgeConfig({
      ...minimal,
      subscribe: [
        { table: 'a', start: 'now' },
        { table: 'b', start: 'beginning' },
        { table: 'c', start: '2024-01-02T03:04:05Z' },
        { table: 'd', start: 1_700_000_000_000 },
        { table: 'e', start: '1700000000000' },
      ],
    });
    assert.deepEqual(
      cfg.subscribe.map((x) => x.start),
      ['now', 'beginning', Date.UTC(2024, 0, 2, 3, 4, 5), 1_700_000_000_000, 1_700_000_000_000],
    );
  });

  it('flags override env override file; TM_EDGE_CONFIG names the file', () => {
    const file = yamlFile(
      'e.yaml',
      'nodeId: fromfile\ndataDir: /d\nhub: { url: "mqtt://file:1883", keepaliveSec: 5 }\n',
    );
    const env = {
      TM_EDGE_CONFIG: file,
      TM_EDGE_NODE_ID: 'fromenv',
      TM_EDGE_HUB__URL: 'mqtts://env:8883',
      TM_EDGE_HUB__PASSWORD: 'pw',
      TM_EDGE_PUBLISH: '[{"table":"alerts","quotaBytes":"1MiB"}]',
      PATH: '/usr/bin',
    };
    const cfg = loadEdgeConfig({ env, overrides: { nodeId: 'fromflag', 'publish[0].priority': '3' } });
    assert.equal(cfg.nodeId, 'fromflag');
    assert.equal(cfg.hub.url, 'mqtts://env:8883');
    assert.equal(cfg.hub.password, 'pw');
    assert.equal(cfg.hub.keepaliveSec, 5);
    assert.deepEqual(cfg.publish, [
      { table: 'data.alerts', quotaBytes: 1_048_576, onFull: 'reject', priority: 3 },
    ]);
  });

  it('names the sources and YAML lines in errors', () => {
    const bad = yamlFile('bad.yaml', 'nodeId: e\nhub:\n  url: [unclosed\n');
    assert.throws(
      () => loadEdgeConfig({ file: bad, env: {} }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.source === bad &&
        /^YAML: .* at line 4, column \d+$/.test(err.problems[0] ?? ''),
    );
    assert.throws(
      () => loadEdgeConfig({ file: join(dir, 'missing.yaml'), env: {} }),
      (err: unknown) => err instanceof ConfigError && /cannot read the file/.test(err.message),
    );
    const file = yamlFile('ok.yaml', 'nodeId: e\ndataDir: /d\nhub: { url: "mqtt://h" }\n');
    assert.throws(
      () =>
        loadEdgeConfig({
          file,
          env: { TM_EDGE_HUB__KEEPALIVE_SEC: 'often' },
          overrides: { 'log.level': 'loud' },
        }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.source === `${file} + env TM_EDGE_HUB__KEEPALIVE_SEC + flags log.level` &&
        err.problems.length === 2,
    );
  });
});
