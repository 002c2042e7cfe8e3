import assert from 'node:assert/strict';
import { type AddressInfo, createServer } from 'node:net';
import { describe, it } from 'node:test';
import { edgeConfigSnippet } from '../src/commands/nodes.ts';
import { drainEtaMs, type EdgeStatus, edgeStatusText } from '../src/commands/status.ts';
import { remaining } from '../src/commands/sync.ts';
import {
  bytes,
  duration,
  list,
  parseDuration,
  progressBar,
  qualified,
  splitRef,
  table,
} from '../src/format.ts';
import { run } from '../src/program.ts';

describe('format helpers', () => {
  it('table: upper-case heads, two-space columns, numbers right-aligned, blanks as -', () => {
    assert.equal(
      table(
        ['name', 'count', 'note'],
        [
          ['a', 5, null],
          ['bbb', 120, 'x'],
        ],
      ),
      ['NAME  COUNT  NOTE', 'a         5  -', 'bbb     120  x'].join('\n'),
    );
    assert.equal(table(['only'], [[true], [false]]), 'ONLY\nyes\nno');
  });

  it('bytes, duration, parseDuration, progressBar, list, qualified', () => {
    assert.deepEqual(
      [bytes(0), bytes(1536), bytes(3 * 1024 ** 2), bytes(null)],
      ['0 B', '1.5 KiB', '3.0 MiB', '-'],
    );
    assert.deepEqual(
      [
        duration(850),
        duration(12_000),
        duration(200_000),
        duration(7_500_000),
        duration(90_000_000),
        duration(null),
      ],
      ['850ms', '12s', '3m20s', '2h05m', '1d01h', '-'],
    );
    assert.deepEqual(
      ['500ms', '30s', '5m', '1h', '2d', '1.5', '45'].map((d) => parseDuration(d)),
      [500, 30_000, 300_000, 3_600_000, 172_800_000, 1_500, 45_000],
    );
    assert.throws(
      () => parseDuration('soon'),
      (err: { exitCode: number }) => err.exitCode === 2,
    );
    assert.equal(progressBar(0.5, 10), '[#####-----]  50%');
    assert.equal(progressBar(2, 4), '[####] 100%');
    assert.equal(progressBar(Number.NaN, 4), '[----]   0%');
    assert.deepEqual(list('a, b,,c', ['z']), ['z', 'a', 'b', 'c']);
    assert.deepEqual([qualified('alerts'), qualified('dev.dog')], ['data.alerts', 'dev.dog']);
    assert.deepEqual(splitRef('dev.dog'), { database: 'dev', table: 'dog' });
  });
});

describe('status, sync and nodes helpers', () => {
  const status: EdgeStatus = {
    role: 'edge',
    node: 'edge1',
    storeEpoch: 'aaaaaaaaaaaa',
    hubEpoch: null,
    link: {
      state: 'backing-off',
      connected: false,
      hub: 'mqtt://hub:1883',
      lastError: 'ECONNREFUSED',
      connects: 0,
      disconnects: 0,
    },
    published: [
      {
        table: 'data.alerts',
        backlogCount: 300,
        backlogBytes: 2048,
        quotaBytes: 1024 ** 3,
        oldestUnsentAgeMs: 65_000,
        inFlight: 8,
        receiptedThrough: 10,
        held: null,
        quarantined: 0,
        skippedTotal: 0,
        drainPerSec: 100,
        lastError: null,
      },
      {
        table: 'data.chunks',
        backlogCount: 5,
        backlogBytes: 10,
        quotaBytes: 1024,
        oldestUnsentAgeMs: 1_000,
        inFlight: 0,
        receiptedThrough: 0,
        held: { code: 'TM_NOT_GRANTED', message: 'no grant' },
        quarantined: 1,
        skippedTotal: 2,
        drainPerSec: null,
        lastError: 'TM_NOT_GRANTED: no grant',
      },
    ],
    subscribed: [
      { table: 'data.thresholds', phase: 'catchup', hubSeq: 3, headSeen: 10, lag: 7, lastError: null },
    ],
    synced: false,
  };

  it('drain ETA from the recent rate; 0 when empty, null when unknown', () => {
    assert.equal(drainEtaMs({ backlogCount: 300, drainPerSec: 100 }), 3_000);
    assert.equal(drainEtaMs({ backlogCount: 0, drainPerSec: null }), 0);
    assert.equal(drainEtaMs({ backlogCount: 5, drainPerSec: 0 }), null);
    assert.equal(drainEtaMs({ backlogCount: 5, drainPerSec: null }), null);
  });

  it('the edge status text shows link, backlog, ETA, holds and lag', () => {
    const text = edgeStatusText(status);
    assert.match(
      text,
      /^edge edge1 → mqtt:\/\/hub:1883: backing-off \(ECONNREFUSED\) · connects 0, drops 0 · not synced$/m,
    );
    assert.match(text, /^data\.alerts +300 +2\.0 KiB +1m05s +8 +10 +100 +3s +0 +0 +-$/m);
    assert.match(text, /^data\.chunks +5 +10 B +1s +0 +0 +- +held +1 +2 +held: TM_NOT_GRANTED: no grant$/m);
    assert.match(text, /^data\.thresholds +catchup +3 +10 +7 +-$/m);
  });

  it('sync: what is left', () => {
    const r = remaining(status);
    assert.deepEqual(
      { backlog: r.backlog, feedLag: r.feedLag, rate: r.rate, notLive: r.notLive, etaMs: r.etaMs },
      { backlog: 305, feedLag: 7, rate: 100, notLive: ['data.thresholds'], etaMs: 3_050 },
    );
    assert.deepEqual(r.held, ['data.chunks held: TM_NOT_GRANTED: no grant']);
  });

  it('nodes add: the snippet is a complete edge config with the secret', () => {
    const { config, yaml } = edgeConfigSnippet(
      {
        id: 'edge1',
        source: 'admin',
        publish: ['data.alerts'],
        subscribe: ['data.thresholds'],
        hasSecret: true,
        connected: false,
      },
      's3cr"t',
      'mqtt://hub:1883',
    );
    assert.deepEqual(config, {
      nodeId: 'edge1',
      dataDir: './var/edge1',
      hub: { url: 'mqtt://hub:1883', username: 'edge1', password: 's3cr"t' },
      publish: [{ table: 'data.alerts' }],
      subscribe: [{ table: 'data.thresholds', start: 'beginning' }],
    });
    assert.match(yaml, /^ {2}password: "s3cr\\"t" # /m);
    assert.match(yaml, /^ {2}- table: data\.thresholds\n {4}start: beginning$/m);
  });
});

describe('run', () => {
  const capture = () => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), isTTY: false, env: {} },
    };
  };

  it('no arguments: help, exit 2; --version: exit 0; unknown option: exit 2 with a JSON error under --json', async () => {
    const a = capture();
    assert.equal(await run([], a.io), 2);
    assert.match(a.out.join(''), /Usage: tablemesh/);
    const b = capture();
    assert.equal(await run(['--version'], b.io), 0);
    assert.equal(b.out.join('').trim(), '0.1.0');
    const c = capture();
    assert.equal(await run(['status', '--frob', '--json'], c.io), 2);
    assert.equal(JSON.parse(c.err.at(-1)!).code, 'TM_CLI_USAGE');
  });

  it('an unreachable edge is exit 3 with what to do', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const a = capture();
    assert.equal(await run(['get', 't', 'k', '--edge', `http://127.0.0.1:${port}`], a.io), 3);
    assert.match(
      a.err.join(''),
      /^tablemesh: edge not reachable at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is tablemesh-edge running\?/,
    );
  });
});
