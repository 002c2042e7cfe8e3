import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTmError, MemoryKv, Outbox, Store } from '@tablemesh/core';
import { parseEdgeConfig } from '../src/config.js';
import type { Subscription } from '../src/subscriber.js';
import { EdgeSubscriptions } from '../src/subscriptions.js';

const silent = { warn() {}, info() {} };

function config(publish: string[], subscribe: string[]) {
  return parseEdgeConfig({
    nodeId: 'edge1',
    dataDir: '/tmp/unused',
    hub: { url: 'mqtt://user:secret@hub.example:1883' },
    publish: publish.map((table) => ({ table, quotaBytes: '1MiB' })),
    subscribe: subscribe.map((table) => ({ table })),
  });
}

async function started(kv: MemoryKv, cfg: ReturnType<typeof config>) {
  const store = await Store.open({ kv, nodeId: 'edge1', sync: false });
  const repl = await EdgeSubscriptions.open(store, cfg, silent);
  const outbox = await Outbox.open(store, { tables: repl.outboxTables() });
  const calls = {
    subs: [] as Subscription[][],
    topics: [] as string[][],
    notified: 0,
    published: [] as string[],
  };
  const link = {
    connected: true,
    state: 'connected',
    async subscribe(t: readonly string[]) {
      calls.topics.push([...t]);
      return t.map((x) => (x.includes('secret_table') ? 128 : 1));
    },
  };
  repl.attach({
    outbox,
    subscriber: { setSubscriptions: (s) => calls.subs.push([...s]), state: () => [] },
    publisher: { notify: () => calls.notified++ },
    link: () => link,
    onPublish: (t) => calls.published.push(t),
  });
  return { store, repl, outbox, calls };
}

describe('EdgeSubscriptions (add_node & co on the edge)', () => {
  it('starts from the config, changes at run time, applies to outbox/subscriber/link and persists', async () => {
    const kv = new MemoryKv();
    const cfg = config(['alerts'], ['thresholds']);
    const { store, repl, outbox, calls } = await started(kv, cfg);
    assert.deepEqual(repl.outboxTables(), [
      { table: 'data.alerts', quotaBytes: 1 << 20, onFull: 'reject', priority: 1 },
    ]);
    assert.deepEqual(repl.subscriptions(), [{ table: 'data.thresholds', start: 'now' }]);
    assert.equal(repl.isReadOnly('data.thresholds'), true);
    assert.equal(repl.isReadOnly('data.alerts'), false);
    assert.ok(store.getTable('data.alerts'), 'published tables exist locally');

    const { added, skipped } = await repl.add('cloud', [
      { table: 'data.chunks', publish: true, subscribe: false },
      { table: 'data.thresholds', publish: true, subscribe: true },
      { table: 'data.config', publish: false, subscribe: true, start: 'beginning' },
    ]);
    assert.deepEqual(
      added.map((e) => e.table),
      ['data.chunks', 'data.config'],
    );
    assert.deepEqual(
      skipped.map((e) => e.table),
      ['data.thresholds'],
    );
    assert.deepEqual(outbox.publishedTables(), ['data.alerts', 'data.chunks']);
    assert.ok(store.getTable('data.chunks'));
    assert.deepEqual(calls.published, ['data.chunks']);
    assert.deepEqual(calls.subs.at(-1), [
      { table: 'data.thresholds', start: 'now' },
      { table: 'data.config', start: 'beginning' },
    ]);
    assert.deepEqual(calls.topics, [['tm/v1/feed/data.config']]);
    assert.equal(calls.notified, 1);

    // update: thresholds becomes writable (published too); alerts stops being published (queue kept)
    await store.writeLocal([{ table: 'alerts', ops: [{ kind: 'put', key: 'a', attrs: {} }] }]);
    await repl.update('cloud', [
      { table: 'data.thresholds', publish: true, subscribe: true },
      { table: 'data.alerts', publish: false, subscribe: false },
    ]);
    assert.equal(repl.isReadOnly('data.thresholds'), false);
    assert.equal(repl.replicationOf('data.alerts'), undefined);
    assert.deepEqual(outbox.publishedTables(), ['data.chunks', 'data.thresholds']);

    const status = await repl.status();
    assert.deepEqual(status, {
      node_name: 'edge1',
      is_enabled: true,
      connections: [
        {
          node_name: 'cloud',
          status: 'open',
          link: 'connected',
          url: 'mqtt://hub.example:1883',
          subscriptions: [
            { schema: 'data', table: 'chunks', publish: true, subscribe: false, backlog: 0 },
            { schema: 'data', table: 'config', publish: false, subscribe: true },
            { schema: 'data', table: 'thresholds', publish: true, subscribe: true, backlog: 0 },
          ],
        },
      ],
    });
    await assert.rejects(
      repl.remove('other-hub'),
      (err) => isTmError(err, 'TM_INVALID_ARGUMENT') && /one hub, 'cloud'/.test(err.message),
    );
    await store.close();

    // restart with the same config: the run-time set survives
    const again = await started(kv, cfg);
    assert.deepEqual(
      again.repl.subscriptions().map((s) => s.table),
      ['data.thresholds', 'data.config'],
    );
    assert.deepEqual(again.outbox.publishedTables(), ['data.chunks', 'data.thresholds']);
    await again.repl.remove('cloud');
    assert.deepEqual(again.outbox.publishedTables(), []);
    assert.deepEqual(again.repl.subscriptions(), []);
    assert.deepEqual(await again.repl.status(), { node_name: 'edge1', is_enabled: true, connections: [] });
    await again.store.close();

    // a changed config file wins again
    const changed = await started(kv, config(['alerts', 'chunks'], []));
    assert.deepEqual(changed.outbox.publishedTables(), ['data.alerts', 'data.chunks']);
    await changed.store.close();
  });

  it('refuses to replicate a table with local retention, changing nothing', async () => {
    const kv = new MemoryKv();
    const { store, repl, outbox, calls } = await started(kv, config([], []));
    await store.createTable({ name: 'sensor_data', expirationSec: 60 });
    await assert.rejects(
      repl.add('hub', [
        { table: 'data.ok', publish: true, subscribe: false },
        { table: 'data.sensor_data', publish: true, subscribe: false },
      ]),
      (err) => isTmError(err, 'TM_REPLICATED_TABLE'),
    );
    assert.equal(repl.replicationOf('data.ok'), undefined);
    assert.deepEqual(outbox.publishedTables(), []);
    assert.equal(calls.subs.length, 0);
    await store.close();
  });
});
