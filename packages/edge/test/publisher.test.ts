/**
 * Publisher on a link that refuses sends (SPEC §5 "Edge → hub"; I7, I8): a failed send is resent later, not at
 * once. The drain loop's awaits resolve from memory (the outbox keeps recent entries), so a send that failed and
 * reset the table used to be sent again in the same turn, forever: the edge stopped answering anything.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryKv, Outbox, Store } from '@tablemesh/core';
import { Publisher } from '../src/publisher.js';

const LIMITS = { windowBatches: 4, batchMaxTxs: 1, batchMaxBytes: 64 * 1024, receiptTimeoutMs: 60_000 };
/** A guard, far above what a correct publisher sends here: a spinning one is stopped there, and the test fails. */
const RUNAWAY = 200;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function setup(options: { connected?: () => boolean; sendRetryMs?: number } = {}) {
  const store = await Store.open({ kv: new MemoryKv(), nodeId: 'edge1', sync: false });
  await store.createTable({ name: 'alerts' });
  const outbox = await Outbox.open(store, { tables: [{ table: 'data.alerts' }] });
  for (let i = 0; i < 10; i++) {
    await store.writeLocal([{ table: 'alerts', ops: [{ kind: 'put', key: `k${i}`, attrs: { i } }] }]);
  }
  const sent: string[] = [];
  const warnings: string[] = [];
  let publisher: Publisher | undefined;
  publisher = new Publisher({
    nodeId: 'edge1',
    outbox,
    limits: LIMITS,
    now: Date.now,
    primaryKeyOf: () => 'id',
    send: (topic) => {
      sent.push(topic);
      if (sent.length >= RUNAWAY) publisher?.stop();
      return Promise.reject(new Error('not connected'));
    },
    ...(options.connected ? { connected: options.connected } : {}),
    sendRetryMs: options.sendRetryMs ?? 60_000,
    log: { warn: (_obj, msg) => warnings.push(msg), info: () => {} },
  });
  return { store, outbox, publisher, sent, warnings };
}

describe('Publisher: sends that fail', () => {
  it('a refused send is not resent in the same burst: at most one window, then nothing until the retry', async () => {
    const { publisher, sent, warnings, outbox } = await setup();
    publisher.start();
    for (let i = 0; i < 20; i++) await turn();
    assert.ok(sent.length < RUNAWAY, `the publisher kept resending: ${sent.length} sends`);
    assert.ok(sent.length >= 1 && sent.length <= LIMITS.windowBatches, `${sent.length} sends`);
    assert.equal(warnings.length, sent.length, 'each failed send is logged once');
    assert.ok(warnings.every((w) => w === 'publisher: batch not sent'));
    // Nothing was lost: the outbox resends from the last receipt (go-back-N, I8).
    const stats = await outbox.stats('data.alerts');
    assert.equal(stats.backlogCount, 10);
    assert.equal(publisher.inFlightCount, 0);
    // notify() (a new local write) does not resend before the retry either.
    publisher.notify();
    for (let i = 0; i < 5; i++) await turn();
    assert.ok(sent.length <= LIMITS.windowBatches, `${sent.length} sends after notify`);
    publisher.stop();
  });

  it('tries again after sendRetryMs, and stop() cancels the retry', async () => {
    const { publisher, sent } = await setup({ sendRetryMs: 20 });
    publisher.start();
    for (let i = 0; i < 5; i++) await turn();
    const first = sent.length;
    assert.ok(first >= 1 && first <= LIMITS.windowBatches, `${first} sends`);
    for (let i = 0; i < 100 && sent.length === first; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(sent.length > first, 'sent again after the retry delay');
    assert.ok(sent.length < RUNAWAY, `the publisher kept resending: ${sent.length} sends`);
    publisher.stop();
    const stopped = sent.length;
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(sent.length, stopped, 'stop() cancels the retry');
  });

  it('started on a link that is down (a welcome handled after the drop), it sends nothing', async () => {
    let up = false;
    const { publisher, sent, outbox } = await setup({ connected: () => up });
    publisher.start();
    publisher.notify();
    for (let i = 0; i < 10; i++) await turn();
    assert.equal(sent.length, 0);
    assert.equal((await outbox.stats('data.alerts')).backlogCount, 10);
    // The next welcome (link up again) sends from the last receipt.
    up = true;
    publisher.start();
    for (let i = 0; i < 10; i++) await turn();
    assert.ok(sent.length >= 1 && sent.length <= LIMITS.windowBatches, `${sent.length} sends`);
    publisher.stop();
  });
});
