/**
 * Done when (issue 4), first item: every REST route and every operation of the data API over real HTTP against a
 * running edge and a running hub (the built binaries), with full response bodies and status codes, error cases
 * included. The change stream, hub confirmation, run-time subscriptions and the compound-index query are in
 * data-api-stream.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EdgeNode, HubNode, Testkit } from '@tablemesh/testkit';
import { useTestkit } from '@tablemesh/testkit';
import { type Answer, call, expectAnswer, isRecentMs, op, withoutTimes } from './_data-api.ts';

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function cluster(kit: Testkit): Promise<{ hub: HubNode; edge: EdgeNode }> {
  const hub = await kit.startHub({
    tables: [{ name: 'thresholds' }],
    nodes: [{ id: 'edgeA', publish: ['alerts'], subscribe: ['thresholds'] }],
  });
  const edge = await kit.startEdge({
    name: 'edgeA',
    hub,
    publish: ['alerts'],
    subscribe: ['thresholds'],
    tables: [{ name: 'sensor_data', indexes: [['sensor', 'ts']] }],
  });
  return { hub, edge };
}

/** Asserts a write answer `{table, key, seq, stamp}` in full and returns it. */
function expectCommitted(
  answer: Answer,
  status: number,
  expected: { table: string; key: string | number; node: string; seq?: number },
): Record<string, unknown> {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  const body = answer.body as { seq: number; stamp: { wall: number; counter: number; epoch: string } };
  assert.ok(isRecentMs(body.stamp?.wall), 'stamp wall is now');
  assert.ok(Number.isInteger(body.stamp.counter) && body.stamp.counter >= 0);
  assert.match(body.stamp.epoch, /^[0-9a-f]{16}$/);
  assert.deepEqual(body, {
    table: expected.table,
    key: expected.key,
    seq: expected.seq ?? body.seq,
    stamp: {
      wall: body.stamp.wall,
      counter: body.stamp.counter,
      node: expected.node,
      epoch: body.stamp.epoch,
    },
  });
  return body;
}

async function restRoutes(node: EdgeNode | HubNode, table: string, nodeId: string): Promise<void> {
  const ref = `data.${table}`;
  // PUT, GET, PATCH, GET, DELETE, GET
  expectCommitted(await call(node, 'PUT', `/${table}/r1`, { level: 3, msg: 'hot' }), 200, {
    table: ref,
    key: 'r1',
    node: nodeId,
  });
  const got = await call(node, 'GET', `/${table}/r1`);
  assert.equal(got.status, 200);
  assert.deepEqual(withoutTimes(got.body), { id: 'r1', level: 3, msg: 'hot' });
  const etag = got.headers.get('etag');
  assert.match(etag ?? '', /^"[A-Za-z0-9_-]{27}"$/);
  const cached = await call(node, 'GET', `/${table}/r1`, undefined, { 'if-none-match': etag! });
  expectAnswer(cached, 304, '', 'If-None-Match');
  assert.equal(cached.headers.get('etag'), etag);
  expectCommitted(await call(node, 'PATCH', `/${table}/r1`, { msg: 'cool', ack: true }), 200, {
    table: ref,
    key: 'r1',
    node: nodeId,
  });
  const patched = await call(node, 'GET', `/${table}/r1`, undefined, { 'if-none-match': etag! });
  assert.equal(patched.status, 200, 'a changed record is not 304');
  assert.deepEqual(withoutTimes(patched.body), { id: 'r1', level: 3, msg: 'cool', ack: true });
  expectCommitted(await call(node, 'DELETE', `/${table}/r1`), 200, { table: ref, key: 'r1', node: nodeId });
  expectAnswer(await call(node, 'GET', `/${table}/r1`), 404, {
    error: `no record "r1" in ${ref}`,
    code: 'TM_NOT_FOUND',
  });

  // numeric keys: "1" ≠ 1
  expectCommitted(await call(node, 'PUT', `/${table}/1?idType=number`, { n: 'number' }), 200, {
    table: ref,
    key: 1,
    node: nodeId,
  });
  assert.deepEqual(withoutTimes((await call(node, 'GET', `/${table}/1?idType=number`)).body), {
    id: 1,
    n: 'number',
  });
  assert.equal((await call(node, 'GET', `/${table}/1`)).status, 404);

  // POST: generated UUIDv7, 201 + Location
  const created = await call(node, 'POST', `/${table}/`, { level: 1 });
  const key = (created.body as { key: string }).key;
  assert.match(key, UUIDV7);
  expectCommitted(created, 201, { table: ref, key, node: nodeId });
  assert.equal(created.headers.get('location'), `/${table}/${key}`);
  assert.deepEqual(withoutTimes((await call(node, 'GET', created.headers.get('location')!)).body), {
    id: key,
    level: 1,
  });
}

async function queries(node: EdgeNode | HubNode, table: string): Promise<void> {
  const rows = [
    { id: 'q1', sensor: 's1', ts: 100, v: 5, code: 'ab' },
    { id: 'q2', sensor: 's1', ts: 200, v: 15, code: 'ac' },
    { id: 'q3', sensor: 's1', ts: 300, v: 25, code: 'b' },
    { id: 'q4', sensor: 's2', ts: 150, v: 35, code: 'a' },
  ];
  const batch = await call(node, 'POST', '/_batch', {
    writes: [{ table, ops: rows.map(({ id, ...attrs }) => ({ kind: 'put', key: id, attrs })) }],
  });
  assert.equal(batch.status, 200);
  const txns = (batch.body as { transactions: Array<Record<string, unknown>> }).transactions;
  assert.equal(txns.length, 1);
  assert.deepEqual(Object.keys(txns[0]!).sort(), ['ops', 'seq', 'stamp', 'table']);
  assert.equal(txns[0]!['ops'], 4);
  const ids = async (qs: string) => {
    const res = await call<Array<{ id: string }>>(node, 'GET', `/${table}/?${qs}`);
    assert.equal(res.status, 200, `${qs}: ${JSON.stringify(res.body)}`);
    return res.body.map((r) => r.id);
  };
  assert.deepEqual(await ids('sensor=s1'), ['q1', 'q2', 'q3']);
  assert.deepEqual(await ids('sensor=s1&ts.gt=100'), ['q2', 'q3']);
  assert.deepEqual(await ids('sensor=s1&ts.ge=200&ts.lt=300'), ['q2']);
  assert.deepEqual(await ids('sensor=s1&ts.le=200'), ['q1', 'q2']);
  assert.deepEqual(await ids('sensor=s1&ts.between=150,300'), ['q2', 'q3']);
  assert.deepEqual(await ids('sensor.ne=s1&v.ge=0'), ['q4']);
  assert.deepEqual(await ids('code.prefix=a&v.ge=0'), ['q1', 'q2', 'q4']);
  assert.deepEqual(await ids('v.ge=0&sort=-ts&limit=2&offset=1'), ['q2', 'q4']);
  const selected = await call(node, 'GET', `/${table}/?sensor=s2&select=id,v`);
  expectAnswer(selected, 200, [{ id: 'q4', v: 35 }]);
  const etag = selected.headers.get('etag')!;
  assert.equal(
    (await call(node, 'GET', `/${table}/?sensor=s2&select=id,v`, undefined, { 'if-none-match': etag }))
      .status,
    304,
  );
  const digest = await call<{ digest: string; count: number }>(node, 'GET', `/_digest/${table}`);
  assert.equal(digest.status, 200);
  assert.match(digest.body.digest, /^[0-9a-f]{64}$/);
  assert.ok(digest.body.count >= 4);
  expectAnswer(await call(node, 'GET', `/${table}/?limit=-1`), 400, {
    error: 'limit must be a non-negative integer, got "-1"',
    code: 'TM_INVALID_ARGUMENT',
  });
  expectAnswer(await call(node, 'GET', `/${table}/?ts.between=1`), 400, {
    error: 'ts.between needs two values: ts.between=low,high',
    code: 'TM_INVALID_ARGUMENT',
  });
}

async function errors(node: EdgeNode | HubNode, table: string): Promise<void> {
  expectAnswer(await call(node, 'GET', '/nope/1'), 404, {
    error: "table 'data.nope' does not exist",
    code: 'TM_UNKNOWN_TABLE',
  });
  expectAnswer(await call(node, 'PUT', '/nope/1', { a: 1 }), 404, {
    error: "table 'data.nope' does not exist",
    code: 'TM_UNKNOWN_TABLE',
  });
  const badName = await call(node, 'GET', '/bad-name/1');
  assert.equal(badName.status, 400);
  assert.equal((badName.body as { code: string }).code, 'TM_INVALID_NAME');
  expectAnswer(await call(node, 'PUT', `/${table}/x`, '{"a":'), 400, {
    error: 'the request body is not valid JSON: Unexpected end of JSON input',
    code: 'TM_INVALID_ARGUMENT',
  });
  expectAnswer(await call(node, 'PUT', `/${table}/x`, 'text'), 400, {
    error: 'the request body is not valid JSON: Unexpected token \'e\', "text" is not valid JSON',
    code: 'TM_INVALID_ARGUMENT',
  });
  expectAnswer(await call(node, 'PUT', `/${table}/x`, { id: 'y' }), 400, {
    error: 'record "y" does not match key "x"',
    code: 'TM_INVALID_KEY',
  });
  expectAnswer(await call(node, 'PUT', `/${table}/x`, '{"n":9007199254740993}'), 400, {
    error: 'invalid value at "n": the integer 9007199254740992 is beyond ±2^53 and would lose precision',
    code: 'TM_INVALID_VALUE',
  });
  // prototype keys are refused as attribute names and pollute nothing
  const proto = await call(node, 'PUT', `/${table}/x`, '{"__proto__":{"polluted":true}}');
  assert.equal(proto.status, 400);
  assert.equal((proto.body as { code: string }).code, 'TM_INVALID_NAME');
  expectAnswer(await call(node, 'GET', `/${table}/x`), 404, {
    error: `no record "x" in data.${table}`,
    code: 'TM_NOT_FOUND',
  });
  expectAnswer(await call(node, 'POST', `/${table}/x`, {}), 405, {
    error: 'method not allowed; use GET, PUT, PATCH, DELETE',
  });
  expectAnswer(await call(node, 'GET', '/'), 405, { error: 'method not allowed; use POST' });
  const big = await call(node, 'PUT', `/${table}/big`, { blob: 'x'.repeat(400 * 1024) });
  assert.equal(big.status, 413);
  assert.equal((big.body as { code: string }).code, 'TM_TX_TOO_LARGE');
  const record = await call(node, 'PUT', `/${table}/big`, { blob: 'x'.repeat(200 * 1024) });
  assert.equal(record.status, 413);
  assert.equal((record.body as { code: string }).code, 'TM_RECORD_TOO_LARGE');
  expectAnswer(await call(node, 'GET', `/_receipts/${table}/abc/x`), 400, {
    error: 'a receipt status is GET /_receipts/{table}/{epoch}/{seq}',
    code: 'TM_INVALID_ARGUMENT',
  });
}

describe('data API over HTTP: REST on a running edge and hub', { timeout: 90_000 }, () => {
  it('every REST route with full answers, on the edge and on the hub', async (t) => {
    const kit = useTestkit(t);
    const { hub, edge } = await cluster(kit);

    await restRoutes(edge, 'sensor_data', 'edgeA');
    await restRoutes(hub, 'thresholds', 'hub');
    await queries(edge, 'sensor_data');
    await queries(hub, 'thresholds');
    await errors(edge, 'sensor_data');
    await errors(hub, 'thresholds');

    // subscribe-only tables are read-only on the edge (SPEC §5)
    expectAnswer(await call(edge, 'PUT', '/thresholds/t1', { max: 1 }), 409, {
      error: "table 'data.thresholds' is subscribe-only on this node; write to it on the hub",
      code: 'TM_READ_ONLY_TABLE',
    });
    // published tables number their transactions (seq per publish epoch)
    expectCommitted(await call(edge, 'PUT', '/alerts/a1', { level: 1 }), 200, {
      table: 'data.alerts',
      key: 'a1',
      node: 'edgeA',
      seq: 1,
    });
    // the hub requires its token on everything but /health
    const res = await fetch(`http://127.0.0.1:${hub.httpPort}/thresholds/x`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), {
      error: 'a valid bearer token is required (Authorization: Bearer <token>)',
    });
  });
});

const DOGS = [
  { id: 1, name: 'Harper', breed: 'mutt', owner: 'kyle', age: 7 },
  { id: 2, name: 'Penny', breed: 'pit', owner: 'kyle', age: 3 },
  { id: 3, name: 'Kato', breed: 'mutt', owner: 'zach', age: 5 },
  { id: 4, name: 'Alby', breed: 'lab', owner: 'kaylan', age: 9 },
];

async function tableOperations(node: EdgeNode | HubNode): Promise<void> {
  expectAnswer(await op(node, { operation: 'create_database', database: 'dev' }), 200, {
    message: "database 'dev' successfully created",
  });
  expectAnswer(await op(node, { operation: 'create_schema', schema: 'dev' }), 409, {
    error: "database 'dev' already exists",
    code: 'TM_DATABASE_EXISTS',
  });
  const createTable = {
    operation: 'create_table',
    schema: 'dev',
    table: 'dog',
    hash_attribute: 'id',
    attributes: [{ name: 'breed', indexed: true }],
    indexes: [['owner', 'age']],
  };
  expectAnswer(await op(node, createTable), 200, { message: "table 'dev.dog' successfully created." });
  expectAnswer(await op(node, createTable), 409, {
    error: "table 'dev.dog' already exists",
    code: 'TM_TABLE_EXISTS',
  });
  const attr = await op<{ inserted_hashes: string[] }>(node, {
    operation: 'create_attribute',
    database: 'dev',
    table: 'dog',
    attribute: 'color',
  });
  assert.match(attr.body.inserted_hashes[0] ?? '', UUIDV7);
  expectAnswer(attr, 200, {
    message: 'inserted 1 of 1 records',
    skipped_hashes: [],
    inserted_hashes: attr.body.inserted_hashes,
  });
  expectAnswer(
    await op(node, { operation: 'create_attribute', database: 'dev', table: 'dog', attribute: 'color' }),
    409,
    {
      error: "attribute 'color' already exists in dev.dog",
      code: 'TM_ATTRIBUTE_EXISTS',
    },
  );
}

async function writeOperations(node: EdgeNode | HubNode): Promise<string> {
  expectAnswer(await op(node, { operation: 'insert', database: 'dev', table: 'dog', records: DOGS }), 200, {
    message: 'inserted 4 of 4 records',
    inserted_hashes: [1, 2, 3, 4],
    skipped_hashes: [],
  });
  const again = await op<{ inserted_hashes: string[] }>(node, {
    operation: 'insert',
    schema: 'dev',
    table: 'dog',
    records: [
      { id: 1, name: 'dup' },
      { name: 'Nova', breed: 'lab' },
    ],
  });
  const nova = again.body.inserted_hashes[0]!;
  assert.match(nova, UUIDV7);
  expectAnswer(again, 200, {
    message: 'inserted 1 of 2 records',
    inserted_hashes: [nova],
    skipped_hashes: [1],
  });
  expectAnswer(
    await op(node, {
      operation: 'update',
      database: 'dev',
      table: 'dog',
      records: [
        { id: 1, age: 8 },
        { id: 99, age: 1 },
      ],
    }),
    200,
    { message: 'updated 1 of 2 records', update_hashes: [1], skipped_hashes: [99] },
  );
  expectAnswer(
    await op(node, {
      operation: 'upsert',
      database: 'dev',
      table: 'dog',
      records: [
        { id: 2, age: 4 },
        { id: 10, name: 'Bill', breed: 'pit', owner: 'zach', age: 2 },
      ],
    }),
    200,
    { message: 'upserted 2 of 2 records', upserted_hashes: [2, 10] },
  );
  return nova;
}

async function searchOperations(node: EdgeNode | HubNode, nova: string): Promise<void> {
  const byId = await op<unknown[]>(node, {
    operation: 'search_by_id',
    database: 'dev',
    table: 'dog',
    ids: [2, 99, 1],
  });
  assert.equal(byId.status, 200);
  assert.deepEqual(byId.body.map(withoutTimes), [
    { ...DOGS[1], age: 4 },
    { ...DOGS[0], age: 8 },
  ]);
  expectAnswer(
    await op(node, {
      operation: 'search_by_hash',
      schema: 'dev',
      table: 'dog',
      hash_values: [1, 3],
      get_attributes: ['name', 'age'],
    }),
    200,
    [
      { name: 'Harper', age: 8 },
      { name: 'Kato', age: 5 },
    ],
  );
  expectAnswer(
    await op(node, {
      operation: 'search_by_value',
      database: 'dev',
      table: 'dog',
      attribute: 'name',
      value: 'K*',
      get_attributes: ['id'],
    }),
    200,
    [{ id: 3 }],
  );
  expectAnswer(
    await op(node, {
      operation: 'search_by_value',
      schema: 'dev',
      table: 'dog',
      search_attribute: 'breed',
      search_value: 'lab',
      get_attributes: ['id', 'name'],
    }),
    200,
    [
      { id: 4, name: 'Alby' },
      { id: nova, name: 'Nova' },
    ],
  );
  expectAnswer(
    await op(node, {
      operation: 'search_by_conditions',
      database: 'dev',
      table: 'dog',
      operator: 'and',
      conditions: [
        { attribute: 'age', comparator: 'greater_than', value: 3 },
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
    }),
    200,
    [
      { id: 4, breed: 'lab', age: 9 },
      { id: 1, breed: 'mutt', age: 8 },
      { id: 3, breed: 'mutt', age: 5 },
    ],
  );
  expectAnswer(
    await op(node, {
      operation: 'search_by_conditions',
      database: 'dev',
      table: 'dog',
      operator: 'or',
      conditions: [
        { attribute: 'age', comparator: 'less_than', value: 3 },
        { attribute: 'name', comparator: 'equals', value: 'Alby' },
      ],
      sort: { attribute: 'age', descending: true },
      offset: 1,
      limit: 5,
      get_attributes: ['id'],
    }),
    200,
    [{ id: 10 }],
  );
  const cases: Array<[string, string, unknown, string[]]> = [
    ['breed', 'equals', 'mutt', ['Harper', 'Kato']],
    ['breed', 'not_equal', 'mutt', ['Penny', 'Alby', 'Bill', 'Nova']],
    ['name', 'contains', 'nn', ['Penny']],
    ['name', 'starts_with', 'Ha', ['Harper']],
    ['name', 'ends_with', 'y', ['Penny', 'Alby']],
    ['age', 'greater_than', 5, ['Harper', 'Alby']],
    ['age', 'greater_than_equal', 5, ['Harper', 'Kato', 'Alby']],
    ['age', 'less_than', 5, ['Penny', 'Bill']],
    ['age', 'less_than_equal', 4, ['Penny', 'Bill']],
    ['age', 'between', [4, 8], ['Harper', 'Penny', 'Kato']],
  ];
  for (const [attribute, comparator, value, names] of cases) {
    const res = await op<Array<{ name: string }>>(node, {
      operation: 'search_by_conditions',
      database: 'dev',
      table: 'dog',
      conditions: [{ attribute, comparator, value }],
      get_attributes: ['name'],
    });
    expectAnswer(
      res,
      200,
      names.map((name) => ({ name })),
      comparator,
    );
  }
}

async function describeAndDrop(node: EdgeNode | HubNode, edge: boolean): Promise<void> {
  const described = await op<Record<string, unknown>>(node, {
    operation: 'describe_table',
    database: 'dev',
    table: 'dog',
  });
  assert.ok(isRecentMs(described.body['last_updated_record']));
  const dog = {
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
      { attribute: 'color', indexed: false },
      { attribute: 'name', indexed: false },
      { attribute: 'owner', indexed: true },
    ],
    record_count: 6,
    last_updated_record: described.body['last_updated_record'],
    indexes: [['breed'], ['owner', 'age']],
    ...(edge ? { replication: { publish: false, subscribe: false } } : {}),
  };
  expectAnswer(described, 200, dog, 'describe_table');
  expectAnswer(
    await op(node, { operation: 'describe_database', database: 'dev' }),
    200,
    { dog },
    'describe_database',
  );
  const all = await op<Record<string, Record<string, unknown>>>(node, { operation: 'describe_all' });
  assert.equal(all.status, 200);
  assert.deepEqual(Object.keys(all.body), ['data', 'dev']);
  assert.deepEqual(all.body['dev'], { dog });
  assert.deepEqual(
    Object.keys(all.body['data']!),
    edge ? ['alerts', 'sensor_data', 'thresholds'] : ['thresholds'],
  );

  expectAnswer(await op(node, { operation: 'delete', database: 'dev', table: 'dog', ids: [1, 42] }), 200, {
    message: '1 of 2 records successfully deleted',
    deleted_hashes: [1],
    skipped_hashes: [42],
  });
  expectAnswer(
    await op(node, { operation: 'search_by_id', database: 'dev', table: 'dog', ids: [1] }),
    200,
    [],
  );
  expectAnswer(await op(node, { operation: 'drop_table', database: 'dev', table: 'dog' }), 200, {
    message: "successfully deleted table 'dev.dog'",
  });
  expectAnswer(await op(node, { operation: 'describe_table', database: 'dev', table: 'dog' }), 404, {
    error: "table 'dev.dog' does not exist",
    code: 'TM_UNKNOWN_TABLE',
  });
  expectAnswer(await op(node, { operation: 'create_table', database: 'dev', table: 'cat' }), 200, {
    message: "table 'dev.cat' successfully created.",
  });
  expectAnswer(await op(node, { operation: 'drop_database', database: 'dev' }), 200, {
    message: "successfully deleted 'dev'",
  });
  expectAnswer(await op(node, { operation: 'describe_database', schema: 'dev' }), 404, {
    error: "database 'dev' does not exist",
    code: 'TM_UNKNOWN_DATABASE',
  });
}

async function operationErrors(node: EdgeNode | HubNode): Promise<void> {
  expectAnswer(await op(node, { operation: 'sql', sql: 'SELECT 1' }), 400, {
    error: 'Operation "sql" not found',
    code: 'TM_INVALID_ARGUMENT',
  });
  expectAnswer(await op(node, '[1]'), 400, {
    error: 'the body must be a JSON object like {"operation": "describe_all"}',
    code: 'TM_INVALID_ARGUMENT',
  });
  expectAnswer(await op(node, { operation: 'insert', table: 'thresholds', records: 'x', extra: 1 }), 400, {
    error:
      'invalid insert request: extra: unknown key (known keys: operation, database, table, records); ' +
      'records: expected a list of a record object, got "x"',
    code: 'TM_INVALID_ARGUMENT',
  });
  expectAnswer(await op(node, { operation: 'insert', table: 'nope', records: [{ id: 1 }] }), 404, {
    error: "table 'data.nope' does not exist",
    code: 'TM_UNKNOWN_TABLE',
  });
  expectAnswer(
    await op(node, {
      operation: 'search_by_conditions',
      table: 'thresholds',
      conditions: [{ attribute: 'a', comparator: 'between', value: 1 }],
    }),
    400,
    {
      error:
        'invalid search_by_conditions request: conditions[0].value: between needs a list of two values [low, high]',
      code: 'TM_INVALID_ARGUMENT',
    },
  );
  const polluted = await op(node, '{"operation":"describe_all","__proto__":{"polluted":true}}');
  assert.equal(polluted.status, 400);
  assert.match((polluted.body as { error: string }).error, /__proto__: unknown key/);
}

describe('data API over HTTP: operations on a running edge and hub', { timeout: 90_000 }, () => {
  it('every operation with HarperDB 4.x answers, and its errors', async (t) => {
    const kit = useTestkit(t);
    const { hub, edge } = await cluster(kit);
    for (const node of [edge, hub]) {
      await tableOperations(node);
      const nova = await writeOperations(node);
      await searchOperations(node, nova);
      await describeAndDrop(node, node === edge);
      await operationErrors(node);
    }

    // edge only: subscribe-only tables are read-only, replicated tables cannot be dropped
    expectAnswer(await op(edge, { operation: 'insert', table: 'thresholds', records: [{ id: 't' }] }), 409, {
      error: "table 'data.thresholds' is subscribe-only on this node; write to it on the hub",
      code: 'TM_READ_ONLY_TABLE',
    });
    expectAnswer(await op(edge, { operation: 'drop_table', table: 'alerts' }), 409, {
      error:
        "table 'data.alerts' is replicated with the hub; remove it from replication (set_node_replication) first",
      code: 'TM_REPLICATED_TABLE',
    });

    // the node operations: on the hub they point to the admin API; on the edge cluster_status shows the link
    for (const body of [
      {
        operation: 'add_node',
        node_name: 'edgeA',
        subscriptions: [{ table: 'x', subscribe: true, publish: false }],
      },
      {
        operation: 'update_node',
        node_name: 'edgeA',
        subscriptions: [{ table: 'x', subscribe: true, publish: false }],
      },
      {
        operation: 'set_node_replication',
        node_name: 'edgeA',
        subscriptions: [{ table: 'x', subscribe: true, publish: false }],
      },
      { operation: 'remove_node', node_name: 'edgeA' },
      { operation: 'cluster_status' },
    ]) {
      expectAnswer(await op(hub, body), 400, {
        error:
          `'${body.operation}' manages an edge's subscriptions with its hub; on the hub, nodes and their grants ` +
          'are managed with the admin API (tablemesh nodes add|grant|revoke|remove)',
        code: 'TM_INVALID_ARGUMENT',
      });
    }
    const status = await kit.waitFor(
      async () => {
        const res = await op<{
          connections: Array<{ status: string; subscriptions: Array<Record<string, unknown>> }>;
        }>(edge, { operation: 'cluster_status' });
        const conn = res.body.connections[0];
        return conn?.status === 'open' && conn.subscriptions[1]?.['phase'] === 'live' ? res : undefined;
      },
      { message: 'edge connected and live' },
    );
    const sub = status.body.connections[0]!.subscriptions[1]!;
    expectAnswer(status, 200, {
      node_name: 'edgeA',
      is_enabled: true,
      connections: [
        {
          node_name: 'hub',
          status: 'open',
          link: 'connected',
          url: hub.url,
          subscriptions: [
            { schema: 'data', table: 'alerts', publish: true, subscribe: false, backlog: 0 },
            {
              schema: 'data',
              table: 'thresholds',
              publish: false,
              subscribe: true,
              phase: 'live',
              hub_seq: sub['hub_seq'],
              head_seen: sub['head_seen'],
            },
          ],
        },
      ],
    });
  });
});
