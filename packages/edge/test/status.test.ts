import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryKv, Outbox, type RestRequest, type RestResponse, Store } from '@tablemesh/core';
import { DrainSampler, makeEdgeStatus } from '../src/status.ts';

describe('DrainSampler', () => {
  it('measures receipted seqs per second over the window, per epoch', () => {
    const s = new DrainSampler(10_000);
    assert.equal(s.rate('t'), null);
    s.add('t', 0, 'e1', 0);
    s.add('t', 400, 'e1', 10);
    assert.equal(s.rate('t'), null, 'under 500 ms apart');
    s.add('t', 2_000, 'e1', 100);
    assert.equal(s.rate('t'), 50);
    s.add('t', 11_000, 'e1', 190); // the samples at 0 and 400 fall out of the window
    assert.equal(s.rate('t'), 10);
    s.add('t', 14_000, 'e2', 1); // a new epoch starts over
    assert.equal(s.rate('t'), null);
    s.keep([]);
    assert.equal(s.rate('t'), null);
  });
});

describe('edge status routes', () => {
  async function setup() {
    const store = await Store.open({ kv: new MemoryKv(), nodeId: 'edge1', sync: false });
    await store.createTable({ name: 'alerts' });
    const outbox = await Outbox.open(store, { tables: [{ table: 'data.alerts' }] });
    const link = {
      state: 'backing-off',
      connected: false,
      lastError: 'ECONNREFUSED',
      counters: { connects: 0, disconnects: 0 },
    };
    const subState = [{ table: 'data.thresholds', phase: 'idle', cursor: undefined, headSeen: 3 }];
    let notified = 0;
    const status = makeEdgeStatus({
      nodeId: 'edge1',
      hubUrl: 'mqtt://edge1:secret@hub:1883',
      store,
      outbox,
      link,
      subscriber: { state: () => subState },
      notify: () => notified++,
    });
    clearInterval(status.timer);
    const handler = status.wrap({ store, write: (w) => store.writeLocal(w), isReadOnly: () => false });
    const call = (method: string, url: string): Promise<RestResponse> => {
      const u = new URL(url, 'http://x');
      const req: RestRequest = {
        method,
        path: u.pathname,
        query: u.searchParams,
        headers: {},
        body: undefined,
      };
      return handler(req);
    };
    return { store, outbox, call, notified: () => notified };
  }

  it('GET /_status shows backlog, link and subscriptions; synced only when drained and live', async () => {
    const { store, call } = await setup();
    await store.writeLocal([{ table: 'data.alerts', ops: [{ kind: 'put', key: 'a1', attrs: { v: 1 } }] }]);
    const res = await call('GET', '/_status');
    assert.equal(res.status, 200);
    const body = res.body as {
      role: string;
      node: string;
      link: unknown;
      published: { table: string; backlogCount: number; backlogBytes: number; drainPerSec: number | null }[];
      subscribed: unknown[];
      synced: boolean;
    };
    assert.equal(body.role, 'edge');
    assert.equal(body.node, 'edge1');
    assert.deepEqual(body.link, {
      state: 'backing-off',
      connected: false,
      hub: 'mqtt://hub:1883',
      lastError: 'ECONNREFUSED',
      connects: 0,
      disconnects: 0,
    });
    assert.equal(body.published.length, 1);
    assert.equal(body.published[0]!.table, 'data.alerts');
    assert.equal(body.published[0]!.backlogCount, 1);
    assert.ok(body.published[0]!.backlogBytes > 0);
    assert.equal(body.published[0]!.drainPerSec, null);
    assert.deepEqual(body.subscribed, [
      { table: 'data.thresholds', phase: 'idle', hubSeq: 0, headSeen: 3, lag: 3, lastError: null },
    ]);
    assert.equal(body.synced, false);
    assert.equal((await call('POST', '/_status')).status, 405);
    assert.equal((await call('GET', '/_status/x')).status, 404);
    // other paths reach the data API
    assert.equal((await call('GET', '/alerts/a1')).status, 200);
  });

  it('quarantine: list, retry, drop, and 404 for unknown ids', async () => {
    const { store, outbox, call, notified } = await setup();
    await store.writeLocal([{ table: 'data.alerts', ops: [{ kind: 'put', key: 'a1', attrs: { v: 1 } }] }]);
    await store.writeLocal([{ table: 'data.alerts', ops: [{ kind: 'put', key: 'a2', attrs: { v: 2 } }] }]);
    const batch = await outbox.nextBatch('data.alerts');
    assert.ok(batch);
    await outbox.onReceipt('data.alerts', batch.epoch, 2, [
      { seq: 1, code: 'TM_RECORD_TOO_LARGE', message: 'too big' },
      { seq: 2, code: 'TM_INVALID_VALUE', message: 'bad' },
    ]);
    const list = (await call('GET', '/_quarantine')).body as { quarantined: { id: string; code: string }[] };
    assert.deepEqual(
      list.quarantined.map((q) => q.code),
      ['TM_RECORD_TOO_LARGE', 'TM_INVALID_VALUE'],
    );
    const [first, second] = list.quarantined;
    const status = (await call('GET', '/_status')).body as {
      published: { quarantined: number; lastError: string }[];
    };
    assert.equal(status.published[0]!.quarantined, 2);
    assert.match(status.published[0]!.lastError, /^TM_(RECORD_TOO_LARGE|INVALID_VALUE): /);
    const retried = await call('POST', `/_quarantine/${encodeURIComponent(first!.id)}/retry`);
    assert.equal(retried.status, 200);
    assert.equal((retried.body as { retried: { seq: number } }).retried.seq, 3);
    assert.equal(notified(), 1);
    const dropped = await call('DELETE', `/_quarantine/${encodeURIComponent(second!.id)}`);
    assert.deepEqual(dropped.body, { id: second!.id, dropped: true });
    assert.deepEqual(
      ((await call('GET', '/_quarantine')).body as { quarantined: unknown[] }).quarantined,
      [],
    );
    const again = await call('DELETE', `/_quarantine/${encodeURIComponent(second!.id)}`);
    assert.equal(again.status, 404);
    assert.equal((again.body as { code: string }).code, 'TM_NOT_FOUND');
    assert.equal((await call('PUT', '/_quarantine')).status, 405);
    assert.equal((await call('GET', `/_quarantine/${encodeURIComponent(first!.id)}/nope`)).status, 404);
  });
});
