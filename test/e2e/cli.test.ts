/**
 * The `tablemesh` CLI (issue 6 'Done when'): the built CLI runs as a child process against a running hub and
 * edge; every command's `--json` output and exit code are asserted, and the human output of `status` (edge and
 * hub). The tests run in order and build on each other: enrol → start the edge → subscriptions → data → sync →
 * diff → quarantine → grants → errors.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type EdgeNode, type HubNode, Testkit } from '@tablemesh/testkit';
import { run } from '../../packages/cli/src/program.ts';
import { type CliRun, closedPort, runCli } from './_cli.ts';

const kit = new Testkit('tablemesh-cli-');
let hub: HubNode;
let edge: EdgeNode;
let secret: string;
const env = () => ({
  TABLEMESH_HUB: `http://127.0.0.1:${hub.httpPort}`,
  TABLEMESH_TOKEN: hub.token,
  TABLEMESH_EDGE: edge ? `http://127.0.0.1:${edge.httpPort}` : 'http://127.0.0.1:1',
});
const cli = (...args: string[]) => runCli(args, { env: env() });
/** A run that must exit 0; resolves with its JSON output. */
async function ok<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  const run = await cli(...args, '--json');
  assert.equal(run.code, 0, `tablemesh ${args.join(' ')}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run.json<T>();
}
/** A run that must fail with `code`; resolves with its JSON error. */
async function fails(code: number, ...args: string[]): Promise<ReturnType<CliRun['errorJson']>> {
  const run = await cli(...args, '--json');
  assert.equal(run.code, code, `tablemesh ${args.join(' ')}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.equal(run.stdout.includes('"error"'), false, 'errors go to stderr');
  const err = run.errorJson();
  assert.equal(err.exitCode, code);
  return err;
}
const certDir = mkdtempSync(join(tmpdir(), 'tm-cli-certs-'));
/** The edge's quarantine, read over HTTP (for polling). */
const quarantined = async () =>
  (await edge.http.request<{ quarantined: { id: string }[] }>('GET', '/_quarantine')).body.quarantined;

before(async () => {
  // maxRecordBytes below the edge's: a big record is refused for its content at the hub (poison, I11)
  hub = await kit.startHub({ nodes: [], config: { limits: { maxRecordBytes: 2048 } } });
});
after(async () => {
  await kit.cleanup();
  rmSync(certDir, { recursive: true, force: true });
});

describe('tablemesh CLI against a running hub and edge', () => {
  it('nodes add prints the secret once with a config snippet; add again is 409 (exit 1); list', async () => {
    // human output (edge2) alongside: the snippet on stdout, the note on stderr
    const edge2 = cli('nodes', 'add', 'edge2', '--subscribe', 'thresholds');
    const added = await ok<{
      node: { id: string; publish: string[]; subscribe: string[]; connected: boolean };
      secret: string;
      mqttUrl: string;
      config: { nodeId: string; hub: { url: string; username: string; password: string } };
      yaml: string;
    }>('nodes', 'add', 'edge1', '--publish', 'alerts', '--subscribe', 'thresholds');
    assert.deepEqual(added.node.publish, ['data.alerts']);
    assert.deepEqual(added.node.subscribe, ['data.thresholds']);
    assert.match(added.secret, /^[A-Za-z0-9_-]{40,}$/);
    assert.equal(added.mqttUrl, `mqtt://127.0.0.1:${hub.mqttPort}`);
    assert.deepEqual(added.config.hub, { url: added.mqttUrl, username: 'edge1', password: added.secret });
    assert.ok(added.yaml.includes(`password: "${added.secret}"`));
    secret = added.secret;
    const human = await edge2;
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^nodeId: edge2$/m);
    assert.match(human.stdout, /^ {2}password: "[A-Za-z0-9_-]+"/m);
    assert.match(human.stderr, /enrolled edge2 .*shown this once/);
    const [again, { nodes }] = await Promise.all([
      fails(1, 'nodes', 'add', 'edge1'),
      ok<{ nodes: { id: string; connected: boolean; hasSecret: boolean }[] }>('nodes', 'list'),
    ]);
    assert.equal(again.code, 'TM_NODE_EXISTS');
    assert.deepEqual(
      nodes.map((n) => [n.id, n.connected, n.hasSecret]),
      [
        ['edge1', false, true],
        ['edge2', false, true],
      ],
    );
  });

  it('tables create/list/describe on the hub; put/get there', async () => {
    const created = await ok<{ message: string }>('tables', 'create', 'thresholds', '--on-hub');
    assert.equal(created.message, "table 'data.thresholds' successfully created.");
    const [, put] = await Promise.all([
      ok('put', 'thresholds', 'temp', '{"sensor":"temp","max":30}', '--on-hub'),
      ok<{ table: string; key: string }>(
        'put',
        'thresholds',
        'humidity',
        '{"sensor":"humidity","max":80}',
        '--on-hub',
      ),
    ]);
    assert.deepEqual([put.table, put.key], ['data.thresholds', 'humidity']);
    const [{ tables }, d] = await Promise.all([
      ok<{ tables: { schema: string; name: string; record_count: number }[] }>('tables', 'list', '--on-hub'),
      ok<{ hash_attribute: string; record_count: number }>(
        'tables',
        'describe',
        'thresholds',
        '--hub',
        `http://127.0.0.1:${hub.httpPort}`,
      ),
    ]);
    assert.deepEqual(
      tables.map((t) => [`${t.schema}.${t.name}`, t.record_count]),
      [['data.thresholds', 2]],
    );
    assert.deepEqual([d.hash_attribute, d.record_count], ['id', 2]);
  });

  it('subscriptions add/list on an edge started with the secret; sync --wait brings the thresholds', async () => {
    edge = await kit.startEdge({ name: 'edge1', hub, secret });
    const empty = await ok<{ subscriptions: unknown[] }>('subscriptions', 'list');
    assert.deepEqual(empty.subscriptions, []);
    const sub = await ok<{ added: string[]; warnings: string[]; hubChecked: boolean }>(
      'subscriptions',
      'add',
      'thresholds',
      '--subscribe',
      '--start',
      'beginning',
    );
    assert.deepEqual(sub, {
      ...sub,
      added: ['data.thresholds'],
      warnings: [],
      hubChecked: true,
    });
    // alerts: granted; stats: not granted and unknown at the hub → warnings, still added (grants can follow)
    const pub = await ok<{ added: string[]; warnings: string[] }>(
      'subscriptions',
      'add',
      'alerts',
      'stats',
      '--publish',
    );
    assert.deepEqual(pub.added, ['data.alerts', 'data.stats']);
    assert.deepEqual(pub.warnings, [
      'the hub has not granted edge1 publish on data.stats: run `tablemesh nodes grant edge1 data.stats --publish`',
    ]);
    const listed = await ok<{ subscriptions: { table: string; publish: boolean; subscribe: boolean }[] }>(
      'subs',
      'list',
    );
    assert.deepEqual(
      listed.subscriptions.map((s) => [s.table, s.publish, s.subscribe]),
      [
        ['data.alerts', true, false],
        ['data.stats', true, false],
        ['data.thresholds', false, true],
      ],
    );
    const removed = await ok<{ removed: string[] }>('subscriptions', 'remove', 'stats');
    assert.deepEqual(removed.removed, ['data.stats']);
    const [notThere, noDirection] = await Promise.all([
      fails(5, 'subscriptions', 'remove', 'stats'),
      fails(2, 'subscriptions', 'add', 'x'),
    ]);
    assert.equal(notThere.code, 'TM_NOT_FOUND');
    assert.equal(noDirection.code, 'TM_CLI_USAGE');
    const synced = await ok<{ synced: boolean; backlog: number; feedLag: number }>(
      'sync',
      '--wait',
      '--timeout',
      '20s',
    );
    assert.deepEqual([synced.synced, synced.backlog, synced.feedLag], [true, 0, 0]);
    const [temp, readOnly] = await Promise.all([
      ok<{ id: string; max: number }>('get', 'thresholds', 'temp'),
      // subscribe-only tables are read-only on the edge (409 → exit 1)
      fails(1, 'put', 'thresholds', 'temp', '{"max":1}'),
    ]);
    assert.deepEqual([temp.id, temp.max], ['temp', 30]);
    assert.equal(readOnly.code, 'TM_READ_ONLY_TABLE');
  });

  it('data: put/patch/get/delete/query on the edge, sync --wait, then diff says same', async () => {
    const [a1, created, gen, stdin] = await Promise.all([
      ok<{ key: string; seq: number }>('put', 'alerts', 'a1', '{"sensor":"temp","level":3}'),
      ok<{ key: string }>('put', 'alerts', '{"id":"a2","sensor":"hum","level":1}'),
      ok<{ key: string }>('put', 'alerts', '{"sensor":"x","level":0}'),
      runCli(['put', 'alerts', 'a3', '-', '--json'], { env: env(), input: '{"sensor":"temp","level":5}' }),
    ]);
    assert.equal(a1.key, 'a1');
    assert.ok(a1.seq >= 1 && a1.seq <= 4, 'seq in the publish epoch');
    assert.equal(created.key, 'a2');
    assert.match(gen.key, /^[0-9a-f-]{36}$/);
    assert.equal(stdin.code, 0, stdin.stderr);
    const [, , del2] = await Promise.all([
      ok('patch', 'alerts', 'a1', '{"level":4}'),
      ok('delete', 'alerts', gen.key),
      ok<{ transactions: unknown[] }>('delete', 'alerts', 'nope1', 'nope2'),
    ]);
    assert.equal(del2.transactions.length, 1, 'several ids: one transaction');
    const [got, found, human, missing, badJson, confirmed] = await Promise.all([
      ok<Record<string, unknown>>('get', 'alerts', 'a1'),
      ok<{ id: string }[]>('query', 'alerts', 'level.ge=3', '--sort', '-level'),
      cli('query', 'alerts', 'sensor=temp', '--sort', 'id'),
      fails(5, 'get', 'alerts', 'missing'),
      fails(2, 'put', 'alerts', 'a9', '{not json'),
      ok<{ confirmed?: string }>(
        'put',
        'alerts',
        'a4',
        '{"level":2}',
        '--confirm',
        'hub',
        '--confirm-timeout',
        '10s',
      ),
    ]);
    assert.deepEqual([got['sensor'], got['level']], ['temp', 4]);
    assert.deepEqual(
      found.map((r) => r.id),
      ['a3', 'a1'],
    );
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^ID +LEVEL +SENSOR$/m);
    assert.match(human.stdout, /^a1 +4 +temp$/m);
    assert.match(human.stdout, /\(2 records\)/);
    assert.equal(missing.code, 'TM_NOT_FOUND');
    assert.equal(badJson.code, 'TM_CLI_USAGE');
    assert.equal(confirmed.confirmed, 'hub');
    assert.equal((await ok<{ synced: boolean }>('sync', '--wait', '--timeout', '20s')).synced, true);
    const same = await ok<{ same: boolean; edge: { count: number }; hub: { count: number } }>(
      'diff',
      'alerts',
    );
    assert.deepEqual([same.same, same.edge.count, same.hub.count], [true, 4, 4]);
  });

  it('diff names the keys that differ (exit 6)', async () => {
    // a hub-side write to a table this edge only publishes never comes down; an edge-side one waits for the link
    await Promise.all([
      ok('put', 'alerts', 'hubonly', '{"level":9}', '--on-hub'),
      ok('patch', 'alerts', 'a1', '{"level":7}', '--on-hub'),
    ]);
    const [run, human] = await Promise.all([
      cli('diff', 'alerts', '--ranges', '16', '--json'),
      cli('diff', 'alerts'),
    ]);
    assert.equal(run.code, 6, run.stderr);
    const d = run.json<{
      same: boolean;
      differingRanges: number[];
      keys: { onlyOnEdge: string[]; onlyOnHub: string[]; different: string[] };
    }>();
    assert.equal(d.same, false);
    assert.deepEqual(d.keys, { onlyOnEdge: [], onlyOnHub: ['hubonly'], different: ['a1'] });
    assert.ok(d.differingRanges.length >= 1 && d.differingRanges.length <= 2);
    assert.equal(run.errorJson().code, 'TM_DIFFERENT');
    assert.equal(human.code, 6);
    assert.match(
      human.stdout,
      /data\.alerts: differs — edge 4 records, hub 5; 0 only on the edge, 1 only on the hub, 1 different/,
    );
    assert.match(human.stdout, /^"hubonly" +only on the hub$/m);
    assert.match(human.stdout, /^"a1" +different values$/m);
  });

  it('status: JSON and the human table on the edge and on the hub; --watch refreshes', async () => {
    const others = Promise.all([
      cli('status'),
      cli('status', '--on-hub'),
      cli('status', '--watch', '100ms', '--count', '3', '--json'),
      cli('status', '--watch', '100ms', '--count', '2'),
    ]);
    const s = await ok<{
      role: string;
      synced: boolean;
      link: { connected: boolean; state: string };
      published: {
        table: string;
        backlogCount: number;
        drainEtaMs: number | null;
        receiptedThrough: number;
      }[];
      subscribed: { table: string; phase: string; lag: number }[];
    }>('status');
    assert.equal(s.role, 'edge');
    assert.equal(s.link.connected, true);
    assert.equal(s.synced, true);
    assert.deepEqual(
      s.published.map((p) => [p.table, p.backlogCount, p.drainEtaMs]),
      [['data.alerts', 0, 0]],
    );
    assert.ok(s.published[0]!.receiptedThrough >= 6);
    assert.deepEqual(
      s.subscribed.map((x) => [x.table, x.phase, x.lag]),
      [['data.thresholds', 'live', 0]],
    );
    const [human, hubHuman, watch, watchHuman] = await others;
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stdout,
      /^edge edge1 → mqtt:\/\/127\.0\.0\.1:\d+: connected · connects \d+, drops \d+ · synced$/m,
    );
    assert.match(
      human.stdout,
      /^PUBLISHED +BACKLOG +BYTES +OLDEST UNSENT +IN FLIGHT +RECEIPTED +DRAIN\/S +ETA +QUARANTINED +SKIPPED +LAST ERROR$/m,
    );
    assert.match(human.stdout, /^data\.alerts +0 +0 B +- +0 +\d+ +\S+ +- +0 +0 +-$/m);
    assert.match(human.stdout, /^SUBSCRIBED +PHASE +CURSOR +HEAD +LAG +LAST ERROR$/m);
    assert.match(human.stdout, /^data\.thresholds +live +\d+ +\d+ +0 +-$/m);

    const h = await ok<{
      role: string;
      connectedNodes: number;
      nodes: { id: string; connected: boolean; lastSeenAgeMs: number | null }[];
      tables: { table: string; feedHead: number; txPerSec: number | null }[];
    }>('status', '--on-hub');
    assert.equal(h.role, 'hub');
    assert.equal(h.connectedNodes, 1);
    assert.deepEqual(
      h.nodes.map((n) => [n.id, n.connected, n.lastSeenAgeMs !== null]),
      [
        ['edge1', true, true],
        ['edge2', false, false],
      ],
    );
    const alerts = h.tables.find((t) => t.table === 'data.alerts');
    assert.ok(alerts && alerts.feedHead >= 8, JSON.stringify(h.tables));
    assert.equal(hubHuman.code, 0);
    assert.match(hubHuman.stdout, /^hub hub \(epoch [0-9a-f]{8}\) · mqtt tcp \d+ · nodes connected 1 of 2$/m);
    assert.match(hubHuman.stdout, /^NODE +CONNECTED +LAST SEEN +PUBLISH +SUBSCRIBE$/m);
    assert.match(hubHuman.stdout, /^edge1 +yes +\S+ ago +data\.alerts +data\.thresholds$/m);
    assert.match(hubHuman.stdout, /^edge2 +no +never +- +data\.thresholds$/m);
    assert.match(hubHuman.stdout, /^TABLE +FEED HEAD +APPLIED TX\/S$/m);
    assert.match(hubHuman.stdout, /^data\.alerts +\d+ +\S+$/m);

    assert.equal(watch.code, 0, watch.stderr);
    const lines = watch.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    for (const line of lines) assert.equal((JSON.parse(line) as { role: string }).role, 'edge');
    assert.equal(watchHuman.stdout.match(/^edge edge1 /gm)?.length, 2);
  });

  it('quarantine: a record too large for the hub is quarantined; list, retry, drop', async () => {
    await ok('put', 'alerts', 'big', JSON.stringify({ blob: 'x'.repeat(4000) }));
    // wait on the edge's route itself (cheaper than a CLI process per poll), then ask the CLI
    await kit.waitFor(async () => (await quarantined()).length === 1, {
      timeoutMs: 15_000,
      message: 'the big record is quarantined',
    });
    const { quarantined: list } = await ok<{
      quarantined: { id: string; code: string; ops: { key: string }[] }[];
    }>('quarantine', 'list');
    assert.equal(list[0]!.code, 'TM_RECORD_TOO_LARGE');
    assert.deepEqual(
      list[0]!.ops.map((o) => o.key),
      ['big'],
    );
    const [s, human] = await Promise.all([
      ok<{ published: { quarantined: number; lastError: string }[] }>('status'),
      cli('quarantine', 'list'),
    ]);
    assert.equal(s.published[0]!.quarantined, 1);
    assert.match(s.published[0]!.lastError, /^TM_RECORD_TOO_LARGE: /);
    assert.match(human.stdout, /^ID +OPS +KEYS +CODE +MESSAGE +AGE$/m);
    assert.match(human.stdout, /TM_RECORD_TOO_LARGE/);
    const retried = await ok<{ retried: { id: string; retried: { table: string; seq: number } }[] }>(
      'quarantine',
      'retry',
      list[0]!.id,
    );
    assert.equal(retried.retried[0]!.id, list[0]!.id);
    assert.ok(retried.retried[0]!.retried.seq > 6);
    // the retry is refused again (still too large): a new quarantine entry replaces the old one
    await kit.waitFor(
      async () => {
        const q = await quarantined();
        return q.length === 1 && q[0]!.id !== list[0]!.id;
      },
      { timeoutMs: 15_000, message: 'the retry is quarantined again' },
    );
    const { quarantined: again } = await ok<{ quarantined: { id: string }[] }>(
      'quarantine',
      'list',
      '--table',
      'alerts',
    );
    assert.notEqual(again[0]!.id, list[0]!.id);
    const dropped = await ok<{ dropped: string[] }>('quarantine', 'drop', '--all');
    assert.deepEqual(dropped.dropped, [again[0]!.id]);
    const [after, dropAgain, retryNothing] = await Promise.all([
      ok<{ quarantined: unknown[] }>('quarantine', 'list'),
      fails(5, 'quarantine', 'drop', again[0]!.id),
      fails(2, 'quarantine', 'retry'),
      ok('delete', 'alerts', 'big'),
    ]);
    assert.deepEqual(after.quarantined, []);
    assert.equal(dropAgain.code, 'TM_NOT_FOUND');
    assert.equal(retryNothing.code, 'TM_CLI_USAGE');
  });

  it('nodes revoke holds the outbox (sync --wait times out, exit 6); grant releases it', async () => {
    const revoked = await ok<{ node: { publish: string[] } }>(
      'nodes',
      'revoke',
      'edge1',
      'alerts',
      '--publish',
    );
    assert.deepEqual(revoked.node.publish, []);
    await kit.waitFor(async () => (await edge.http.health())['link'] === 'connected', {
      message: 'edge1 reconnects after the revoke',
    });
    await ok('put', 'alerts', 'held1', '{"level":1}');
    const run = await cli('sync', '--wait', '--timeout', '2s', '--json');
    assert.equal(run.code, 6, run.stderr);
    const r = run.json<{ synced: boolean; backlog: number; held: { table: string; code: string }[] }>();
    assert.equal(r.synced, false);
    assert.equal(r.backlog, 1);
    assert.deepEqual(
      r.held.map((h) => [h.table, h.code]),
      [['data.alerts', 'TM_NOT_GRANTED']],
    );
    assert.equal(run.errorJson().code, 'TM_NOT_SYNCED');
    const [human, plain] = await Promise.all([cli('status'), cli('sync')]);
    assert.match(human.stdout, /^data\.alerts +1 +.* held: TM_NOT_GRANTED: /m);
    assert.equal(plain.code, 6);
    assert.match(plain.stdout, /^not synced: backlog 1 tx/m);
    const granted = await ok<{ node: { publish: string[] } }>(
      'nodes',
      'grant',
      'edge1',
      'alerts',
      '--publish',
    );
    assert.deepEqual(granted.node.publish, ['data.alerts']);
    const synced = await ok<{ synced: boolean }>('sync', '--wait', '--timeout', '20s');
    assert.equal(synced.synced, true);
  });

  it('nodes rotate and remove (on edge2); tables create/drop on the edge', async () => {
    const nodes = (async () => {
      const rotated = await ok<{ secret: string; node: { id: string } }>('nodes', 'rotate', 'edge2');
      assert.equal(rotated.node.id, 'edge2');
      assert.match(rotated.secret, /^[A-Za-z0-9_-]{40,}$/);
      assert.deepEqual(await ok('nodes', 'remove', 'edge2'), {
        removed: 'edge2',
        message: "node 'edge2' removed and disconnected",
      });
      assert.equal((await fails(5, 'nodes', 'remove', 'edge2')).code, 'TM_NOT_FOUND');
    })();
    const t = await ok<{ message: string }>(
      'tables',
      'create',
      'sensor_data',
      '--index',
      'sensor,ts',
      '--expiration',
      '3600',
    );
    assert.equal(t.message, "table 'data.sensor_data' successfully created.");
    const [d, exists, human] = await Promise.all([
      ok<{ indexes: string[][]; expiration: number }>('tables', 'describe', 'sensor_data'),
      fails(1, 'tables', 'create', 'sensor_data'),
      cli('tables', 'list'),
    ]);
    assert.deepEqual([d.indexes, d.expiration], [[['sensor', 'ts']], 3600]);
    assert.equal(exists.code, 'TM_TABLE_EXISTS');
    assert.match(human.stdout, /^TABLE +PRIMARY KEY +RECORDS +INDEXES +REPLICATION +EXPIRATION$/m);
    assert.match(human.stdout, /^data\.alerts +id +\d+ +- +publish +-$/m);
    assert.match(human.stdout, /^data\.thresholds +id +2 +- +subscribe +-$/m);
    assert.match(human.stdout, /^data\.sensor_data +id +0 +\(sensor,ts\) +local +3600s$/m);
    assert.match((await ok<{ message: string }>('tables', 'drop', 'sensor_data')).message, /sensor_data/);
    assert.equal((await fails(5, 'tables', 'describe', 'sensor_data')).code, 'TM_UNKNOWN_TABLE');
    await nodes;
  });

  it("subscriptions add creates a published table from the hub's definition (its primary key)", async () => {
    await Promise.all([
      ok('tables', 'create', 'readings', '--primary-key', 'rid', '--index', 'sensor', '--on-hub'),
      ok('nodes', 'grant', 'edge1', 'readings', '--publish'),
    ]);
    const added = await ok<{ added: string[]; createdLocally: string[]; warnings: string[] }>(
      'subscriptions',
      'add',
      'readings',
      '--publish',
    );
    assert.deepEqual(added, {
      ...added,
      added: ['data.readings'],
      createdLocally: ['data.readings'],
      warnings: [],
    });
    const d = await ok<{ hash_attribute: string; indexes: string[][] }>('tables', 'describe', 'readings');
    assert.deepEqual([d.hash_attribute, d.indexes], ['rid', [['sensor']]]);
    await ok('put', 'readings', '{"rid":"r1","sensor":"temp"}');
    assert.equal((await ok<{ synced: boolean }>('sync', '--wait', '--timeout', '20s')).synced, true);
    assert.equal((await ok<{ rid: string }>('get', 'readings', 'r1', '--on-hub')).rid, 'r1');
  });

  it('errors say what to do: unreachable (3), bad token (4), usage (2)', async () => {
    const nobody = `http://127.0.0.1:${await closedPort()}`;
    const [down, human, bad, usage, help] = await Promise.all([
      runCli(['status', '--json', '--edge', nobody], { env: env() }),
      runCli(['nodes', 'list', '--hub', nobody], { env: env() }),
      runCli(['nodes', 'list', '--json', '--token', 'wrong-token-0123456789'], { env: env() }),
      cli('frobnicate'),
      cli('sync', '--help'),
    ]);
    assert.equal(down.code, 3);
    assert.match(
      down.errorJson().error,
      /^edge not reachable at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): .*tablemesh-edge --help/,
    );
    assert.equal(human.code, 3);
    assert.match(
      human.stderr,
      /^tablemesh: hub not reachable at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): is tablemesh-hub running\?/,
    );
    assert.equal(bad.code, 4);
    assert.match(bad.errorJson().error, /--token or TABLEMESH_TOKEN/);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown command 'frobnicate'/);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples?:\n {2}\$ tablemesh sync --wait/);
    // offline-first: with its hub down, the edge still takes a subscription; the CLI says what it did not check
    const offline = await runCli(['subscriptions', 'add', 'offline_t', '--subscribe', '--json'], {
      env: { ...env(), TABLEMESH_HUB: nobody },
    });
    assert.equal(offline.code, 0, offline.stderr);
    const added = offline.json<{ added: string[]; warnings: string[] }>();
    assert.deepEqual(added.added, ['data.offline_t']);
    assert.match(added.warnings[0]!, /^not checked against the hub: hub not reachable at /);
    assert.deepEqual((await ok<{ removed: string[] }>('subscriptions', 'remove', 'offline_t')).removed, [
      'data.offline_t',
    ]);
  });

  it('every command has --help with an example (in process: the same program as the binary)', async () => {
    const commands = [
      ['subscriptions', 'list'],
      ['subscriptions', 'add'],
      ['subscriptions', 'remove'],
      ['nodes', 'add'],
      ['nodes', 'list'],
      ['nodes', 'remove'],
      ['nodes', 'grant'],
      ['nodes', 'revoke'],
      ['nodes', 'rotate'],
      ['tables', 'list'],
      ['tables', 'describe'],
      ['tables', 'create'],
      ['tables', 'drop'],
      ['get'],
      ['put'],
      ['patch'],
      ['delete'],
      ['query'],
      ['status'],
      ['sync'],
      ['diff'],
      ['quarantine', 'list'],
      ['quarantine', 'retry'],
      ['quarantine', 'drop'],
      ['certs', 'init'],
      ['certs', 'issue'],
    ];
    for (const c of commands) {
      const chunks: string[] = [];
      const io = { stdout: (t: string) => chunks.push(t), stderr: () => {}, isTTY: false, env: {} };
      assert.equal(await run([...c, '--help'], io), 0, c.join(' '));
      assert.match(chunks.join(''), new RegExp(`Examples?:\\n {2}\\$ tablemesh ${c[0]}`), c.join(' '));
    }
  });

  it('certs init/issue: a CA and a node certificate with CN = node id, signed by it', async () => {
    const init = await ok<{ cert: { subject: string; ca: boolean }; key: string }>(
      'certs',
      'init',
      '--dir',
      certDir,
    );
    assert.equal(init.cert.ca, true);
    assert.match(init.cert.subject, /CN=tablemesh development CA/);
    assert.equal(statSync(init.key).mode & 0o777, 0o600);
    const issued = await ok<{ cert: { file: string; subject: string; subjectAltName: string }; key: string }>(
      'certs',
      'issue',
      'edge1',
      '--dir',
      certDir,
      '--host',
      'localhost,127.0.0.1',
    );
    assert.equal(issued.cert.subject, 'CN=edge1');
    assert.equal(issued.cert.subjectAltName, 'DNS:edge1, DNS:localhost, IP Address:127.0.0.1');
    const ca = new X509Certificate(readFileSync(join(certDir, 'ca.pem')));
    const leaf = new X509Certificate(readFileSync(issued.cert.file));
    assert.equal(leaf.verify(ca.publicKey), true);
    assert.equal(leaf.checkIssued(ca), true);
    assert.equal(leaf.ca, false);
    assert.equal(statSync(issued.key).mode & 0o777, 0o600);
    assert.equal((await fails(1, 'certs', 'issue', 'edge1', '--dir', certDir)).code, 'TM_CLI_EXISTS');
    assert.equal((await fails(2, 'certs', 'issue', 'bad-name', '--dir', certDir)).code, 'TM_CLI_USAGE');
    const noCa = await fails(5, 'certs', 'issue', 'edge1', '--dir', join(certDir, 'nope'));
    assert.equal(noCa.code, 'TM_CLI_NO_CA');
    const human = await cli('certs', 'issue', 'hub', '--dir', certDir, '--host', 'localhost');
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^certificate {2}.*hub\.pem$/m);
  });
});
