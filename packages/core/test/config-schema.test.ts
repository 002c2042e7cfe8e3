import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyEnv,
  applyOverrides,
  ConfigError,
  parseBytes,
  parseConfig,
  parseDuration,
  parseKeyPath,
  parseOverridePairs,
  s,
} from '../src/config/schema.js';
import { isTmError } from '../src/errors.js';

const schema = s.object({
  nodeId: s.string({ pattern: /^[a-z]+$/, hint: 'lowercase letters' }),
  durability: s.enumOf(['fsync', 'none'], { default: 'fsync' }),
  verbose: s.boolean({ default: false }),
  hub: s.object({
    url: s.string(),
    token: s.optional(s.string()),
    connectTimeoutMs: s.duration({ default: 10_000 }),
    keepaliveSec: s.number({ int: true, min: 1, max: 3600, default: 30 }),
  }),
  publish: s.array(
    s.object({
      table: s.string(),
      quotaBytes: s.bytes({ default: '256MiB', min: 1 }),
    }),
    { default: [] },
  ),
});

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(isTmError(err, 'TM_INVALID_CONFIG'));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills defaults, converts units and returns a deeply frozen object', () => {
    const cfg = parseConfig(
      schema,
      {
        nodeId: 'edge',
        hub: { url: 'mqtt://h' },
        publish: [{ table: 'alerts' }, { table: 'b', quotaBytes: '512KiB' }],
      },
      'test',
    );
    assert.deepEqual(cfg, {
      nodeId: 'edge',
      durability: 'fsync',
      verbose: false,
      hub: { url: 'mqtt://h', connectTimeoutMs: 10_000, keepaliveSec: 30 },
      publish: [
        { table: 'alerts', quotaBytes: 256 * 1024 * 1024 },
        { table: 'b', quotaBytes: 512 * 1024 },
      ],
    });
    assert.equal('token' in cfg.hub, false, 'an absent optional key is omitted');
    assert.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.hub) && Object.isFrozen(cfg.publish));
    assert.ok(Object.isFrozen(cfg.publish[0]));
    assert.throws(() => {
      (cfg.hub as { url: string }).url = 'x';
    }, TypeError);
  });

  it('names the key path of a bad size exactly as documented', () => {
    const problems = problemsOf(() =>
      parseConfig(
        schema,
        { nodeId: 'e', hub: { url: 'u' }, publish: [{ table: 'a' }, { table: 'b', quotaBytes: 'lots' }] },
        'x',
      ),
    );
    assert.deepEqual(problems, ['publish[1].quotaBytes: expected a size like 256MiB, got "lots"']);
  });

  it('lists every problem, not just the first, and names the source in the message', () => {
    let message = '';
    const problems = problemsOf(() => {
      try {
        parseConfig(
          schema,
          {
            nodeId: 'Bad1',
            durability: 'sometimes',
            verbose: 'maybe',
            hub: { keepaliveSec: 0, connectTimeoutMs: 'soon', extra: 1 },
            publish: [{ quotaBytes: -5 }],
            typo: true,
          },
          'edge.yaml',
        );
      } catch (err) {
        message = (err as Error).message;
        throw err;
      }
    });
    assert.deepEqual(problems, [
      'typo: unknown key (known keys: nodeId, durability, verbose, hub, publish)',
      'nodeId: expected lowercase letters, got "Bad1"',
      'durability: expected one of fsync, none, got "sometimes"',
      'verbose: expected true or false, got "maybe"',
      'hub.extra: unknown key (known keys: url, token, connectTimeoutMs, keepaliveSec)',
      'hub.url: is required (a string)',
      'hub.connectTimeoutMs: expected a duration like 500ms, 10s, 5m, 7d or a number of ms, got "soon"',
      'hub.keepaliveSec: must be at least 1, got 0',
      'publish[0].table: is required (a string)',
      'publish[0].quotaBytes: expected a size like 256MiB, got -5',
    ]);
    assert.match(message, /^invalid configuration \(edge\.yaml\):\n {2}- typo: unknown key/);
    assert.equal(message.split('\n').length, 11);
  });

  it('refuses non-objects, non-arrays and non-integers with the expected type', () => {
    assert.deepEqual(
      problemsOf(() => parseConfig(schema, { nodeId: 'a', hub: 'mqtt://x', publish: {} }, 's')),
      ['hub: expected an object, got "mqtt://x"', 'publish: expected a list of an object, got a object'],
    );
    assert.deepEqual(
      problemsOf(() => parseConfig(schema, { nodeId: 'a', hub: { url: 'u', keepaliveSec: 1.5 } }, 's')),
      ['hub.keepaliveSec: expected an integer, got 1.5'],
    );
    assert.deepEqual(
      problemsOf(() => parseConfig(schema, [], 's')),
      ['(root): expected an object, got a array'],
    );
  });

  it('accepts the string forms env and flags give', () => {
    const cfg = parseConfig(
      schema,
      {
        nodeId: 'a',
        verbose: 'yes',
        hub: { url: 'u', keepaliveSec: '45', connectTimeoutMs: '2s' },
        publish: [{ table: 't', quotaBytes: '1024' }],
      },
      's',
    );
    assert.equal(cfg.verbose, true);
    assert.equal(cfg.hub.keepaliveSec, 45);
    assert.equal(cfg.hub.connectTimeoutMs, 2000);
    assert.equal(cfg.publish[0]?.quotaBytes, 1024);
  });

  it('runs refine checks only on a schema-valid value and reports them with paths', () => {
    const refine = (cfg: { hub: { connectTimeoutMs: number } }, report: (p: string, m: string) => void) =>
      cfg.hub.connectTimeoutMs > 5000 && report('hub.connectTimeoutMs', 'must be at most 5s here');
    assert.deepEqual(
      problemsOf(() => parseConfig(schema, { nodeId: 'a', hub: { url: 'u' } }, 's', refine)),
      ['hub.connectTimeoutMs: must be at most 5s here'],
    );
    let ran = false;
    assert.throws(() =>
      parseConfig(schema, { nodeId: 1, hub: { url: 'u' } }, 's', () => {
        ran = true;
      }),
    );
    assert.equal(ran, false);
  });

  it('custom specs turn a thrown message into a problem', () => {
    const even = s.object({
      n: s.custom('an even number', (v) => {
        if (typeof v !== 'number' || v % 2 !== 0)
          throw new Error(`expected an even number, got ${String(v)}`);
        return v;
      }),
    });
    assert.deepEqual(
      problemsOf(() => parseConfig(even, { n: 3 }, 's')),
      ['n: expected an even number, got 3'],
    );
    assert.deepEqual(parseConfig(even, { n: 4 }, 's'), { n: 4 });
  });
});

describe('units', () => {
  it('parses durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('10s'), 10_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('30d'), 30 * 86_400_000);
    assert.equal(parseDuration('1w'), 7 * 86_400_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration(250), 250);
    assert.equal(parseDuration('250'), 250);
    for (const bad of ['', '10 years', '-1s', 'ms', -1, Number.NaN, null, true]) {
      assert.equal(parseDuration(bad), undefined, String(bad));
    }
  });

  it('parses sizes in binary and decimal units', () => {
    assert.equal(parseBytes('256MiB'), 268_435_456);
    assert.equal(parseBytes('512KiB'), 524_288);
    assert.equal(parseBytes('1GiB'), 1_073_741_824);
    assert.equal(parseBytes('1 kib'), 1024);
    assert.equal(parseBytes('2MB'), 2_000_000);
    assert.equal(parseBytes('100B'), 100);
    assert.equal(parseBytes('4096'), 4096);
    assert.equal(parseBytes(4096), 4096);
    for (const bad of ['lots', '1 PiB', '-1', -1, Number.POSITIVE_INFINITY, {}]) {
      assert.equal(parseBytes(bad), undefined, String(bad));
    }
  });
});

describe('applyEnv', () => {
  it('maps PREFIX_A__B_C to a.bC, indexes arrays, parses JSON lists and never mutates its input', () => {
    const file = { nodeId: 'f', hub: { url: 'mqtt://file' }, publish: [{ table: 'a' }] };
    const { config, used } = applyEnv(
      file,
      {
        TM_EDGE_NODE_ID: 'env',
        TM_EDGE_HUB__URL: 'mqtts://env:8883',
        TM_EDGE_HUB__CONNECT_TIMEOUT_MS: '3s',
        TM_EDGE_PUBLISH__0__QUOTA_BYTES: '64MiB',
        TM_EDGE_SUBSCRIBE: '[{"table":"thresholds"}]',
        TM_HUB_PORT: '1',
        OTHER: 'x',
      },
      'TM_EDGE_',
    );
    assert.deepEqual(config, {
      nodeId: 'env',
      hub: { url: 'mqtts://env:8883', connectTimeoutMs: '3s' },
      publish: [{ table: 'a', quotaBytes: '64MiB' }],
      subscribe: [{ table: 'thresholds' }],
    });
    assert.deepEqual(used, [
      'TM_EDGE_HUB__CONNECT_TIMEOUT_MS',
      'TM_EDGE_HUB__URL',
      'TM_EDGE_NODE_ID',
      'TM_EDGE_PUBLISH__0__QUOTA_BYTES',
      'TM_EDGE_SUBSCRIBE',
    ]);
    assert.deepEqual(file, { nodeId: 'f', hub: { url: 'mqtt://file' }, publish: [{ table: 'a' }] });
  });

  it('skips ignored names', () => {
    const { config, used } = applyEnv({}, { TM_E_CONFIG: '/etc/e.yaml', TM_E_NODE_ID: 'n' }, 'TM_E_', [
      'TM_E_CONFIG',
    ]);
    assert.deepEqual(config, { nodeId: 'n' });
    assert.deepEqual(used, ['TM_E_NODE_ID']);
  });

  it('ignores prototype-polluting names', () => {
    const { config, used } = applyEnv({}, { TM_X___PROTO__: '1', TM_X_A____PROTO__: '1' }, 'TM_X_');
    assert.deepEqual(used, []);
    assert.deepEqual(config, {});
    assert.equal(({} as Record<string, unknown>)['a'], undefined);
  });

  it('flags override env override file', () => {
    const file = { nodeId: 'file', hub: { url: 'mqtt://file', keepaliveSec: 10 } };
    const withEnv = applyEnv(
      file,
      { TM_EDGE_NODE_ID: 'env', TM_EDGE_HUB__URL: 'mqtt://env' },
      'TM_EDGE_',
    ).config;
    const merged = applyOverrides(withEnv, { nodeId: 'flag' });
    const cfg = parseConfig(schema, merged, 'file+env+flags');
    assert.equal(cfg.nodeId, 'flag');
    assert.equal(cfg.hub.url, 'mqtt://env');
    assert.equal(cfg.hub.keepaliveSec, 10);
  });
});

describe('overrides', () => {
  it('parses key paths', () => {
    assert.deepEqual(parseKeyPath('hub.url'), ['hub', 'url']);
    assert.deepEqual(parseKeyPath('publish[1].quotaBytes'), ['publish', 1, 'quotaBytes']);
    assert.deepEqual(parseKeyPath('publish.1.quotaBytes'), ['publish', 1, 'quotaBytes']);
    assert.deepEqual(parseKeyPath('a[0][2]'), ['a', 0, 2]);
    for (const bad of ['', 'a..b', 'a.b-c', '__proto__.x', 'a[x]'])
      assert.equal(parseKeyPath(bad), undefined, bad);
  });

  it('applies overrides by path and reports malformed paths and pairs', () => {
    const out = applyOverrides(
      { publish: [{ table: 'a' }] },
      { 'publish[0].quotaBytes': '1MiB', 'log.level': 'debug' },
    );
    assert.deepEqual(out, { publish: [{ table: 'a', quotaBytes: '1MiB' }], log: { level: 'debug' } });
    assert.deepEqual(parseOverridePairs(['hub.url=mqtt://h:1883?x=1', 'a=']), {
      'hub.url': 'mqtt://h:1883?x=1',
      a: '',
    });
    assert.deepEqual(
      problemsOf(() => parseOverridePairs(['novalue', '=x'])),
      [
        '"novalue": expected key=value, e.g. hub.url=mqtts://hub:8883',
        '"=x": expected key=value, e.g. hub.url=mqtts://hub:8883',
      ],
    );
    assert.deepEqual(
      problemsOf(() => applyOverrides({}, { 'a b': 1 })),
      ['"a b": not a key path like hub.url or publish[0].quotaBytes'],
    );
  });
});
