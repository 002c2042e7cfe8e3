import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@tablemesh/core';
import { HUB_DEFAULTS, loadHubConfig, parseHubConfig } from '../src/config.js';

const example = fileURLToPath(new URL('../../../deploy/examples/hub.yaml', import.meta.url));
const TOKEN = 'a-long-random-token-0123';
const minimal = { dataDir: '/var/lib/tm-hub', http: { token: TOKEN } };

function problems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected ConfigError');
}

describe('hub config', () => {
  it('the shipped example validates with the token from the environment', () => {
    const cfg = loadHubConfig({ file: example, env: { TM_HUB_HTTP__TOKEN: TOKEN } });
    assert.equal(cfg.nodeId, 'hub');
    assert.equal(cfg.http.token, TOKEN);
    assert.deepEqual(cfg.tables, [{ name: 'data.thresholds', primaryKey: 'id', indexes: [] }]);
    assert.deepEqual(cfg.nodes, [
      { id: 'edge1', publish: ['data.alerts', 'data.alert_chunks'], subscribe: ['data.thresholds'] },
      { id: 'edge2', publish: ['data.alerts', 'data.alert_chunks'], subscribe: ['data.thresholds'] },
    ]);
    assert.equal(cfg.feedRetention.ms, 7 * 86_400_000);
    assert.equal(cfg.feedRetention.bytes, 1024 ** 3);
    assert.equal(cfg.maxClockSkewMs, 60_000);
    assert.ok(Object.isFrozen(cfg.nodes[0]?.publish));
  });

  it('the example without a token names http.token', () => {
    assert.deepEqual(
      problems(() => loadHubConfig({ file: example, env: {} })),
      ['http.token: is required (a token of at least 16 non-space characters)'],
    );
  });

  it('fills every documented default', () => {
    assert.deepEqual(parseHubConfig(minimal), {
      nodeId: 'hub',
      dataDir: '/var/lib/tm-hub',
      durability: 'fsync',
      mqtt: {
        host: '0.0.0.0',
        port: 1883,
        allowNoSecret: false,
        connectionRate: { perSecond: 10, burst: 50 },
      },
      http: { host: '127.0.0.1', port: 9480, token: TOKEN },
      maxClockSkewMs: 60_000,
      feedRetention: { ms: 604_800_000, bytes: 1_073_741_824 },
      tombstoneRetentionMs: 2_592_000_000,
      heartbeatMs: 5_000,
      maintenanceIntervalMs: 60_000,
      catchupPage: { entries: 500, bytes: 262_144 },
      limits: { maxPacketBytes: 524_288, maxTxBytes: 262_144, maxOpsPerTx: 1000, maxRecordBytes: 131_072 },
      connectTimeoutMs: 10_000,
      drainTimeoutMs: 5_000,
      tables: [],
      nodes: [],
      log: { level: 'info' },
    });
    assert.equal(HUB_DEFAULTS.limits.maxPacketBytes, 512 * 1024);
    const tls = parseHubConfig({ ...minimal, mqtt: { tls: { cert: '/c', key: '/k' }, ws: {} } });
    assert.deepEqual(tls.mqtt, {
      host: '0.0.0.0',
      port: 1883,
      allowNoSecret: false,
      connectionRate: { perSecond: 10, burst: 50 },
      tls: { port: 8883, cert: '/c', key: '/k', requestCert: false, handshakeTimeoutMs: 10_000 },
      ws: { port: 8080, secure: false },
    });
  });

  it('checks the TLS block against mTLS and wss (SPEC §7)', () => {
    assert.deepEqual(
      problems(() =>
        parseHubConfig({
          ...minimal,
          mqtt: { tls: { cert: '/c', key: '/k', requestCert: true } },
        }),
      ),
      ['mqtt.tls.ca: is required with requestCert: true (the CA that signs node certificates)'],
    );
    assert.deepEqual(
      problems(() => parseHubConfig({ ...minimal, mqtt: { connectionRate: { perSecond: -1 } } })),
      ['mqtt.connectionRate.perSecond: must be at least 0, got -1'],
    );
    assert.deepEqual(
      problems(() => parseHubConfig({ ...minimal, mqtt: { ws: { secure: true } } })),
      ['mqtt.ws.secure: needs an mqtt.tls block (wss serves its certificate)'],
    );
  });

  it('lists every problem with its key path', () => {
    assert.deepEqual(
      problems(() =>
        parseHubConfig({
          nodeId: 'hub!',
          http: { token: 'short', port: 70000 },
          feedRetention: { ms: 'forever', bytes: '1PiB' },
          nodes: [{ id: 'e1', publish: ['bad/name'], grant: 'all' }],
          mqtt: { tls: { port: 8883 } },
        }),
      ),
      [
        'nodeId: expected a node name: 1–64 characters [A-Za-z0-9_], not starting with a digit, got "hub!"',
        'dataDir: is required (a directory path)',
        'mqtt.tls.cert: is required (a string)',
        'mqtt.tls.key: is required (a string)',
        'http.port: must be at most 65535, got 70000',
        'http.token: expected a token of at least 16 non-space characters, got "short"',
        'feedRetention.ms: expected a duration like 500ms, 10s, 5m, 7d or a number of ms, got "forever"',
        'feedRetention.bytes: expected a size like 256MiB, got "1PiB"',
        'nodes[0].grant: unknown key (known keys: id, secret, publish, subscribe)',
        'nodes[0].publish[0]: invalid table name "bad/name": use 1–64 characters [A-Za-z0-9_], not starting with a digit',
      ],
    );
  });

  it('checks limits, ports, duplicates and the hub id against each other', () => {
    assert.deepEqual(
      problems(() =>
        parseHubConfig({
          ...minimal,
          mqtt: { port: 8883, tls: { cert: '/c', key: '/k' } },
          limits: { maxPacketBytes: '256KiB', maxRecordBytes: '300KiB' },
          catchupPage: { bytes: '1MiB' },
          tables: [{ name: 'thresholds' }, { name: 'data.thresholds' }],
          nodes: [{ id: 'hub' }, { id: 'e1', subscribe: ['thresholds', 'data.thresholds'] }, { id: 'e1' }],
        }),
      ),
      [
        'limits.maxTxBytes: must be less than limits.maxPacketBytes (262144) to fit a batch',
        'limits.maxRecordBytes: must be at most limits.maxTxBytes (262144)',
        'catchupPage.bytes: must be at most limits.maxPacketBytes (262144)',
        'mqtt: listeners share a port (8883, 8883)',
        'tables: table data.thresholds is listed more than once',
        'nodes: node e1 is listed more than once',
        "nodes[0].id: hub is the hub's own nodeId",
        'nodes[1].subscribe: table data.thresholds is listed more than once',
      ],
    );
  });

  it('flags override env override file', () => {
    const cfg = loadHubConfig({
      file: example,
      env: { TM_HUB_HTTP__TOKEN: TOKEN, TM_HUB_MQTT__PORT: '1884', TM_HUB_NODES__0__SECRET: 'edge1-secret' },
      overrides: { 'mqtt.port': '1885', heartbeatMs: '2s', maintenanceIntervalMs: '250ms' },
    });
    assert.equal(cfg.mqtt.port, 1885);
    assert.equal(cfg.heartbeatMs, 2000);
    assert.equal(cfg.maintenanceIntervalMs, 250);
    assert.equal(cfg.nodes[0]?.secret, 'edge1-secret');
    assert.equal(cfg.nodes[1]?.secret, undefined);
  });
});
