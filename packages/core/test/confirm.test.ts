import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type HubOutcome, type HubState, parseConfirm, type ReceiptTracker } from '../src/api/confirm.js';
import { etagOf, handleRest, noneMatch, type RestDeps, type RestResponse } from '../src/api/rest.js';
import { TmError } from '../src/errors.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { Store } from '../src/store/store.js';
import type { Transaction } from '../src/types.js';

/** A tracker that answers `state` for every transaction and records what it was asked. */
function fakeTracker(state: HubState, publishable = ['data.alerts']) {
  const waits: Array<{ txns: readonly Transaction[]; timeoutMs: number }> = [];
  const tracker: ReceiptTracker = {
    assertConfirmable(table) {
      if (!publishable.includes(table))
        throw new TmError('TM_INVALID_ARGUMENT', `table '${table}' is not published`);
    },
    async wait(txns, timeoutMs) {
      waits.push({ txns, timeoutMs });
      return txns.map((t): HubOutcome => ({ table: t.table, epoch: t.stamp.epoch, seq: t.seq, state }));
    },
    async status(table, epoch, seq) {
      return { table, epoch, seq, state, currentEpoch: epoch, receiptedThrough: 3 };
    },
  };
  return { tracker, waits };
}

async function setup(extra: Partial<RestDeps> = {}) {
  const store = await Store.open({
    kv: new MemoryKv(),
    nodeId: 'edge1',
    sync: false,
    now: () => 1_700_000_000_000,
  });
  await store.createTable({ name: 'alerts' });
  await store.createTable({ name: 'sensor_data' });
  const deps: RestDeps = { store, write: (w) => store.writeLocal(w), isReadOnly: () => false, ...extra };
  const call = (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const u = new URL(url, 'http://x');
    return handleRest(deps, { method, path: u.pathname, query: u.searchParams, headers, body });
  };
  return { store, call };
}

const HUB = { 'x-tablemesh-confirm': 'hub' };

describe('confirmation level (SPEC §8)', () => {
  it('answers 200 "confirmed: hub" once the hub applied the write', async () => {
    const { tracker, waits } = fakeTracker('applied');
    const { call, store } = await setup({ receipts: tracker });
    const res = await call(
      'PUT',
      '/alerts/a1',
      { level: 1 },
      { ...HUB, 'x-tablemesh-confirm-timeout-ms': '2500' },
    );
    assert.equal(res.status, 200);
    assert.equal((res.body as { confirmed: string }).confirmed, 'hub');
    assert.equal(waits.length, 1);
    assert.equal(waits[0]!.timeoutMs, 2500);
    assert.deepEqual(
      waits[0]!.txns.map((t) => [t.table, t.ops.length]),
      [['data.alerts', 1]],
    );
    assert.equal((await store.get('alerts', 'a1'))?.['level'], 1);
    // without the option, nothing waits and the answer has no `confirmed`
    const plain = await call('PUT', '/alerts/a2', { level: 2 });
    assert.equal(plain.status, 200);
    assert.equal((plain.body as Record<string, unknown>)['confirmed'], undefined);
    assert.equal(waits.length, 1);
  });

  it('answers 202 with where to look when the receipt does not come (never a false success)', async () => {
    const { tracker } = fakeTracker('pending');
    const { call, store } = await setup({ receipts: tracker });
    const res = await call('PATCH', '/alerts/a1?confirm=hub&confirmTimeoutMs=10', { level: 1 });
    assert.equal(res.status, 202);
    const body = res.body as { confirmed: string; hub: HubOutcome[]; key: string; table: string };
    assert.equal(body.confirmed, 'local');
    assert.equal(body.key, 'a1');
    const epoch = store.epoch;
    assert.deepEqual(body.hub, [
      { table: 'data.alerts', epoch, seq: 0, state: 'pending', status: `/_receipts/data.alerts/${epoch}/0` },
    ]);
    assert.equal(res.headers?.['location'], `/_receipts/data.alerts/${epoch}/0`);
    // the write itself is committed locally
    assert.equal((await store.get('alerts', 'a1'))?.['level'], 1);
    const status = await call('GET', `/_receipts/data.alerts/${epoch}/0`);
    assert.deepEqual(status.body, {
      table: 'data.alerts',
      epoch,
      seq: 0,
      state: 'pending',
      currentEpoch: epoch,
      receiptedThrough: 3,
    });
  });

  it('POST keeps the new record path in the body of a 202', async () => {
    const { tracker } = fakeTracker('quarantined');
    const { call } = await setup({ receipts: tracker, newId: () => 'n1' });
    const res = await call('POST', '/alerts/', { level: 1 }, HUB);
    assert.equal(res.status, 202);
    assert.equal((res.body as { location: string }).location, '/alerts/n1');
    assert.match(res.headers?.['location'] ?? '', /^\/_receipts\/data\.alerts\//);
  });

  it('refuses, before writing, what cannot be confirmed', async () => {
    const { tracker, waits } = fakeTracker('applied');
    const { call, store } = await setup({ receipts: tracker });
    const notPublished = await call('PUT', '/sensor_data/x', { v: 1 }, HUB);
    assert.equal(notPublished.status, 400);
    assert.deepEqual(notPublished.body, {
      error: "table 'data.sensor_data' is not published",
      code: 'TM_INVALID_ARGUMENT',
    });
    const batch = await call(
      'POST',
      '/_batch',
      {
        writes: [
          { table: 'alerts', ops: [{ kind: 'put', key: 'b', attrs: {} }] },
          { table: 'sensor_data', ops: [{ kind: 'put', key: 'b', attrs: {} }] },
        ],
      },
      HUB,
    );
    assert.equal(batch.status, 400);
    assert.equal((await store.query('alerts')).length + (await store.query('sensor_data')).length, 0);
    assert.equal(waits.length, 0);
    for (const headers of [
      { 'x-tablemesh-confirm': 'cloud' },
      { ...HUB, 'x-tablemesh-confirm-timeout-ms': '-1' },
    ]) {
      const res = await call('PUT', '/alerts/x', {}, headers);
      assert.equal(res.status, 400, JSON.stringify(headers));
    }
    const { call: noTracker } = await setup();
    const none = await noTracker('PUT', '/alerts/x', {}, HUB);
    assert.deepEqual(none.body, {
      error: 'this node cannot wait for hub receipts (confirm=hub)',
      code: 'TM_INVALID_ARGUMENT',
    });
  });

  it('the hub confirms its own writes; operations take the option in the body too', async () => {
    const { call } = await setup({ role: 'hub' });
    const res = await call('PUT', '/alerts/x', { a: 1 }, HUB);
    assert.equal(res.status, 200);
    assert.equal((res.body as { confirmed: string }).confirmed, 'hub');
    const { tracker, waits } = fakeTracker('pending');
    const edge = await setup({ receipts: tracker });
    const op = await edge.call('POST', '/', {
      operation: 'insert',
      table: 'alerts',
      records: [{ id: 'i1' }, { id: 'i2' }],
      confirm: 'hub',
      confirm_timeout_ms: 5,
    });
    assert.equal(op.status, 202);
    assert.equal(waits[0]!.timeoutMs, 5);
    const body = op.body as Record<string, unknown>;
    assert.equal(body['message'], 'inserted 2 of 2 records');
    assert.equal(body['confirmed'], 'local');
    assert.equal((body['hub'] as unknown[]).length, 1, 'one transaction per table');
  });

  it('parses the option from header, query and body (body wins)', () => {
    const q = new URLSearchParams('confirm=hub');
    assert.deepEqual(parseConfirm({}, new URLSearchParams()), { hub: false, timeoutMs: 0 });
    assert.deepEqual(parseConfirm({}, q), { hub: true, timeoutMs: 10_000 });
    assert.deepEqual(parseConfirm(HUB, new URLSearchParams(), { confirm: 'local' }), {
      hub: false,
      timeoutMs: 0,
    });
    assert.throws(
      () => parseConfirm({}, new URLSearchParams('confirmTimeoutMs=999999999')),
      /from 0 to 120000/,
    );
  });
});

describe('ETag and If-None-Match', () => {
  it('GET answers a strong ETag; If-None-Match with it answers 304 until the record changes', async () => {
    const { call } = await setup();
    await call('PUT', '/alerts/a', { level: 1 });
    const first = await call('GET', '/alerts/a');
    const etag = first.headers?.['etag'];
    assert.match(etag ?? '', /^"[A-Za-z0-9_-]{27}"$/);
    assert.equal(etag, etagOf(first.body));
    const cached = await call('GET', '/alerts/a', undefined, { 'if-none-match': etag! });
    assert.deepEqual(cached, { status: 304, headers: { etag } } satisfies RestResponse);
    assert.equal(
      (await call('GET', '/alerts/a', undefined, { 'if-none-match': `"x", W/${etag}` })).status,
      304,
    );
    await call('PATCH', '/alerts/a', { level: 2 });
    const changed = await call('GET', '/alerts/a', undefined, { 'if-none-match': etag! });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers?.['etag'], etag);
    const list = await call('GET', '/alerts/');
    assert.equal(list.status, 200);
    assert.equal(list.headers?.['x-tablemesh-records-read'], '1');
    const listed = await call('GET', '/alerts/', undefined, { 'if-none-match': list.headers!['etag']! });
    assert.equal(listed.status, 304);
    assert.equal(noneMatch('*', '"a"'), true);
    assert.equal(noneMatch(undefined, '"a"'), false);
  });
});
