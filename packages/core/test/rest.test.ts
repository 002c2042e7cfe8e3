import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rangeOfKey } from '../src/api/digest-ranges.js';
import { checkBearer, dispatchHttp, type HttpFrontOptions } from '../src/api/http-front.js';
import {
  handleRest,
  parseQueryValue,
  parseRestQuery,
  type RestDeps,
  type RestResponse,
} from '../src/api/rest.js';
import { TmError } from '../src/errors.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import type { LocalWrite } from '../src/store/store.js';
import { Store } from '../src/store/store.js';
import { UUIDV7_RE, uuidv7 } from '../src/uuid.js';

async function setup(options: { readOnly?: string[]; write?: RestDeps['write'] } = {}) {
  const store = await Store.open({
    kv: new MemoryKv(),
    nodeId: 'edge1',
    sync: false,
    now: () => 1_700_000_000_000,
  });
  await store.createTable({ name: 'sensor_data', indexes: [['sensor', 'ts']] });
  await store.createTable({ name: 'alerts' });
  await store.createTable({ name: 'dev.dog', primaryKey: 'dog_id' });
  await store.createTable({ name: 'thresholds' });
  const readOnly = new Set(options.readOnly ?? ['data.thresholds']);
  const errors: unknown[] = [];
  const deps: RestDeps = {
    store,
    write: options.write ?? ((writes: readonly LocalWrite[]) => store.writeLocal(writes)),
    isReadOnly: (t) => readOnly.has(t),
    onInternalError: (err) => errors.push(err),
  };
  const call = (method: string, url: string, body?: unknown): Promise<RestResponse> => {
    const u = new URL(url, 'http://x');
    return handleRest(deps, { method, path: u.pathname, query: u.searchParams, headers: {}, body });
  };
  return { store, call, errors };
}

const strip = (r: unknown): Record<string, unknown> => {
  const { __createdtime__: _c, __updatedtime__: _u, ...rest } = r as Record<string, unknown>;
  return rest;
};

describe('handleRest records', () => {
  it('PUT replaces, GET reads, PATCH merges, DELETE removes', async () => {
    const { call } = await setup();
    const put = await call('PUT', '/alerts/a1', { level: 3, msg: 'hot' });
    assert.equal(put.status, 200);
    const body = put.body as { table: string; key: string; stamp: { node: string } };
    assert.equal(body.table, 'data.alerts');
    assert.equal(body.key, 'a1');
    assert.equal(body.stamp.node, 'edge1');
    const got = await call('GET', '/alerts/a1');
    assert.equal(got.status, 200);
    assert.deepEqual(strip(got.body), { id: 'a1', level: 3, msg: 'hot' });
    assert.equal((got.body as Record<string, unknown>)['__createdtime__'], 1_700_000_000_000);

    assert.equal((await call('PATCH', '/alerts/a1', { msg: 'cool', ack: true })).status, 200);
    assert.deepEqual(strip((await call('GET', '/alerts/a1')).body), {
      id: 'a1',
      level: 3,
      msg: 'cool',
      ack: true,
    });
    assert.equal((await call('PUT', '/alerts/a1', { level: 1 })).status, 200);
    assert.deepEqual(strip((await call('GET', '/alerts/a1')).body), { id: 'a1', level: 1 });

    assert.equal((await call('DELETE', '/alerts/a1')).status, 200);
    const gone = await call('GET', '/alerts/a1');
    assert.equal(gone.status, 404);
    assert.equal((gone.body as { code: string }).code, 'TM_NOT_FOUND');
  });

  it('path ids are strings unless ?idType=number ("1" ≠ 1)', async () => {
    const { call } = await setup();
    assert.equal((await call('PUT', '/alerts/1?idType=number', { n: 'number' })).status, 200);
    assert.equal((await call('PUT', '/alerts/1', { n: 'string' })).status, 200);
    assert.deepEqual(strip((await call('GET', '/alerts/1?idType=number')).body), { id: 1, n: 'number' });
    assert.deepEqual(strip((await call('GET', '/alerts/1')).body), { id: '1', n: 'string' });
    const bad = await call('GET', '/alerts/abc?idType=number');
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { code: string }).code, 'TM_INVALID_KEY');
    assert.equal((await call('GET', '/alerts/1?idType=float')).status, 400);
    // a body key that disagrees with the path key is refused and nothing is written
    const mismatch = await call('PUT', '/alerts/2', { id: 2, n: 'x' });
    assert.equal(mismatch.status, 400);
    assert.equal((await call('GET', '/alerts/2')).status, 404);
  });

  it('POST creates with a UUIDv7 or the body key, answering 201 and Location', async () => {
    const { call } = await setup();
    const created = await call('POST', '/alerts/', { level: 2 });
    assert.equal(created.status, 201);
    const key = (created.body as { key: string }).key;
    assert.match(key, UUIDV7_RE);
    assert.equal(created.headers?.['location'], `/alerts/${key}`);
    assert.deepEqual(strip((await call('GET', `/alerts/${key}`)).body), { id: key, level: 2 });

    const withKey = await call('POST', '/dev.dog', { dog_id: 7, name: 'Rex' });
    assert.equal(withKey.status, 201);
    assert.equal(withKey.headers?.['location'], '/dev.dog/7?idType=number');
    assert.deepEqual(strip((await call('GET', '/dev.dog/7?idType=number')).body), { dog_id: 7, name: 'Rex' });
    assert.equal((await call('POST', '/alerts/', [1, 2])).status, 400);
  });

  it('maps unknown tables, bad names, bad bodies and methods to 4xx', async () => {
    const { call } = await setup();
    const unknown = await call('GET', '/nope/1');
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body as { code: string }).code, 'TM_UNKNOWN_TABLE');
    assert.equal(((await call('GET', '/bad-name/1')).body as { code: string }).code, 'TM_INVALID_NAME');
    assert.equal((await call('GET', '/a.b.c/1')).status, 400);
    const notObject = await call('PUT', '/alerts/x', 'text');
    assert.equal(notObject.status, 400);
    assert.equal((notObject.body as { code: string }).code, 'TM_INVALID_VALUE');
    const reserved = await call('PUT', '/alerts/x', { __secret: 1 });
    assert.equal((reserved.body as { code: string }).code, 'TM_INVALID_NAME');
    const post = await call('POST', '/alerts/x', {});
    assert.equal(post.status, 405);
    assert.equal(post.headers?.['allow'], 'GET, PUT, PATCH, DELETE');
    assert.equal((await call('GET', '/alerts/x/y')).status, 404);
    const root = await call('GET', '/'); // `/` is the operations API: POST only
    assert.equal(root.status, 405);
    assert.equal(root.headers?.['allow'], 'POST');
    assert.equal((await call('GET', '/alerts/%E0%A4%A')).status, 400);
    const big = await call('PUT', '/alerts/big', { blob: 'x'.repeat(200 * 1024) });
    assert.equal(big.status, 413);
    assert.equal((big.body as { code: string }).code, 'TM_RECORD_TOO_LARGE');
  });
});

describe('handleRest queries', () => {
  async function seeded() {
    const ctx = await setup();
    const rows = [
      { id: 'r1', sensor: 's1', ts: 100, v: 5, code: '5' },
      { id: 'r2', sensor: 's1', ts: 200, v: 15, code: 'a' },
      { id: 'r3', sensor: 's1', ts: 300, v: 25, code: 'b' },
      { id: 'r4', sensor: 's2', ts: 150, v: 35, code: 'ab' },
    ];
    const res = await ctx.call('POST', '/_batch', {
      writes: [
        { table: 'sensor_data', ops: rows.map(({ id, ...attrs }) => ({ kind: 'put', key: id, attrs })) },
      ],
    });
    assert.equal(res.status, 200);
    return ctx;
  }
  const ids = (res: RestResponse): unknown[] => (res.body as Array<{ id: unknown }>).map((r) => r.id);

  it('filters by equality and comparators, ANDed', async () => {
    const { call } = await seeded();
    assert.deepEqual(ids(await call('GET', '/sensor_data/?sensor=s1')), ['r1', 'r2', 'r3']);
    assert.deepEqual(ids(await call('GET', '/sensor_data/?sensor=s1&ts.gt=100')), ['r2', 'r3']);
    assert.deepEqual(ids(await call('GET', '/sensor_data/?sensor=s1&ts.ge=200&ts.lt=300')), ['r2']);
    assert.deepEqual(ids(await call('GET', '/sensor_data/?sensor=s1&ts.between=150,300')), ['r2', 'r3']);
    assert.deepEqual(ids(await call('GET', '/sensor_data/?v.le=15')), ['r1', 'r2']);
    assert.deepEqual(ids(await call('GET', '/sensor_data/?sensor.ne=s1')), ['r4']);
    assert.deepEqual(ids(await call('GET', '/sensor_data/?code.prefix=a')), ['r2', 'r4']);
    assert.deepEqual(ids(await call('GET', '/sensor_data/?code="5"')), ['r1']);
    assert.deepEqual(ids(await call('GET', '/sensor_data/?code=5')), []);
    assert.deepEqual(ids(await call('GET', '/sensor_data/?nothing=1')), []);
  });

  it('sorts, pages and selects', async () => {
    const { call } = await seeded();
    assert.deepEqual(ids(await call('GET', '/sensor_data/?sort=-ts')), ['r3', 'r2', 'r4', 'r1']);
    assert.deepEqual(ids(await call('GET', '/sensor_data?sort=ts&limit=2&offset=1')), ['r4', 'r2']);
    assert.deepEqual((await call('GET', '/sensor_data/?sensor=s2&select=id,v')).body, [{ id: 'r4', v: 35 }]);
    for (const bad of ['limit=-1', 'offset=x', 'ts.between=1', 'ts.between=[1', 'ts.between=1,2,3']) {
      const res = await call('GET', `/sensor_data/?${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal((res.body as { code: string }).code, 'TM_INVALID_ARGUMENT', bad);
    }
  });

  it('parses query values by the JSON-literal rule', () => {
    assert.equal(parseQueryValue('5'), 5);
    assert.equal(parseQueryValue('-1.5e3'), -1500);
    assert.equal(parseQueryValue('true'), true);
    assert.equal(parseQueryValue('null'), null);
    assert.equal(parseQueryValue('"5"'), '5');
    assert.equal(parseQueryValue('s1'), 's1');
    assert.equal(parseQueryValue('5px'), '5px');
    assert.deepEqual(parseRestQuery(new URLSearchParams('limit.eq=3&a.b=x&sort=-ts&select=a,,b')), {
      conditions: [
        { attr: 'limit', op: 'eq', value: 3 },
        { attr: 'a.b', op: 'eq', value: 'x' },
      ],
      sort: { attr: 'ts', descending: true },
      select: ['a', 'b'],
    });
  });
});

describe('handleRest batch and errors', () => {
  it('commits a multi-table batch and returns one transaction per table', async () => {
    const { call, store } = await setup();
    const res = await call('POST', '/_batch', {
      writes: [
        { table: 'alerts', ops: [{ kind: 'put', key: 'a1', attrs: { level: 1 } }] },
        {
          table: 'data.sensor_data',
          ops: [
            { kind: 'put', key: 'c1', attrs: { sensor: 's', ts: 1 } },
            { kind: 'patch', key: 'c2', attrs: { sensor: 's' } },
          ],
        },
      ],
    });
    assert.equal(res.status, 200);
    const txns = (res.body as { transactions: Array<{ table: string; ops: number; stamp: unknown }> })
      .transactions;
    assert.deepEqual(
      txns.map((t) => [t.table, t.ops]),
      [
        ['data.alerts', 1],
        ['data.sensor_data', 2],
      ],
    );
    assert.ok(txns.every((t) => typeof t.stamp === 'object'));
    assert.equal((await store.query('sensor_data')).length, 2);
  });

  it('is all or nothing: one bad op anywhere commits nothing', async () => {
    const { call, store } = await setup();
    const res = await call('POST', '/_batch', {
      writes: [
        { table: 'alerts', ops: [{ kind: 'put', key: 'a1', attrs: { level: 1 } }] },
        { table: 'sensor_data', ops: [{ kind: 'put', key: 'c1', attrs: { bad: 2 ** 60 } }] },
      ],
    });
    assert.equal(res.status, 400);
    assert.equal((res.body as { code: string }).code, 'TM_INVALID_VALUE');
    assert.equal((await store.query('alerts')).length, 0);
    for (const body of [
      undefined,
      {},
      { writes: [] },
      { writes: [{ table: 'alerts' }] },
      { writes: [null] },
    ]) {
      assert.equal((await call('POST', '/_batch', body)).status, 400, JSON.stringify(body));
    }
    assert.equal((await call('GET', '/_batch')).status, 405);
  });

  it('GET /_digest/{table} answers the store digest of live records (SPEC §3), same for equal contents', async () => {
    const a = await setup();
    const b = await setup();
    const empty = await a.call('GET', '/_digest/alerts');
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.body, await a.store.digest('data.alerts'));
    assert.equal((empty.body as { count: number }).count, 0);
    for (const { call } of [a, b]) {
      assert.equal((await call('PUT', '/alerts/a1', { level: 3 })).status, 200);
      assert.equal((await call('PUT', '/alerts/a2', { level: 4 })).status, 200);
      assert.equal((await call('DELETE', '/alerts/a2')).status, 200);
    }
    const da = await a.call('GET', '/_digest/data.alerts');
    const db = await b.call('GET', '/_digest/alerts');
    assert.equal((da.body as { count: number }).count, 1);
    assert.deepEqual(da.body, db.body);
    assert.notDeepEqual(da.body, empty.body);
    assert.equal((await a.call('PUT', '/alerts/a1', { level: 5 })).status, 200);
    assert.notDeepEqual((await a.call('GET', '/_digest/alerts')).body, db.body);
    assert.equal((await a.call('GET', '/_digest/nope')).status, 404);
    assert.equal((await a.call('POST', '/_digest/alerts')).status, 405);
  });

  it('GET /_digest/{table}?ranges=N splits the digest by key range and &range=i names the keys', async () => {
    const a = await setup();
    const b = await setup();
    for (const { call } of [a, b]) {
      for (let i = 0; i < 40; i++)
        assert.equal((await call('PUT', `/alerts/k${i}`, { level: i })).status, 200);
    }
    assert.equal((await b.call('PUT', '/alerts/k7', { level: 70 })).status, 200); // differs
    assert.equal((await b.call('DELETE', '/alerts/k9')).status, 200); // only on a
    assert.equal((await b.call('PUT', '/alerts/1?idType=number', { level: 1 })).status, 200); // only on b
    type Ranged = { digest: string; count: number; ranges: { digest: string; count: number }[] };
    const ra = (await a.call('GET', '/_digest/alerts?ranges=8')).body as Ranged;
    const rb = (await b.call('GET', '/_digest/alerts?ranges=8')).body as Ranged;
    // the whole-table part equals the plain digest; the ranges partition the records
    assert.deepEqual({ digest: ra.digest, count: ra.count }, await a.store.digest('data.alerts'));
    assert.equal(ra.ranges.length, 8);
    assert.equal(
      ra.ranges.reduce((n, r) => n + r.count, 0),
      40,
    );
    const differing = ra.ranges.flatMap((r, i) => (r.digest === rb.ranges[i]!.digest ? [] : [i]));
    const expected = new Set([rangeOfKey('k7', 8), rangeOfKey('k9', 8), rangeOfKey(1, 8)]);
    assert.deepEqual(
      differing,
      [...expected].sort((x, y) => x - y),
    );
    // listing the differing ranges on both sides names exactly the three keys
    type Listing = { keys: { key: string | number; hash: string }[]; count: number; truncated: boolean };
    const diffKeys: (string | number)[] = [];
    for (const i of differing) {
      const la = (await a.call('GET', `/_digest/alerts?ranges=8&range=${i}`)).body as Listing;
      const lb = (await b.call('GET', `/_digest/alerts?ranges=8&range=${i}`)).body as Listing;
      assert.equal(la.count, la.keys.length);
      assert.equal(la.truncated, false);
      const hb = new Map(lb.keys.map((k) => [JSON.stringify(k.key), k.hash]));
      const ha = new Map(la.keys.map((k) => [JSON.stringify(k.key), k.hash]));
      for (const k of new Set([...ha.keys(), ...hb.keys()])) {
        if (ha.get(k) !== hb.get(k)) diffKeys.push(JSON.parse(k) as string | number);
      }
    }
    assert.deepEqual(
      diffKeys.sort((x, y) => String(x).localeCompare(String(y))),
      [1, 'k7', 'k9'],
    );
    for (const bad of ['ranges=0', 'ranges=5000', 'ranges=x', 'ranges=4&range=4', 'range=1']) {
      const res = await a.call('GET', `/_digest/alerts?${bad}`);
      assert.equal(res.status, 400, bad);
      assert.equal((res.body as { code: string }).code, 'TM_INVALID_ARGUMENT');
    }
  });

  it('refuses writes to read-only tables with 409 TM_READ_ONLY_TABLE, reads still work', async () => {
    const { call, store } = await setup();
    for (const [method, url, body] of [
      ['PUT', '/thresholds/t1', { max: 5 }],
      ['PATCH', '/thresholds/t1', { max: 5 }],
      ['DELETE', '/thresholds/t1', undefined],
      ['POST', '/thresholds/', { max: 5 }],
      ['POST', '/_batch', { writes: [{ table: 'thresholds', ops: [{ kind: 'delete', key: 't1' }] }] }],
    ] as const) {
      const res = await call(method, url, body);
      assert.equal(res.status, 409, `${method} ${url}`);
      assert.equal((res.body as { code: string }).code, 'TM_READ_ONLY_TABLE');
    }
    await store.writeLocal([{ table: 'thresholds', ops: [{ kind: 'put', key: 't1', attrs: { max: 9 } }] }]);
    assert.deepEqual(strip((await call('GET', '/thresholds/t1')).body), { id: 't1', max: 9 });
  });

  it('maps write errors by code and hides unexpected ones as 500', async () => {
    let next: unknown = new TmError('TM_QUOTA_FULL', 'outbox of data.alerts is full (256MiB)');
    const { call, errors } = await setup({
      write: async () => {
        throw next;
      },
    });
    const full = await call('PUT', '/alerts/a', { x: 1 });
    assert.equal(full.status, 507);
    assert.deepEqual(full.body, { error: 'outbox of data.alerts is full (256MiB)', code: 'TM_QUOTA_FULL' });
    next = new TmError('TM_TX_TOO_LARGE', 'too big');
    assert.equal((await call('PUT', '/alerts/a', { x: 1 })).status, 413);
    next = new TypeError('secret internals');
    const crash = await call('PUT', '/alerts/a', { x: 1 });
    assert.equal(crash.status, 500);
    assert.deepEqual(crash.body, { error: 'internal error' });
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TypeError);
  });
});

describe('dispatchHttp', () => {
  const base: HttpFrontOptions = {
    rest: async (req) => ({
      status: 200,
      body: { method: req.method, path: req.path, body: req.body ?? null },
    }),
    health: () => ({ status: 'ok' }),
    metrics: () => '# TYPE x counter\nx 1\n',
  };
  const raw = (url: string, extra: { method?: string; body?: string; auth?: string } = {}) => ({
    method: extra.method ?? 'GET',
    url,
    headers: extra.auth === undefined ? {} : { authorization: extra.auth },
    body: Buffer.from(extra.body ?? ''),
  });

  it('serves /health without a token and requires it elsewhere', async () => {
    const opts = { ...base, token: 's3cret' };
    const health = await dispatchHttp(opts, raw('/health'));
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
    const denied = await dispatchHttp(opts, raw('/metrics'));
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['www-authenticate'], 'Bearer');
    assert.equal((await dispatchHttp(opts, raw('/alerts/1', { auth: 'Bearer wrong' }))).status, 401);
    const metrics = await dispatchHttp(opts, raw('/metrics', { auth: 'Bearer s3cret' }));
    assert.equal(metrics.status, 200);
    assert.equal(metrics.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(metrics.body, '# TYPE x counter\nx 1\n');
    assert.ok(checkBearer('bearer  s3cret', 's3cret'));
    assert.ok(!checkBearer('Basic s3cret', 's3cret'));
    assert.ok(!checkBearer(undefined, 's3cret'));
  });

  it('parses JSON bodies, answers 400 on bad JSON and 500 when the handler throws', async () => {
    const ok = await dispatchHttp(base, raw('/t/1', { method: 'put', body: '{"a":1}' }));
    assert.deepEqual(JSON.parse(ok.body), { method: 'PUT', path: '/t/1', body: { a: 1 } });
    const bad = await dispatchHttp(base, raw('/t/1', { method: 'PUT', body: '{"a":' }));
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).code, 'TM_INVALID_ARGUMENT');
    const seen: unknown[] = [];
    const boom = await dispatchHttp(
      {
        ...base,
        rest: () => Promise.reject(new Error('x')),
        onInternalError: (e) => seen.push(e),
      },
      raw('/t/1'),
    );
    assert.equal(boom.status, 500);
    assert.equal(seen.length, 1);
  });
});

describe('uuidv7', () => {
  it('encodes the ms timestamp, version 7 and variant 10; sorts by time', () => {
    const id = uuidv7(0x0189_abcd_ef01, () => new Uint8Array(10).fill(0xff));
    assert.equal(id, '0189abcd-ef01-7fff-bfff-ffffffffffff');
    assert.match(uuidv7(), UUIDV7_RE);
    assert.ok(uuidv7(1000) < uuidv7(2000));
    assert.notEqual(uuidv7(5), uuidv7(5));
  });
});
