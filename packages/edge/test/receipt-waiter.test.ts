import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTmError, MemoryKv, Outbox, Store, type Transaction } from '@tablemesh/core';
import { ReceiptWaiter } from '../src/receipt-waiter.js';

async function setup(onFull: 'reject' | 'drop-oldest' = 'reject', quotaBytes = 1 << 20) {
  const store = await Store.open({ kv: new MemoryKv(), nodeId: 'edge1', sync: false });
  await store.createTable({ name: 'alerts' });
  await store.createTable({ name: 'local' });
  const outbox = await Outbox.open(store, { tables: [{ table: 'data.alerts', onFull, quotaBytes }] });
  const waiter = new ReceiptWaiter(outbox);
  const write = async (key: string): Promise<Transaction> => {
    const [txn] = await store.writeLocal([
      { table: 'alerts', ops: [{ kind: 'put', key, attrs: { v: key } }] },
    ]);
    return txn!;
  };
  /** what the publisher does with a receipt: outbox first, then the waiter */
  const receipt = async (epoch: string, through: number, errors: { seq: number; code: string }[] = []) => {
    const errs = errors.map((e) => ({ ...e, message: `refused ${e.seq}` }));
    await outbox.onReceipt('data.alerts', epoch, through, errs);
    waiter.onReceipt('data.alerts', epoch, through, errs);
  };
  return { store, outbox, waiter, write, receipt };
}

describe('ReceiptWaiter (confirm=hub)', () => {
  it('resolves applied when a receipt covers the seq, even one that came before the wait', async () => {
    const { waiter, write, receipt } = await setup();
    const t1 = await write('a');
    const t2 = await write('b');
    await receipt(t1.stamp.epoch, 1); // before anyone waits for t1
    const waiting = waiter.wait([t1, t2], 5_000);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(waiter.waiting, 1, 't2 waits');
    await receipt(t1.stamp.epoch, 2);
    const outcomes = await waiting;
    assert.deepEqual(
      outcomes.map((o) => [o.seq, o.state]),
      [
        [1, 'applied'],
        [2, 'applied'],
      ],
    );
    assert.equal(waiter.waiting, 0);
  });

  it('answers pending after the timeout and forgets the waiter; the status URL says pending', async () => {
    const { waiter, write } = await setup();
    const t1 = await write('a');
    const started = Date.now();
    const [outcome] = await waiter.wait([t1], 30);
    assert.ok(Date.now() - started >= 25);
    assert.deepEqual(outcome, { table: 'data.alerts', epoch: t1.stamp.epoch, seq: 1, state: 'pending' });
    assert.equal(waiter.waiting, 0);
    assert.deepEqual(await waiter.status('data.alerts', t1.stamp.epoch, 1), {
      table: 'data.alerts',
      epoch: t1.stamp.epoch,
      seq: 1,
      state: 'pending',
      currentEpoch: t1.stamp.epoch,
      receiptedThrough: 0,
    });
  });

  it('a poison refusal is quarantined, not applied (I11); the status URL reads the durable quarantine', async () => {
    const { waiter, write, receipt } = await setup();
    const t1 = await write('a');
    const t2 = await write('b');
    const waiting = waiter.wait([t1, t2], 5_000);
    await receipt(t1.stamp.epoch, 2, [{ seq: 2, code: 'TM_BELOW_GC_HORIZON' }]);
    const outcomes = await waiting;
    assert.deepEqual(outcomes[1], {
      table: 'data.alerts',
      epoch: t1.stamp.epoch,
      seq: 2,
      state: 'quarantined',
      code: 'TM_BELOW_GC_HORIZON',
      message: 'refused 2',
    });
    assert.equal(outcomes[0]!.state, 'applied');
    const status = await waiter.status('data.alerts', t1.stamp.epoch, 2);
    assert.equal(status.state, 'quarantined');
    assert.equal(status.code, 'TM_BELOW_GC_HORIZON');
    assert.equal((await waiter.status('data.alerts', t1.stamp.epoch, 1)).state, 'applied');
  });

  it('a transient refusal keeps waiting (the outbox holds, nothing is lost)', async () => {
    const { waiter, write, receipt } = await setup();
    const t1 = await write('a');
    const waiting = waiter.wait([t1], 60);
    await receipt(t1.stamp.epoch, 0, [{ seq: 1, code: 'TM_NOT_GRANTED' }]);
    assert.equal((await waiting)[0]!.state, 'pending');
  });

  it('a transaction dropped by drop-oldest resolves skipped, never applied', async () => {
    const { store, waiter, write, receipt, outbox } = await setup('drop-oldest', 400);
    const t1 = await write('a');
    const waiting = waiter.wait([t1], 5_000);
    for (let i = 0; i < 6; i++) await write(`more${i}`);
    const stats = await outbox.stats('data.alerts');
    assert.ok(stats.skipped['drop-oldest'] >= 1, 'the quota dropped something');
    const [outcome] = await waiting;
    assert.equal(outcome!.state, 'skipped');
    assert.equal(outcome!.code, 'drop-oldest');
    // the hub later consumes the SKIP range: still skipped, not applied
    await receipt(t1.stamp.epoch, stats.nextSeq - 1);
    assert.equal((await waiter.wait([t1], 10))[0]!.state, 'skipped');
    assert.equal((await waiter.status('data.alerts', t1.stamp.epoch, 1)).state, 'skipped');
    await store.close();
  });

  it('only published tables can be confirmed; a rotated epoch is superseded; unknown seqs are 404', async () => {
    const { waiter, write, outbox } = await setup();
    assert.throws(
      () => waiter.assertConfirmable('data.local'),
      (err) => isTmError(err, 'TM_INVALID_ARGUMENT') && /not published/.test(err.message),
    );
    waiter.assertConfirmable('data.alerts');
    const t1 = await write('a');
    await outbox.rotateEpoch('data.alerts');
    assert.equal((await waiter.status('data.alerts', t1.stamp.epoch, 1)).state, 'superseded');
    const current = (await outbox.stats('data.alerts')).epoch;
    await assert.rejects(waiter.status('data.alerts', current, 99), (err) => isTmError(err, 'TM_NOT_FOUND'));
    await assert.rejects(waiter.status('data.local', current, 1), (err) => isTmError(err, 'TM_NOT_FOUND'));
  });

  it('seqs receipted before it started are reported as receipted (not known to be applied)', async () => {
    const { store, outbox, write } = await setup();
    const t1 = await write('a');
    await outbox.onReceipt('data.alerts', t1.stamp.epoch, 1, []);
    const fresh = new ReceiptWaiter(outbox); // a restarted edge
    assert.equal((await fresh.status('data.alerts', t1.stamp.epoch, 1)).state, 'receipted');
    await store.close();
  });
});
