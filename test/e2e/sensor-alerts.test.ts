/**
 * Done when (issue 9): the reference use case (SPEC §1) as shipped in examples/sensor-alerts, run against a hub and
 * an edge configured from deploy/examples/*.yaml, over a link that drops for a while (blackhole, then unreachable).
 * Two edge-app processes write sensor_data locally and raise alerts — one keeps the rows inline, one is forced to
 * split them into alert_chunks — while the cloud changes thresholds on the hub during the outage. Then:
 *   - every alert the apps raised is at the hub exactly once (the hub's apply log, I7–I9), equal to the edge's copy;
 *   - each alert carries its full snippet: the edge's sensor_data rows of its window, inline or gathered from its
 *     chunks at the hub;
 *   - the threshold changes reached the edge and were pushed to the apps.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkApplyLog, type HttpClient, readHubFeed, sleep, useTestkit } from '@tablemesh/testkit';
import { parse } from 'yaml';
import { startLinkProxy } from './_link-proxy.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const example = (file: string) => parse(readFileSync(`${root}deploy/examples/${file}`, 'utf8'));
const APP = `${root}examples/sensor-alerts/edge-app.mjs`;
const WINDOW_MS = 5_000; // shorter than the shipped 60 s so the window's lower bound is exercised in a short test

type Row = { ts: number; value: number };
type Alert = {
  id: string;
  edge: string;
  sensor: string;
  ts: number;
  value: number;
  threshold: { max: number | null; min: number | null };
  window: { from: number; to: number };
  rowCount: number;
  chunks: number;
  rows: Row[];
};
type AppEvent = { type: string; at: number; [key: string]: unknown };

/** One edge-app process with its JSON event lines. */
class App {
  readonly events: AppEvent[] = [];
  readonly proc: ChildProcess;
  private stderr = '';

  constructor(args: string[]) {
    this.proc = spawn(process.execPath, [APP, '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.events.push(JSON.parse(line) as AppEvent);
    });
    this.proc.stderr!.on('data', (chunk) => {
      this.stderr += String(chunk);
    });
  }

  of(type: string): AppEvent[] {
    return this.events.filter((e) => e.type === type);
  }

  /** The last threshold the app was pushed for `sensor`. */
  threshold(sensor: string): { max: unknown; min: unknown } | undefined {
    const last = this.of('threshold')
      .filter((e) => e.sensor === sensor)
      .pop();
    return last && { max: last['max'], min: last['min'] };
  }

  /** SIGTERM; resolves with the app's final stats line. */
  async stop(): Promise<AppEvent> {
    if (this.proc.exitCode === null) {
      const exited = new Promise((resolve) => this.proc.once('exit', resolve));
      this.proc.kill('SIGTERM');
      await exited;
    }
    assert.equal(this.stderr, '', 'the app wrote nothing to stderr');
    const stopped = this.of('stopped').pop();
    assert.ok(stopped, 'the app printed its final stats');
    return stopped;
  }
}

/** The record without the derived times (SPEC §3), which differ between replicas. */
function strip(r: Record<string, unknown>): Record<string, unknown> {
  const { __createdtime__: _c, __updatedtime__: _u, ...rest } = r;
  return rest;
}

/** Every row of `sensor` in [from, to] on the edge, as an alert holds them. */
async function rowsAt(edge: HttpClient, sensor: string, from: number, to: number): Promise<Row[]> {
  const rows = await edge.query<Row & { sensor: string }>('sensor_data', {
    sensor: JSON.stringify(sensor),
    'ts.ge': from,
    'ts.le': to,
    sort: 'ts',
  });
  return rows.map((r) => ({ ts: r.ts, value: r.value }));
}

/** The rows of an alert as the hub holds it: inline, or from its chunk records in part order. */
async function rowsAtHub(hub: HttpClient, alert: Alert): Promise<Row[]> {
  if (alert.chunks === 0) return alert.rows;
  const parts = await hub.query<{ part: number; rows: Row[] }>('alert_chunks', {
    alertId: JSON.stringify(alert.id),
    sort: 'part',
  });
  assert.deepEqual(
    parts.map((p) => p.part),
    Array.from({ length: alert.chunks }, (_, i) => i),
    `alert ${alert.id}: every chunk at the hub`,
  );
  return parts.flatMap((p) => p.rows);
}

describe('examples/sensor-alerts over a link that drops', { timeout: 150_000 }, () => {
  it('delivers every alert once with its full snippet, and threshold changes reach the edge', async (t) => {
    const kit = useTestkit(t);
    const hubYaml = example('hub.yaml');
    const edgeYaml = example('edge.yaml');
    const secret = 'edge1-secret-for-the-example-test';
    const edge1 = hubYaml.nodes.find((n: { id: string }) => n.id === 'edge1');
    const hub = await kit.startHub({
      tables: hubYaml.tables,
      nodes: [{ ...edge1, secret }],
      config: { limits: hubYaml.limits },
    });
    const proxy = await startLinkProxy(hub.mqttPort!);
    t.after(() => proxy.close());
    const edge = await kit.startEdge({
      name: 'edge1',
      hub: `mqtt://127.0.0.1:${proxy.port}`,
      secret,
      config: { tables: edgeYaml.tables, publish: edgeYaml.publish, subscribe: edgeYaml.subscribe },
    });
    await hub.http.put('thresholds', 'temp', { sensor: 'temp', max: 28 });
    await hub.http.put('thresholds', 'pressure', { sensor: 'pressure', max: 28 });

    const edgeUrl = `http://127.0.0.1:${edge.httpPort}`;
    const common = [
      '--edge',
      edgeUrl,
      '--interval-ms',
      '50',
      '--period-ms',
      '3000',
      '--window-ms',
      String(WINDOW_MS),
    ];
    const inline = new App([...common, '--sensors', 'temp', '--seed', '7']);
    const chunked = new App([
      ...common,
      '--sensors',
      'pressure',
      '--seed',
      '8',
      '--max-record-bytes',
      '1024',
    ]);
    const apps = [inline, chunked];
    t.after(() => {
      for (const app of apps) app.proc.kill('SIGKILL');
    });
    await kit.waitFor(
      () => inline.threshold('temp')?.max === 28 && chunked.threshold('pressure')?.max === 28,
      {
        timeoutMs: 15_000,
        message: 'the apps to read their thresholds',
      },
    );
    for (const app of apps) assert.ok(app.of('watching').length > 0, 'thresholds are pushed by SSE');
    await kit.waitFor(
      async () => (await hub.http.query('alerts', { select: 'id' }).catch(() => [])).length >= 2,
      {
        timeoutMs: 20_000,
        message: 'alerts at the hub while the link is up',
      },
    );

    // The link drops: first silently (bytes vanish), then the hub is unreachable. Meanwhile the cloud changes
    // the thresholds and the apps keep raising alerts into the edge's outbox.
    proxy.mode = 'blackhole';
    const outageFrom = Date.now();
    await hub.http.put('thresholds', 'temp', { sensor: 'temp', max: 29 });
    await hub.http.put('thresholds', 'pressure', { sensor: 'pressure', max: 27, min: 15 });
    await sleep(3_000);
    proxy.mode = 'down';
    const alertsBefore = inline.of('alert').length + chunked.of('alert').length;
    await kit.waitFor(
      async () =>
        inline.of('alert').length + chunked.of('alert').length >= alertsBefore + 2 &&
        (await edge.http.metrics()).sum('tablemesh_backlog_count') > 0,
      { timeoutMs: 15_000, message: 'alerts queued in the outbox during the outage' },
    );
    assert.equal((await edge.http.get('thresholds', 'temp'))?.['max'], 28, 'no new threshold while cut off');
    assert.equal(inline.threshold('temp')?.max, 28);
    const outageTo = Date.now();
    proxy.mode = 'up';

    // After the link is back: the thresholds arrive and are pushed to the apps; the outbox drains.
    await kit.waitFor(
      () =>
        inline.threshold('temp')?.max === 29 &&
        chunked.threshold('pressure')?.max === 27 &&
        chunked.threshold('pressure')?.min === 15,
      { timeoutMs: 20_000, message: 'the changed thresholds to reach the apps' },
    );
    assert.deepEqual(await edge.http.digest('thresholds'), await hub.http.digest('thresholds'));
    await sleep(2_000); // a few alerts on the healed link too
    const stats = await Promise.all(apps.map((app) => app.stop()));
    await kit.waitFor(async () => (await edge.http.metrics()).sum('tablemesh_backlog_count') === 0, {
      timeoutMs: 30_000,
      message: 'the outbox to drain',
    });

    // Every alert raised is on the edge and at the hub, once, with the same content.
    const raised = apps.flatMap((app) => app.of('alert').map((e) => String(e['id']))).sort();
    assert.equal(
      raised.length,
      stats.reduce((n, s) => n + Number((s['stats'] as { alertsSent: number }).alertsSent), 0),
    );
    assert.equal(new Set(raised).size, raised.length, 'alert ids are unique');
    const atEdge = await edge.http.query<Alert>('alerts', { sort: 'id' });
    const atHub = await hub.http.query<Alert>('alerts', { sort: 'id' });
    assert.deepEqual(
      atEdge.map((a) => a.id),
      raised,
    );
    assert.deepEqual(atHub.map(strip), atEdge.map(strip), 'the hub holds exactly the edge alerts');
    assert.deepEqual(await hub.http.digest('alert_chunks'), await edge.http.digest('alert_chunks'));
    assert.ok(
      atHub.some((a) => a.ts > outageFrom && a.ts < outageTo),
      'some alerts were raised during the outage',
    );
    const chunkedAlerts = atHub.filter((a) => a.chunks > 0);
    assert.ok(chunkedAlerts.length > 0 && chunkedAlerts.every((a) => a.sensor === 'pressure'));
    assert.ok(atHub.some((a) => a.chunks === 0 && a.sensor === 'temp'));

    // Each alert's snippet is the edge's sensor rows of its window, complete and in order.
    for (const alert of atHub) {
      assert.equal(alert.window.to - alert.window.from, WINDOW_MS);
      const expected = await rowsAt(edge.http, alert.sensor, alert.window.from, alert.window.to);
      const got = await rowsAtHub(hub.http, alert);
      assert.equal(alert.rowCount, expected.length, `alert ${alert.id}: rowCount`);
      assert.deepEqual(got, expected, `alert ${alert.id}: its rows at the hub`);
      assert.equal(got.at(-1)?.ts, alert.ts, 'the snippet ends with the violating reading');
      assert.equal(got.at(-1)?.value, alert.value);
    }

    // Applied once each: the hub's apply log has one entry per transaction, in seq order (I7–I9).
    await hub.stop();
    for (const [table, count] of [
      ['alerts', atHub.length],
      ['alert_chunks', chunkedAlerts.length],
    ] as const) {
      const log = checkApplyLog(await readHubFeed(hub.storeDir, table), ['hub']);
      assert.deepEqual(log.duplicates, [], `${table}: no transaction applied twice`);
      assert.deepEqual(log.outOfOrder, [], `${table}: applied in seq order`);
      assert.deepEqual(log.perOrigin, { edge1: count }, `${table}: one transaction per alert`);
    }
  });
});
