/**
 * Done when (issue 4), the rest: a write through edge A's API to a table A publishes and B subscribes appears on
 * the hub's API and in edge B's change stream (SSE); a replicated change appears in the local stream; hub
 * confirmation answers 200 only once the hub has the write, else 202 with its status URL; subscriptions change at
 * run time (add_node & co) and survive a restart; the reference query reads only its rows from the compound index.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EdgeNode, HubNode, Testkit } from '@tablemesh/testkit';
import { useTestkit } from '@tablemesh/testkit';
import { call, expectAnswer, op, openSse, withoutTimes } from './_data-api.ts';

const HUB_CONFIRM = { 'x-tablemesh-confirm': 'hub' };

async function cluster(kit: Testkit): Promise<{ hub: HubNode; a: EdgeNode; b: EdgeNode }> {
  const hub = await kit.startHub({
    tables: [{ name: 'thresholds' }, { name: 'shared' }, { name: 'config' }],
    nodes: [
      { id: 'edgeA', publish: ['alerts', 'shared'], subscribe: ['thresholds', 'shared'] },
      { id: 'edgeB', publish: ['shared'], subscribe: ['thresholds', 'shared', 'config'] },
    ],
  });
  const [a, b] = await Promise.all([
    kit.startEdge({
      name: 'edgeA',
      hub,
      publish: ['alerts', 'shared', 'ungranted'],
      subscribe: ['thresholds', 'shared'],
      tables: [{ name: 'sensor_data', indexes: [['sensor', 'ts']] }],
    }),
    kit.startEdge({ name: 'edgeB', hub, publish: ['shared'], subscribe: ['thresholds', 'shared'] }),
  ]);
  return { hub, a, b };
}

/** Waits until the edge's subscriptions are live (its cluster_status says so). */
async function live(kit: Testkit, edge: EdgeNode, tables: string[]): Promise<void> {
  await kit.waitFor(
    async () => {
      const res = await op<{
        connections: Array<{ subscriptions: Array<{ table: string; phase?: string }> }>;
      }>(edge, { operation: 'cluster_status' });
      const subs = res.body.connections[0]?.subscriptions ?? [];
      return tables.every((t) => subs.some((s) => s.table === t && s.phase === 'live'));
    },
    { message: `${edge.name} live on ${tables.join(', ')}` },
  );
}

describe('data API: replication, change streams and hub confirmation (hub + 2 edges)', {
  timeout: 90_000,
}, () => {
  it('A → hub → B through the API; SSE on both sides; confirm=hub 200 or 202 with its status', async (t) => {
    const kit = useTestkit(t);
    const { hub, a, b } = await cluster(kit);
    await Promise.all([live(kit, a, ['thresholds', 'shared']), live(kit, b, ['thresholds', 'shared'])]);

    const sharedOnB = await openSse(b, '/shared/changes');
    const thresholdsOnA = await openSse(a, '/thresholds/changes');
    assert.equal(sharedOnB.status, 200);
    await sharedOnB.next((e) => e.event === 'ready', 'ready on B');
    await thresholdsOnA.next((e) => e.event === 'ready', 'ready on A');

    // A writes a table it publishes, asking for the hub's receipt: 200 means the hub has it now.
    const put = await call(a, 'PUT', '/shared/k1', { level: 3, sensor: 's7' }, HUB_CONFIRM);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal((put.body as { confirmed: string }).confirmed, 'hub');
    assert.equal((put.body as { seq: number }).seq, 1);
    const onHub = await call(hub, 'GET', '/shared/k1');
    assert.equal(onHub.status, 200, 'confirmed by the hub means readable on the hub at once');
    assert.deepEqual(withoutTimes(onHub.body), { id: 'k1', level: 3, sensor: 's7' });

    // ... and B, which subscribes to shared, is pushed the change.
    const pushed = await sharedOnB.next((e) => e.data?.['key'] === 'k1', 'k1 on B');
    assert.match(pushed.id ?? '', /^[0-9a-f]{16}:\d+$/);
    assert.equal(pushed.data?.['origin'], 'edgeA');
    assert.equal(pushed.data?.['table'], 'data.shared');
    assert.deepEqual(withoutTimes(pushed.data?.['record']), { id: 'k1', level: 3, sensor: 's7' });

    // The operations API takes the confirmation in the body; B's insert reaches A's shared table too.
    const inserted = await op(b, {
      operation: 'insert',
      table: 'shared',
      records: [{ id: 'k2', level: 1 }],
      confirm: 'hub',
    });
    expectAnswer(inserted, 200, {
      message: 'inserted 1 of 1 records',
      inserted_hashes: ['k2'],
      skipped_hashes: [],
      confirmed: 'hub',
    });
    await kit.waitFor(async () => (await call(a, 'GET', '/shared/k2')).status === 200, {
      message: 'k2 on A',
    });

    // A change made on the hub is replicated to A and appears in A's local change stream.
    await call(hub, 'PUT', '/thresholds/s7', { max: 42 });
    const replicated = await thresholdsOnA.next((e) => e.data?.['key'] === 's7', 's7 on A');
    assert.equal(replicated.data?.['origin'], 'hub');
    assert.deepEqual(withoutTimes(replicated.data?.['record']), { id: 's7', max: 42 });

    // Resume: after closing, two more changes; Last-Event-ID gives exactly those.
    await thresholdsOnA.close();
    await call(hub, 'PATCH', '/thresholds/s7', { max: 43 });
    await call(hub, 'DELETE', '/thresholds/s7');
    await kit.waitFor(async () => (await call(a, 'GET', '/thresholds/s7')).status === 404, {
      message: 'delete on A',
    });
    const resumed = await openSse(a, '/thresholds/changes', { 'last-event-id': replicated.id! });
    const deleted = await resumed.next((e) => e.data?.['record'] === null, 'the delete');
    const changes = resumed.events.filter((e) => e.event === 'message');
    assert.deepEqual(
      changes.map((e) => [e.data?.['key'], (e.data?.['record'] as { max?: number } | null)?.max ?? null]),
      [
        ['s7', 43],
        ['s7', null],
      ],
    );
    assert.equal(deleted.id, changes[1]!.id);
    await resumed.close();

    // The hub serves change streams too (bearer token as everywhere).
    const onHubStream = await openSse(hub, '/shared/changes?start=beginning');
    await onHubStream.next((e) => e.data?.['key'] === 'k2', 'k2 in the hub stream');
    await onHubStream.close();

    // No receipt in time (the hub does not grant `ungranted`): 202, never a false 200, and where to look.
    const held = await call(a, 'PUT', '/ungranted/x?confirm=hub&confirmTimeoutMs=400', { v: 1 });
    assert.equal(held.status, 202, JSON.stringify(held.body));
    const body = held.body as { stamp: { epoch: string }; hub: Array<{ status: string }> };
    const epoch = body.stamp.epoch;
    const status = `/_receipts/data.ungranted/${epoch}/1`;
    expectAnswer(held, 202, {
      table: 'data.ungranted',
      key: 'x',
      seq: 1,
      stamp: body.stamp,
      confirmed: 'local',
      hub: [{ table: 'data.ungranted', epoch, seq: 1, state: 'pending', status }],
    });
    assert.equal(held.headers.get('location'), status);
    expectAnswer(await call(a, 'GET', status), 200, {
      table: 'data.ungranted',
      epoch,
      seq: 1,
      state: 'pending',
      currentEpoch: epoch,
      receiptedThrough: 0,
    });
    // the write is committed locally all the same
    assert.deepEqual(withoutTimes((await call(a, 'GET', '/ungranted/x')).body), { id: 'x', v: 1 });
    // a receipted one reads applied
    const sharedEpoch = (put.body as { stamp: { epoch: string } }).stamp.epoch;
    assert.equal(
      ((await call(a, 'GET', `/_receipts/data.shared/${sharedEpoch}/1`)).body as { state: string }).state,
      'applied',
    );
    // what never goes to the hub cannot be confirmed: refused before writing
    expectAnswer(await call(a, 'PUT', '/sensor_data/x', { v: 1 }, HUB_CONFIRM), 400, {
      error:
        "table 'data.sensor_data' is not published to the hub, so its writes get no receipt; confirm=hub needs a published table",
      code: 'TM_INVALID_ARGUMENT',
    });
    assert.equal((await call(a, 'GET', '/sensor_data/x')).status, 404);
    await sharedOnB.close();
  });
});

describe('data API: subscriptions changed at run time (hub + edge)', { timeout: 90_000 }, () => {
  it('add_node, set_node_replication, update_node, remove_node; the set survives a restart', async (t) => {
    const kit = useTestkit(t);
    const { hub, b } = await cluster(kit);
    await live(kit, b, ['thresholds', 'shared']);
    await call(hub, 'PUT', '/config/c1', { mode: 'eco' });
    expectAnswer(await call(b, 'GET', '/config/c1'), 404, {
      error: "table 'data.config' does not exist",
      code: 'TM_UNKNOWN_TABLE',
    });

    expectAnswer(
      await op(b, {
        operation: 'add_node',
        node_name: 'hub',
        subscriptions: [
          {
            database: 'data',
            table: 'config',
            subscribe: true,
            publish: false,
            start_time: '2020-01-01T00:00:00.000Z',
          },
          { table: 'shared', subscribe: true, publish: true },
        ],
      }),
      200,
      {
        message: "Successfully added 'hub' to manifest",
        added: [{ schema: 'data', table: 'config', subscribe: true, publish: false }],
        skipped: [{ schema: 'data', table: 'shared', subscribe: true, publish: true }],
      },
    );
    await kit.waitFor(async () => (await call(b, 'GET', '/config/c1')).status === 200, {
      message: 'config on B',
    });
    expectAnswer(await call(b, 'PUT', '/config/c1', { mode: 'x' }), 409, {
      error: "table 'data.config' is subscribe-only on this node; write to it on the hub",
      code: 'TM_READ_ONLY_TABLE',
    });
    expectAnswer(
      await op(b, {
        operation: 'set_node_replication',
        node_name: 'hub',
        subscriptions: [{ table: 'shared', subscribe: false, publish: true }],
      }),
      200,
      { message: "Successfully updated 'hub'" },
    );
    expectAnswer(
      await op(b, {
        operation: 'update_node',
        node_name: 'hub',
        subscriptions: [{ table: 'thresholds', subscribe: true, publish: false }],
      }),
      200,
      { message: "Successfully updated 'hub'" },
    );
    expectAnswer(await op(b, { operation: 'remove_node', node_name: 'somewhere-else' }), 400, {
      error: "this edge replicates with one hub, 'hub'; node_name 'somewhere-else' is not it",
      code: 'TM_INVALID_ARGUMENT',
    });

    // restart: the run-time set is kept; the hub's next config change still arrives
    await b.restart();
    await live(kit, b, ['config', 'thresholds']);
    const status = await op<{
      connections: Array<{ node_name: string; subscriptions: Array<Record<string, unknown>> }>;
    }>(b, { operation: 'cluster_status' });
    assert.equal(status.body.connections[0]!.node_name, 'hub');
    assert.deepEqual(
      status.body.connections[0]!.subscriptions.map((s) => [s['table'], s['publish'], s['subscribe']]),
      [
        ['config', false, true],
        ['shared', true, false],
        ['thresholds', false, true],
      ],
    );
    await call(hub, 'PUT', '/config/c2', { mode: 'turbo' });
    await kit.waitFor(async () => (await call(b, 'GET', '/config/c2')).status === 200, {
      message: 'c2 on B',
    });

    expectAnswer(await op(b, { operation: 'remove_node', node_name: 'hub' }), 200, {
      message: "Successfully removed 'hub' from manifest",
    });
    expectAnswer(await op(b, { operation: 'cluster_status' }), 200, {
      node_name: 'edgeB',
      is_enabled: true,
      connections: [],
    });
    // no longer subscribed: the local copy is kept and is writable again
    assert.equal((await call(b, 'PUT', '/config/c1', { mode: 'local' })).status, 200);
  });
});

describe('data API: the reference query reads only its rows (compound index)', { timeout: 90_000 }, () => {
  it('sensor_data of the last 60 s for sensor S reads 30 rows of 6000', async (t) => {
    const kit = useTestkit(t);
    const hub = await kit.startHub({ nodes: [{ id: 'edgeA' }] });
    const a = await kit.startEdge({
      name: 'edgeA',
      hub,
      tables: [{ name: 'sensor_data', indexes: [['sensor', 'ts']] }],
    });
    const now = Date.now();
    // 100 sensors × 60 rows: 30 in the last minute, 30 older. Sensor s42's last minute = 30 rows, 1/200 of the table.
    const rows: Array<Record<string, unknown>> = [];
    for (let s = 0; s < 100; s++) {
      for (let i = 0; i < 60; i++) {
        rows.push({ id: `s${s}-${i}`, sensor: `s${s}`, ts: now - 119_000 + i * 2_000 + 500, value: i });
      }
    }
    for (let i = 0; i < rows.length; i += 500) {
      const res = await op(a, { operation: 'insert', table: 'sensor_data', records: rows.slice(i, i + 500) });
      assert.equal(res.status, 200);
    }
    const since = now - 60_000;
    const rest = await call<Array<{ id: string; ts: number }>>(
      a,
      'GET',
      `/sensor_data/?sensor=s42&ts.ge=${since}`,
    );
    assert.equal(rest.status, 200);
    assert.equal(rest.body.length, 30);
    assert.ok(rest.body.every((r) => r.id.startsWith('s42-') && r.ts >= since));
    assert.equal(rest.headers.get('x-tablemesh-records-read'), '30', 'REST reads only the matching rows');

    const ops = await op<unknown[]>(a, {
      operation: 'search_by_conditions',
      table: 'sensor_data',
      conditions: [
        { attribute: 'sensor', comparator: 'equals', value: 's42' },
        { attribute: 'ts', comparator: 'greater_than_equal', value: since },
      ],
    });
    assert.equal(ops.body.length, 30);
    assert.equal(ops.headers.get('x-tablemesh-records-read'), '30', 'search_by_conditions too');

    // the counter is real: a query no index serves reads the whole table
    const scan = await call<unknown[]>(a, 'GET', `/sensor_data/?value.ge=59`);
    assert.equal(scan.body.length, 100);
    assert.equal(scan.headers.get('x-tablemesh-records-read'), '6000');
  });
});
