import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterManager, ReplicationEntry } from '../src/api/operations.js';
import { parseOperation } from '../src/api/operations-body.js';
import { valueCondition, wildcardMatch } from '../src/api/operations-search.js';
import { handleRest, type RestDeps, type RestResponse } from '../src/api/rest.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { type LocalWrite, Store } from '../src/store/store.js';

const NOW = 1_700_000_000_000;

async function setup(options: { role?: 'edge' | 'hub'; cluster?: ClusterManager; readOnly?: string[] } = {}) {
  const store = await Store.open({ kv: new MemoryKv(), nodeId: 'edge1', sync: false, now: () => NOW });
  await store.createTable({ name: 'dev.dog', primaryKey: 'id', indexes: [['breed'], ['owner', 'age']] });
  await store.createTable({ name: 'sensor_data', indexes: [['sensor', 'ts']] });
  await store.createTable({ name: 'thresholds' });
  let n = 0;
  const writes: LocalWrite[][] = [];
  const deps: RestDeps = {
    store,
    write: (w) => {
      writes.push([...w]);
      return store.writeLocal(w);
    },
    isReadOnly: (t) => (options.readOnly ?? ['data.thresholds']).includes(t),
    newId: () => `gen-${++n}`,
    ...(options.role ? { role: options.role } : {}),
    ...(options.cluster ? { cluster: options.cluster } : {}),
  };
  const op = (body: unknown, headers: Record<string, string> = {}): Promise<RestResponse> =>
    handleRest(deps, { method: 'POST', path: '/', query: new URLSearchParams(), headers, body });
  return { store, op, writes };
}

const stamp = { __createdtime__: NOW, __updatedtime__: NOW };
const dogs = [
  { id: 1, name: 'Harper', breed: 'mutt', owner: 'kyle', age: 7, tags: ['good'] },
  { id: 2, name: 'Penny', breed: 'pit', owner: 'kyle', age: 3 },
  { id: 3, name: 'Kato', breed: 'mutt', owner: 'zach', age: 5 },
  { id: 4, name: 'Alby', breed: 'lab', owner: 'kaylan', age: 9, tags: ['lazy', 'good'] },
];

async function seeded(options: Parameters<typeof setup>[0] = {}) {
  const ctx = await setup(options);
  const res = await ctx.op({ operation: 'insert', schema: 'dev', table: 'dog', records: dogs });
  assert.equal(res.status, 200);
  return ctx;
}

describe('operations: writes (HarperDB 4.x shapes)', () => {
  it('insert skips existing keys and generates missing ones', async () => {
    const { op, store, writes } = await seeded();
    const res = await op({
      operation: 'insert',
      database: 'dev',
      table: 'dog',
      records: [{ id: 1, name: 'again' }, { name: 'Nova' }, { id: 5, name: 'Otto' }, { id: 5, name: 'dup' }],
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      message: 'inserted 2 of 4 records',
      inserted_hashes: ['gen-1', 5],
      skipped_hashes: [1, 5],
    });
    assert.equal((await store.get('dev.dog', 1))?.['name'], 'Harper');
    assert.deepEqual(await store.get('dev.dog', 'gen-1'), { id: 'gen-1', name: 'Nova', ...stamp });
    assert.equal((await store.get('dev.dog', 5))?.['name'], 'Otto');
    assert.equal(writes.length, 2, 'one batch per request');
  });

  it('update patches existing records and skips missing ones; a record without key is a 400', async () => {
    const { op, store } = await seeded();
    const res = await op({
      operation: 'update',
      database: 'dev',
      table: 'dog',
      records: [
        { id: 1, age: 8 },
        { id: 99, age: 1 },
      ],
    });
    assert.deepEqual(res.body, {
      message: 'updated 1 of 2 records',
      update_hashes: [1],
      skipped_hashes: [99],
    });
    assert.deepEqual(await store.get('dev.dog', 1), { ...dogs[0], age: 8, ...stamp });
    assert.equal(await store.get('dev.dog', 99), undefined);
    const noKey = await op({ operation: 'update', database: 'dev', table: 'dog', records: [{ age: 1 }] });
    assert.equal(noKey.status, 400);
    assert.deepEqual(noKey.body, {
      error: "records[0] has no primary key 'id': update needs it",
      code: 'TM_INVALID_KEY',
    });
  });

  it('upsert patches existing records and inserts new ones', async () => {
    const { op, store } = await seeded();
    const res = await op({
      operation: 'upsert',
      database: 'dev',
      table: 'dog',
      records: [{ id: 2, age: 4 }, { id: 10, name: 'Bill' }, { name: 'New' }],
    });
    assert.deepEqual(res.body, { message: 'upserted 3 of 3 records', upserted_hashes: [2, 10, 'gen-1'] });
    assert.deepEqual(await store.get('dev.dog', 2), { ...dogs[1], age: 4, ...stamp });
    assert.deepEqual(await store.get('dev.dog', 10), { id: 10, name: 'Bill', ...stamp });
  });

  it('delete removes existing records and skips missing ones (ids or hash_values)', async () => {
    const { op, store } = await seeded();
    const res = await op({ operation: 'delete', database: 'dev', table: 'dog', hash_values: [1, 2, 42] });
    assert.deepEqual(res.body, {
      message: '2 of 3 records successfully deleted',
      deleted_hashes: [1, 2],
      skipped_hashes: [42],
    });
    assert.equal(await store.get('dev.dog', 1), undefined);
    const none = await op({ operation: 'delete', database: 'dev', table: 'dog', ids: [1] });
    assert.deepEqual(none.body, {
      message: '0 of 1 records successfully deleted',
      deleted_hashes: [],
      skipped_hashes: [1],
    });
  });

  it('refuses writes to subscribe-only tables, unknown tables and bad records, writing nothing', async () => {
    const { op, store } = await setup();
    const ro = await op({ operation: 'insert', table: 'thresholds', records: [{ id: 't', max: 1 }] });
    assert.equal(ro.status, 409);
    assert.deepEqual(ro.body, {
      error: "table 'data.thresholds' is subscribe-only on this node; write to it on the hub",
      code: 'TM_READ_ONLY_TABLE',
    });
    const unknown = await op({ operation: 'insert', table: 'nope', records: [{ id: 1 }] });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, { error: "table 'data.nope' does not exist", code: 'TM_UNKNOWN_TABLE' });
    const big = await op({
      operation: 'insert',
      database: 'dev',
      table: 'dog',
      records: [{ id: 1 }, { id: 2, n: 2 ** 60 }],
    });
    assert.equal(big.status, 400);
    assert.equal((big.body as { code: string }).code, 'TM_INVALID_VALUE');
    const reserved = await op({
      operation: 'insert',
      database: 'dev',
      table: 'dog',
      records: [{ id: 3, __x: 1 }],
    });
    assert.equal((reserved.body as { code: string }).code, 'TM_INVALID_NAME');
    assert.deepEqual(await store.query('dev.dog'), []);
    assert.deepEqual(await store.query('thresholds'), []);
  });

  it('prototype keys neither pollute nor get stored', async () => {
    const { op, store } = await seeded();
    const body = JSON.parse(
      '{"operation":"insert","database":"dev","table":"dog","records":[{"id":7,"__proto__":{"polluted":1}}]}',
    );
    const res = await op(body);
    assert.equal(res.status, 400);
    assert.equal((res.body as { code: string }).code, 'TM_INVALID_NAME');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    const top = await op(JSON.parse('{"operation":"describe_all","__proto__":{"polluted":1}}'));
    assert.equal(top.status, 400);
    assert.match((top.body as { error: string }).error, /__proto__: unknown key/);
    // `constructor` is an ordinary attribute; records without it do not have it
    const ctor = await op({
      operation: 'insert',
      database: 'dev',
      table: 'dog',
      records: [{ id: 8, constructor: 'x' }],
    });
    assert.equal(ctor.status, 200);
    const found = await op({
      operation: 'search_by_conditions',
      database: 'dev',
      table: 'dog',
      conditions: [{ attribute: 'constructor', comparator: 'not_equal', value: 'x' }],
      get_attributes: ['id', 'constructor'],
    });
    assert.deepEqual(found.body, [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }]);
    assert.equal((await store.get('dev.dog', 8))?.['constructor'], 'x');
  });
});

describe('operations: searches', () => {
  const ids = (res: RestResponse) => (res.body as Array<{ id: unknown }>).map((r) => r.id);

  it('search_by_id / search_by_hash return records in the order asked, with get_attributes', async () => {
    const { op } = await seeded();
    const all = await op({ operation: 'search_by_id', database: 'dev', table: 'dog', ids: [2, 99, 1] });
    assert.deepEqual(all.body, [
      { ...dogs[1], ...stamp },
      { ...dogs[0], ...stamp },
    ]);
    const some = await op({
      operation: 'search_by_hash',
      schema: 'dev',
      table: 'dog',
      hash_values: [1, 2],
      get_attributes: ['name', 'tags'],
    });
    assert.deepEqual(some.body, [{ name: 'Harper', tags: ['good'] }, { name: 'Penny' }]);
  });

  it('search_by_value: equality, * wildcards, legacy search_attribute/search_value', async () => {
    const { op } = await seeded();
    const by = async (attribute: string, value: unknown) =>
      ids(await op({ operation: 'search_by_value', database: 'dev', table: 'dog', attribute, value }));
    assert.deepEqual(await by('breed', 'mutt'), [1, 3]);
    assert.deepEqual(await by('name', 'P*'), [2]);
    assert.deepEqual(await by('name', '*o'), [3]);
    assert.deepEqual(await by('name', '*a*'), [1, 3]);
    assert.deepEqual(await by('owner', 'k*y*'), [1, 2, 4]);
    assert.deepEqual(await by('owner', 'k*e'), [1, 2]);
    assert.deepEqual(await by('tags', '*'), [1, 4]);
    assert.deepEqual(await by('age', 5), [3]);
    assert.deepEqual(await by('age', '5'), [], '"5" is not 5');
    const legacy = await op({
      operation: 'search_by_value',
      schema: 'dev',
      table: 'dog',
      search_attribute: 'owner',
      search_value: 'kyle',
      get_attributes: ['name'],
    });
    assert.deepEqual(legacy.body, [{ name: 'Penny' }, { name: 'Harper' }], 'in (owner, age) index order');
  });

  it('search_by_conditions: every comparator', async () => {
    const { op } = await seeded();
    const one = async (attribute: string, comparator: string, value: unknown) =>
      ids(
        await op({
          operation: 'search_by_conditions',
          database: 'dev',
          table: 'dog',
          conditions: [{ attribute, comparator, value }],
        }),
      );
    assert.deepEqual(await one('breed', 'equals', 'mutt'), [1, 3]);
    assert.deepEqual(await one('breed', 'not_equal', 'mutt'), [2, 4]);
    assert.deepEqual(await one('name', 'contains', 'nn'), [2]);
    assert.deepEqual(await one('tags', 'contains', 'good'), [1, 4]);
    assert.deepEqual(await one('name', 'starts_with', 'Ha'), [1]);
    assert.deepEqual(await one('name', 'ends_with', 'y'), [2, 4]);
    assert.deepEqual(await one('age', 'greater_than', 5), [1, 4]);
    assert.deepEqual(await one('age', 'greater_than_equal', 5), [1, 3, 4]);
    assert.deepEqual(await one('age', 'less_than', 5), [2]);
    assert.deepEqual(await one('age', 'less_than_equal', 5), [2, 3]);
    assert.deepEqual(await one('age', 'between', [4, 7]), [1, 3]);
  });

  it('search_by_conditions: and/or, nested groups, sort with next, offset, limit, get_attributes', async () => {
    const { op } = await seeded();
    const res = await op({
      operation: 'search_by_conditions',
      database: 'dev',
      table: 'dog',
      operator: 'and',
      conditions: [
        { attribute: 'age', comparator: 'greater_than', value: 2 },
        {
          operator: 'or',
          conditions: [
            { attribute: 'breed', comparator: 'equals', value: 'mutt' },
            { search_attribute: 'owner', search_type: 'equals', search_value: 'kaylan' },
          ],
        },
      ],
      sort: { attribute: 'breed', next: { attribute: 'age', descending: true } },
      get_attributes: ['id', 'breed', 'age'],
    });
    assert.deepEqual(res.body, [
      { id: 4, breed: 'lab', age: 9 },
      { id: 1, breed: 'mutt', age: 7 },
      { id: 3, breed: 'mutt', age: 5 },
    ]);
    const or = await op({
      operation: 'search_by_conditions',
      database: 'dev',
      table: 'dog',
      operator: 'or',
      conditions: [
        { attribute: 'age', comparator: 'less_than', value: 4 },
        { attribute: 'name', comparator: 'equals', value: 'Alby' },
      ],
      sort: { attribute: 'age', descending: true },
      offset: 1,
      limit: 5,
    });
    assert.deepEqual(ids(or), [2]);
    const paged = await op({
      operation: 'search_by_conditions',
      database: 'dev',
      table: 'dog',
      conditions: [{ attribute: 'age', comparator: 'greater_than', value: 0 }],
      offset: 1,
      limit: 2,
    });
    assert.deepEqual(ids(paged), [2, 3]);
  });

  it('plans with an index: the compound (sensor, ts) index reads only the matching rows', async () => {
    const { op, store } = await setup();
    const records = [];
    for (let i = 0; i < 1000; i++) records.push({ id: `r${i}`, sensor: `s${i % 100}`, ts: 1000 + i, v: i });
    for (let i = 0; i < 1000; i += 500) {
      await op({ operation: 'insert', table: 'sensor_data', records: records.slice(i, i + 500) });
    }
    const before = store.stats.recordsRead;
    const res = await op({
      operation: 'search_by_conditions',
      table: 'sensor_data',
      conditions: [
        { attribute: 'sensor', comparator: 'equals', value: 's7' },
        { attribute: 'ts', comparator: 'greater_than_equal', value: 1500 },
      ],
    });
    assert.deepEqual(ids(res), ['r507', 'r607', 'r707', 'r807', 'r907']);
    assert.equal(res.headers?.['x-tablemesh-records-read'], '5');
    assert.equal(store.stats.recordsRead - before, 5);
  });
});

describe('operations: databases, tables, attributes', () => {
  it('describe_table answers the HarperDB shape with counts, attributes and indexes', async () => {
    const { op } = await seeded();
    const res = await op({ operation: 'describe_table', schema: 'dev', table: 'dog' });
    assert.deepEqual(res.body, {
      schema: 'dev',
      name: 'dog',
      hash_attribute: 'id',
      audit: false,
      schema_defined: false,
      attributes: [
        { attribute: 'id', indexed: true, is_primary_key: true },
        { attribute: '__createdtime__', indexed: false },
        { attribute: '__updatedtime__', indexed: false },
        { attribute: 'age', indexed: false },
        { attribute: 'breed', indexed: true },
        { attribute: 'name', indexed: false },
        { attribute: 'owner', indexed: true },
        { attribute: 'tags', indexed: false },
      ],
      record_count: 4,
      last_updated_record: NOW,
      indexes: [['breed'], ['owner', 'age']],
      replication: { publish: false, subscribe: false },
    });
  });

  it('creates and drops databases, tables and attributes', async () => {
    const { op, store } = await setup();
    assert.deepEqual((await op({ operation: 'create_database', database: 'farm' })).body, {
      message: "database 'farm' successfully created",
    });
    const again = await op({ operation: 'create_schema', schema: 'farm' });
    assert.equal(again.status, 409);
    assert.deepEqual(again.body, { error: "database 'farm' already exists", code: 'TM_DATABASE_EXISTS' });
    assert.deepEqual((await op({ operation: 'describe_database', database: 'farm' })).body, {});

    const created = await op({
      operation: 'create_table',
      database: 'farm',
      table: 'cow',
      hash_attribute: 'tag',
      attributes: [{ name: 'herd', indexed: true }, { name: 'weight' }],
      indexes: [['herd', 'born']],
      expiration: 3600,
    });
    assert.deepEqual(created.body, { message: "table 'farm.cow' successfully created." });
    const def = store.requireTable('farm.cow');
    assert.deepEqual(
      [def.primaryKey, def.indexes, def.expirationSec],
      ['tag', [['herd'], ['herd', 'born']], 3600],
    );
    const dup = await op({ operation: 'create_table', database: 'farm', table: 'cow', primary_key: 'tag' });
    assert.equal(dup.status, 409);
    assert.equal((dup.body as { code: string }).code, 'TM_TABLE_EXISTS');

    const attr = await op({
      operation: 'create_attribute',
      database: 'farm',
      table: 'cow',
      attribute: 'color',
    });
    assert.deepEqual(attr.body, {
      message: 'inserted 1 of 1 records',
      skipped_hashes: [],
      inserted_hashes: ['gen-1'],
    });
    const attrAgain = await op({
      operation: 'create_attribute',
      database: 'farm',
      table: 'cow',
      attribute: 'color',
    });
    assert.equal(attrAgain.status, 409);
    assert.deepEqual(attrAgain.body, {
      error: "attribute 'color' already exists in farm.cow",
      code: 'TM_ATTRIBUTE_EXISTS',
    });
    const described = (await op({ operation: 'describe_database', database: 'farm' })).body as Record<
      string,
      { attributes: Array<{ attribute: string }>; expiration: number }
    >;
    assert.deepEqual(
      described['cow']!.attributes.map((a) => a.attribute),
      ['tag', '__createdtime__', '__updatedtime__', 'born', 'color', 'herd', 'weight'],
    );
    assert.equal(described['cow']!.expiration, 3600);
    const all = (await op({ operation: 'describe_all' })).body as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(all), ['data', 'dev', 'farm']);
    assert.deepEqual(Object.keys(all['data']!), ['sensor_data', 'thresholds']);

    assert.deepEqual((await op({ operation: 'drop_table', database: 'farm', table: 'cow' })).body, {
      message: "successfully deleted table 'farm.cow'",
    });
    assert.equal(store.getTable('farm.cow'), undefined);
    const gone = await op({ operation: 'describe_table', database: 'farm', table: 'cow' });
    assert.equal(gone.status, 404);
    await op({ operation: 'create_table', database: 'farm', table: 'pig' });
    assert.deepEqual((await op({ operation: 'drop_database', database: 'farm' })).body, {
      message: "successfully deleted 'farm'",
    });
    assert.equal(store.getTable('farm.pig'), undefined);
    const noDb = await op({ operation: 'describe_database', database: 'farm' });
    assert.equal(noDb.status, 404);
    assert.deepEqual(noDb.body, { error: "database 'farm' does not exist", code: 'TM_UNKNOWN_DATABASE' });
    assert.equal((await op({ operation: 'drop_schema', schema: 'farm' })).status, 404);
  });

  it('on the hub, expiration is refused (hub tables replicate)', async () => {
    const { op } = await setup({ role: 'hub' });
    const res = await op({ operation: 'create_table', table: 'tmp', expiration: 10 });
    assert.equal(res.status, 409);
    assert.equal((res.body as { code: string }).code, 'TM_REPLICATED_TABLE');
  });
});

describe('operations: validation', () => {
  it('names every problem of a bad body with 400', async () => {
    const { op } = await setup();
    const cases: Array<[unknown, string]> = [
      [null, 'the body must be a JSON object like {"operation": "describe_all"}'],
      [[1], 'the body must be a JSON object like {"operation": "describe_all"}'],
      [{}, 'the body needs "operation", e.g. {"operation": "describe_all"}'],
      [{ operation: 'sql', sql: 'select 1' }, 'Operation "sql" not found'],
      [
        { operation: 'insert', table: 'x' },
        'invalid insert request: records: is required (a list of a record object)',
      ],
      [
        { operation: 'insert', table: 'bad-name', records: [1], extra: true },
        'invalid insert request: extra: unknown key (known keys: operation, database, table, records); ' +
          'table: expected a table name: 1–64 characters [A-Za-z0-9_], not starting with a digit, got "bad-name"; ' +
          'records[0]: expected a record object, got 1',
      ],
      [
        { operation: 'delete', table: 'dog', ids: [] },
        'invalid delete request: ids: needs at least 1 item(s)',
      ],
      [
        {
          operation: 'search_by_conditions',
          table: 'dog',
          conditions: [{ attribute: 'a', comparator: 'like', value: 1 }],
        },
        'invalid search_by_conditions request: conditions[0].comparator: expected one of equals, not_equal, contains, ' +
          'starts_with, ends_with, greater_than, greater_than_equal, less_than, less_than_equal, between, got "like"',
      ],
      [
        {
          operation: 'search_by_conditions',
          table: 'dog',
          conditions: [{ attribute: 'a', comparator: 'between', value: 1 }],
        },
        'invalid search_by_conditions request: conditions[0].value: between needs a list of two values [low, high]',
      ],
      [
        { operation: 'search_by_conditions', table: 'dog', conditions: [], limit: -1 },
        'invalid search_by_conditions request: conditions: expected a non-empty list of conditions; limit: must be at least 0, got -1',
      ],
      [
        { operation: 'describe_table', schema: 'a', database: 'b', table: 't' },
        'schema and database are the same field; give one',
      ],
      [
        { operation: 'create_table', table: 't', expiration: 0 },
        'invalid create_table request: expiration: must be at least 1, got 0',
      ],
    ];
    for (const [body, error] of cases) {
      const res = await op(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.deepEqual(res.body, { error, code: 'TM_INVALID_ARGUMENT' }, JSON.stringify(body));
    }
  });

  it('folds legacy names', () => {
    const parsed = parseOperation({
      operation: 'search_by_hash',
      schema: 'dev',
      table: 'dog',
      hash_values: [1],
    });
    assert.deepEqual(parsed, {
      name: 'search_by_id',
      body: { operation: 'search_by_hash', database: 'dev', table: 'dog', ids: [1] },
    });
  });

  it('wildcards', () => {
    assert.deepEqual(valueCondition('a', 'x*'), { attribute: 'a', comparator: 'starts_with', value: 'x' });
    assert.deepEqual(valueCondition('a', '*'), { attribute: 'a', comparator: 'exists', value: '*' });
    assert.deepEqual(valueCondition('a', 3), { attribute: 'a', comparator: 'equals', value: 3 });
    assert.equal(wildcardMatch('a*c', 'abbc'), true);
    assert.equal(wildcardMatch('a*c', 'abcd'), false);
    assert.equal(wildcardMatch('a.c*', 'abc'), false, 'regex characters are literal');
  });
});

describe('operations: subscriptions with the hub', () => {
  function fakeCluster(): ClusterManager & { entries: Map<string, ReplicationEntry>; node?: string } {
    const entries = new Map<string, ReplicationEntry>();
    return {
      entries,
      replicationOf: (t) => entries.get(t),
      async add(node, list) {
        const added = list.filter((e) => !entries.has(e.table));
        const skipped = list.filter((e) => entries.has(e.table));
        for (const e of added) entries.set(e.table, e);
        this.node = node;
        return { added, skipped };
      },
      async update(_node, list) {
        for (const e of list) entries.set(e.table, e);
      },
      async remove() {
        entries.clear();
      },
      async status() {
        return { node_name: 'edge1', is_enabled: true, connections: [] };
      },
    };
  }

  it('add_node, update_node, set_node_replication, remove_node, cluster_status on the edge', async () => {
    const cluster = fakeCluster();
    const { op } = await setup({ cluster });
    const added = await op({
      operation: 'add_node',
      node_name: 'hub',
      subscriptions: [
        {
          schema: 'data',
          table: 'thresholds',
          subscribe: true,
          publish: false,
          start_time: '2024-01-01T00:00:00.000Z',
        },
        { table: 'alerts', subscribe: false, publish: true },
      ],
    });
    assert.deepEqual(added.body, {
      message: "Successfully added 'hub' to manifest",
      added: [
        { schema: 'data', table: 'thresholds', subscribe: true, publish: false },
        { schema: 'data', table: 'alerts', subscribe: false, publish: true },
      ],
      skipped: [],
    });
    assert.deepEqual(cluster.entries.get('data.thresholds'), {
      table: 'data.thresholds',
      publish: false,
      subscribe: true,
      start: Date.parse('2024-01-01T00:00:00.000Z'),
    });
    const again = await op({
      operation: 'add_node',
      node_name: 'hub',
      subscriptions: [{ table: 'alerts', subscribe: true, publish: true }],
    });
    assert.deepEqual((again.body as { skipped: unknown[] }).skipped, [
      { schema: 'data', table: 'alerts', subscribe: true, publish: true },
    ]);
    for (const operation of ['update_node', 'set_node_replication']) {
      const res = await op({
        operation,
        node_name: 'hub',
        subscriptions: [{ database: 'dev', table: 'dog', subscribe: true, publish: true }],
      });
      assert.deepEqual(res.body, { message: "Successfully updated 'hub'" });
    }
    assert.equal(cluster.entries.get('dev.dog')?.publish, true);
    assert.deepEqual((await op({ operation: 'cluster_status' })).body, {
      node_name: 'edge1',
      is_enabled: true,
      connections: [],
    });
    assert.deepEqual((await op({ operation: 'remove_node', node_name: 'hub' })).body, {
      message: "Successfully removed 'hub' from manifest",
    });
    assert.equal(cluster.entries.size, 0);
    const bad = await op({
      operation: 'add_node',
      node_name: 'hub',
      subscriptions: [{ table: 'x', publish: 'maybe' }],
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, {
      error:
        'invalid add_node request: subscriptions[0].subscribe: is required (true or false); ' +
        'subscriptions[0].publish: expected true or false, got "maybe"',
      code: 'TM_INVALID_ARGUMENT',
    });
  });

  it('on the hub the four node operations and cluster_status answer 400 pointing to the admin API', async () => {
    const { op } = await setup({ role: 'hub' });
    for (const body of [
      {
        operation: 'add_node',
        node_name: 'e',
        subscriptions: [{ table: 't', subscribe: true, publish: true }],
      },
      {
        operation: 'update_node',
        node_name: 'e',
        subscriptions: [{ table: 't', subscribe: true, publish: true }],
      },
      {
        operation: 'set_node_replication',
        node_name: 'e',
        subscriptions: [{ table: 't', subscribe: true, publish: true }],
      },
      { operation: 'remove_node', node_name: 'e' },
      { operation: 'cluster_status' },
    ]) {
      const res = await op(body);
      assert.equal(res.status, 400, body.operation);
      assert.deepEqual(res.body, {
        error:
          `'${body.operation}' manages an edge's subscriptions with its hub; on the hub, nodes and their grants ` +
          'are managed with the admin API (tablemesh nodes add|grant|revoke|remove)',
        code: 'TM_INVALID_ARGUMENT',
      });
    }
  });
});
