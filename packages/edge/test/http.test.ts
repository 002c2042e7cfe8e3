import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type LocalWrite, MemoryKv, MetricsRegistry, Store } from '@tablemesh/core';
import { pino } from 'pino';
import { type HttpServerHandle, startHttp } from '../src/http.js';

const logger = pino({ level: 'silent' });
const TOKEN = 'edge-test-token-0123456789';

async function openStore(): Promise<Store> {
  const store = await Store.open({ kv: new MemoryKv(), nodeId: 'edge1', sync: false });
  await store.createTable({ name: 'sensor_data', indexes: [['sensor', 'ts']] });
  await store.createTable({ name: 'alerts' });
  await store.createTable({ name: 'thresholds' });
  return store;
}

interface Server {
  store: Store;
  server: HttpServerHandle;
  url: string;
  writes: number;
}

async function serve(token?: string): Promise<Server> {
  const store = await openStore();
  const metrics = new MetricsRegistry();
  const requests = metrics.counter('tm_test_writes_total', 'Local write requests.');
  const ctx = { store, writes: 0 } as Server;
  ctx.server = await startHttp({
    host: '127.0.0.1',
    port: 0,
    token,
    rest: {
      store,
      write: (writes: readonly LocalWrite[]) => {
        ctx.writes++;
        requests.inc();
        return store.writeLocal(writes);
      },
      isReadOnly: (t) => t === 'data.thresholds',
    },
    health: () => ({ status: 'ok', nodeId: 'edge1' }),
    metrics: () => metrics.render(),
    logger,
  });
  ctx.url = `http://127.0.0.1:${ctx.server.port}`;
  return ctx;
}

async function req(
  ctx: Server,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${ctx.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    body: type.startsWith('application/json') ? JSON.parse(text) : text,
    headers: res.headers,
  };
}

const strip = (r: unknown): Record<string, unknown> => {
  const { __createdtime__: _c, __updatedtime__: _u, ...rest } = r as Record<string, unknown>;
  return rest;
};

describe('edge http api (no token)', () => {
  let ctx: Server;
  before(async () => {
    ctx = await serve();
  });
  after(async () => {
    await ctx.server.close();
    await ctx.store.close();
  });

  it('does CRUD over real sockets', async () => {
    assert.equal((await req(ctx, 'PUT', '/alerts/a1', { level: 3 })).status, 200);
    assert.deepEqual(strip((await req(ctx, 'GET', '/alerts/a1')).body), { id: 'a1', level: 3 });
    assert.equal((await req(ctx, 'PATCH', '/alerts/a1', { ack: true })).status, 200);
    assert.deepEqual(strip((await req(ctx, 'GET', '/alerts/a1')).body), { id: 'a1', level: 3, ack: true });
    const created = await req(ctx, 'POST', '/data.alerts/', { level: 1 });
    assert.equal(created.status, 201);
    const location = created.headers.get('location') ?? '';
    assert.match(location, /^\/data\.alerts\/[0-9a-f-]{36}$/);
    assert.deepEqual(strip((await req(ctx, 'GET', location)).body), {
      id: (created.body as { key: string }).key,
      level: 1,
    });
    assert.equal((await req(ctx, 'DELETE', '/alerts/a1')).status, 200);
    const gone = await req(ctx, 'GET', '/alerts/a1');
    assert.equal(gone.status, 404);
    assert.equal((gone.body as { code: string }).code, 'TM_NOT_FOUND');
  });

  it('queries with comparators, sort, limit and select', async () => {
    const ops = [100, 200, 300, 400].map((ts, i) => ({
      kind: 'put',
      key: `r${i}`,
      attrs: { sensor: i < 3 ? 's1' : 's2', ts, v: i * 10 },
    }));
    assert.equal(
      (await req(ctx, 'POST', '/_batch', { writes: [{ table: 'sensor_data', ops }] })).status,
      200,
    );
    const ids = async (q: string) =>
      ((await req(ctx, 'GET', `/sensor_data/?${q}`)).body as Array<{ id: string }>).map((r) => r.id);
    assert.deepEqual(await ids('sensor=s1&ts.gt=100'), ['r1', 'r2']);
    assert.deepEqual(await ids('sensor=s1&ts.between=100,200'), ['r0', 'r1']);
    assert.deepEqual(await ids('v.ge=10&v.lt=30'), ['r1', 'r2']);
    assert.deepEqual(await ids('sort=-ts&limit=2'), ['r3', 'r2']);
    assert.deepEqual((await req(ctx, 'GET', '/sensor_data/?sensor=s2&select=id,ts')).body, [
      { id: 'r3', ts: 400 },
    ]);
  });

  it('commits a batch atomically: a bad op in one table writes nothing in any table', async () => {
    const bad = await req(ctx, 'POST', '/_batch', {
      writes: [
        { table: 'alerts', ops: [{ kind: 'put', key: 'x1', attrs: { ok: true } }] },
        { table: 'sensor_data', ops: [{ kind: 'put', key: 'x2', attrs: { __bad: 1 } }] },
      ],
    });
    assert.equal(bad.status, 400);
    assert.equal((await req(ctx, 'GET', '/alerts/x1')).status, 404);
    const good = await req(ctx, 'POST', '/_batch', {
      writes: [
        { table: 'alerts', ops: [{ kind: 'put', key: 'x1', attrs: { ok: true } }] },
        { table: 'sensor_data', ops: [{ kind: 'put', key: 'x2', attrs: { sensor: 's9', ts: 1 } }] },
      ],
    });
    assert.equal(good.status, 200);
    const txns = (good.body as { transactions: Array<{ table: string }> }).transactions;
    assert.deepEqual(
      txns.map((t) => t.table),
      ['data.alerts', 'data.sensor_data'],
    );
    assert.equal((await req(ctx, 'GET', '/alerts/x1')).status, 200);
    assert.equal((await req(ctx, 'GET', '/sensor_data/x2')).status, 200);
  });

  it('answers 409 TM_READ_ONLY_TABLE on subscribe-only tables', async () => {
    const before = ctx.writes;
    const res = await req(ctx, 'PUT', '/thresholds/t1', { max: 10 });
    assert.equal(res.status, 409);
    assert.equal((res.body as { code: string }).code, 'TM_READ_ONLY_TABLE');
    assert.equal(ctx.writes, before, 'the write path was never called');
  });

  it('answers 400 on bad JSON, changing nothing', async () => {
    const res = await req(ctx, 'PUT', '/alerts/j1', '{"level": 1,');
    assert.equal(res.status, 400);
    assert.equal((res.body as { code: string }).code, 'TM_INVALID_ARGUMENT');
    assert.equal((await req(ctx, 'GET', '/alerts/j1')).status, 404);
  });

  it('reads a body sent in several chunks, and an empty one', async () => {
    // a raw request whose body leaves in three writes: the server must join the chunks in order
    const body = JSON.stringify({ level: 7, note: 'x'.repeat(20_000) });
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(ctx.server.port, '127.0.0.1', () => {
        socket.write(
          `PUT /alerts/chunked HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n`,
        );
        socket.write(body.slice(0, 5));
        setTimeout(() => socket.write(body.slice(5, 10_000)), 20);
        setTimeout(() => socket.write(body.slice(10_000)), 40);
      });
      let text = '';
      socket.on('data', (d) => {
        text += d.toString('utf8');
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    const got = (await req(ctx, 'GET', '/alerts/chunked')).body as { level: number; note: string };
    assert.equal(got.level, 7);
    assert.equal(got.note.length, 20_000);
    // no body at all: PUT of nothing is refused by the store, not by the body reader
    const empty = await fetch(`${ctx.url}/alerts/none`, { method: 'PUT' });
    assert.equal(empty.status, 400);
  });

  it('answers 413 over maxTxBytes + 64 KiB, and serves the next request', async () => {
    const big = { blob: 'x'.repeat(256 * 1024 + 64 * 1024) };
    const res = await req(ctx, 'PUT', '/alerts/big', big);
    assert.equal(res.status, 413);
    assert.equal((res.body as { code: string }).code, 'TM_TX_TOO_LARGE');
    assert.equal((await req(ctx, 'GET', '/alerts/big')).status, 404);
    // just under the body limit but over maxRecordBytes: the store's own limit answers
    const record = await req(ctx, 'PUT', '/alerts/rec', { blob: 'y'.repeat(200 * 1024) });
    assert.equal(record.status, 413);
    assert.equal((record.body as { code: string }).code, 'TM_RECORD_TOO_LARGE');
  });

  it('serves /health and /metrics', async () => {
    const health = await req(ctx, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok', nodeId: 'edge1' });
    const metrics = await req(ctx, 'GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(metrics.body as string, /^# TYPE tm_test_writes_total counter$/m);
    assert.match(metrics.body as string, new RegExp(`^tm_test_writes_total ${ctx.writes}$`, 'm'));
  });
});

describe('edge http api (token)', () => {
  let ctx: Server;
  before(async () => {
    ctx = await serve(TOKEN);
  });
  after(async () => {
    await ctx.server.close();
    await ctx.store.close();
  });

  it('answers 401 without the bearer token and 200 with it; /health stays open', async () => {
    const denied = await req(ctx, 'PUT', '/alerts/a', { v: 1 });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer');
    assert.equal(
      (await req(ctx, 'GET', '/alerts/a', undefined, { authorization: 'Bearer nope' })).status,
      401,
    );
    assert.equal((await req(ctx, 'GET', '/metrics')).status, 401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    assert.equal((await req(ctx, 'PUT', '/alerts/a', { v: 1 }, auth)).status, 200);
    assert.deepEqual(strip((await req(ctx, 'GET', '/alerts/a', undefined, auth)).body), { id: 'a', v: 1 });
    assert.equal((await req(ctx, 'GET', '/health')).status, 200);
    assert.equal(ctx.writes, 1, 'the refused write never reached the store');
  });
});

describe('startHttp lifecycle', () => {
  it('close() stops the listener', async () => {
    const ctx = await serve();
    assert.equal((await req(ctx, 'GET', '/health')).status, 200);
    await ctx.server.close();
    await assert.rejects(fetch(`${ctx.url}/health`));
    await ctx.store.close();
  });
});
