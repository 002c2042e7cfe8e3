/**
 * I15 isolation, I9 replays and I3 bounded trust, against a real hub (Aedes on a socket, LevelDB) with mqtt.js
 * clients. Every test runs a Bystander — a well-behaved edge publishing and checking receipts — and asserts it
 * kept replicating throughout the attack.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeTransactionBatch, encodeTransactionBatch, topics } from '@tablemesh/core';
import fc from 'fast-check';
import {
  Bystander,
  batchOf,
  closed,
  connectMqtt,
  end,
  publish,
  ReceiptInbox,
  subscribe,
  txOf,
} from './helpers/clients.js';
import { SECRETS, startTestHub, type TestHub } from './helpers/hub.js';
import { waitFor } from './helpers/wait.js';

describe('I15 isolation at the hub', () => {
  let t: TestHub;
  let url: string;
  let bystander: Bystander;
  const bys = () => t.count('data.bys');
  const connect = (node: keyof typeof SECRETS) =>
    connectMqtt({ url, clientId: node, password: SECRETS[node] });

  before(async () => {
    t = await startTestHub();
    url = `mqtt://127.0.0.1:${t.port}`;
  });
  after(async () => {
    await t.stop();
  });
  const withBystander = async (attack: () => Promise<void>) => {
    bystander = await Bystander.start({ url, clientId: 'bystander', password: SECRETS.bystander }, bys);
    await attack();
    await bystander.assertKeptReplicating();
  };
  const metric = async (name: string) => (await t.metrics()).get(name) ?? 0;

  it('I15: a forged origin (envelope or stamps vs identity, envelope table vs topic) is refused, nothing applied', async () => {
    await withBystander(async () => {
      const a = await connect('edgeA');
      const inbox = new ReceiptInbox(a, 'edgeA');
      await subscribe(a, [topics.receipt('edgeA')]);
      const up = topics.up('edgeA', 'data.alerts');
      const forged = [
        // envelope origin ≠ the authenticated node (its stamps follow the envelope)
        batchOf('edgeB', 'data.alerts', 'e1', [txOf('edgeB', 'data.alerts', 'e1', 1, 'x1')]),
        // envelope says edgeA, the transaction is stamped by edgeB
        batchOf('edgeA', 'data.alerts', 'e1', [txOf('edgeB', 'data.alerts', 'e1', 1, 'x2')]),
        // envelope table ≠ topic table (a table edgeA may not publish)
        batchOf('edgeA', 'data.thresholds', 'e1', [txOf('edgeA', 'data.thresholds', 'e1', 1, 'x3')]),
      ];
      const before = await metric('tablemesh_refused_forged_total');
      for (const b of forged) await publish(a, up, encodeTransactionBatch(b));
      // The up handler runs one batch of (node, table) at a time: a valid batch after them is receipted last.
      const valid = batchOf('edgeA', 'data.alerts', 'e1', [txOf('edgeA', 'data.alerts', 'e1', 1, 'ok')]);
      await publish(a, up, encodeTransactionBatch(valid));
      const receipt = await inbox.next((r) => r.epoch === 'e1');
      assert.equal(receipt.errorKind, 'none');
      assert.equal(receipt.appliedThrough, 1);
      assert.equal(inbox.receipts.length, 1, 'forged batches get no receipt');
      assert.equal(await t.count('data.alerts'), 1, 'only the valid transaction was applied');
      assert.equal(await t.count('data.thresholds'), 0);
      assert.equal((await t.hub.store!.get('data.alerts', 'ok'))?.['v'], 1);
      assert.equal(await metric('tablemesh_refused_forged_total'), before + 3);
      assert.ok(a.connected, 'a forged envelope on its own topic does not cost the node its link');
      await end(a);
    });
  });

  it("I15: publishing on another node's topics (up, sync, presence) or hub topics (receipt, catchup, feed) closes the connection and delivers nothing", async () => {
    await withBystander(async () => {
      const b = await connect('edgeB');
      const seenByB: string[] = [];
      b.on('message', (topic) => seenByB.push(topic));
      assert.deepEqual(
        await subscribe(b, [
          topics.receipt('edgeB'),
          topics.catchup('edgeB'),
          topics.feed('data.thresholds'),
        ]),
        [1, 1, 1],
      );
      const batch = encodeTransactionBatch(
        batchOf('edgeB', 'data.alerts', 'e9', [txOf('edgeB', 'data.alerts', 'e9', 1, 'stolen')]),
      );
      const targets = [
        topics.up('edgeB', 'data.alerts'),
        topics.sync('edgeB'),
        topics.presence('edgeB'),
        topics.receipt('edgeB'),
        topics.catchup('edgeB'),
        topics.feed('data.thresholds'),
        '$SYS/hub/new/clients',
        'not/a/tablemesh/topic',
      ];
      for (const topic of targets) {
        const a = await connect('edgeA');
        a.publish(topic, Buffer.from(batch), { qos: 1 });
        await closed(a);
        await end(a);
      }
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(seenByB, [], 'nothing reached edgeB');
      assert.equal(await t.count('data.alerts'), 1, 'only the earlier valid edgeA record');
      assert.equal(await t.hub.store!.get('data.alerts', 'stolen'), undefined);
      assert.ok(b.connected);
      await end(b);
    });
  });

  it('I15: unauthorised, wildcard, $SYS and $share subscriptions get SUBACK 0x80 and the connection stays', async () => {
    await withBystander(async () => {
      const a = await connect('edgeA');
      const seen: string[] = [];
      a.on('message', (topic) => seen.push(topic));
      const refused = [
        topics.feed('data.alerts'), // edgeA publishes alerts but may not subscribe to them
        topics.feed('data.secret'),
        topics.receipt('edgeB'),
        topics.catchup('edgeB'),
        topics.receipt('bystander'),
        topics.up('bystander', 'data.bys'),
        topics.presence('edgeB'),
        '#',
        '+/v1/#',
        'tm/#',
        'tm/v1/#',
        'tm/v1/+/bystander',
        'tm/v1/receipt/+',
        'tm/v1/feed/+',
        '$SYS/#',
        '$SYS/+/clients/connected',
        '$share/g/tm/v1/feed/data.thresholds',
        '$share/g/#',
      ];
      const before = await metric('tablemesh_refused_subscriptions_total');
      const granted = await subscribe(a, refused);
      assert.deepEqual(
        granted,
        refused.map(() => 128),
      );
      assert.ok(a.connected, 'refused subscriptions keep the connection');
      // Own topics and granted feeds still work on the same connection.
      assert.deepEqual(await subscribe(a, [topics.receipt('edgeA'), topics.feed('data.thresholds')]), [1, 1]);
      const put = await t.api('PUT', '/data.thresholds/t1', { max: 30 });
      assert.equal(put.status, 200);
      await waitFor(() => seen.includes(topics.feed('data.thresholds')), 'feed message on the granted feed');
      await new Promise((r) => setTimeout(r, 300)); // the bystander's receipts flow meanwhile
      assert.deepEqual(
        seen.filter((s) => s !== topics.feed('data.thresholds')),
        [],
        'no message from a refused subscription',
      );
      assert.equal(await metric('tablemesh_refused_subscriptions_total'), before + refused.length);
      await end(a);
    });
  });

  it('I9: replayed old envelopes are re-receipted, never re-applied', async () => {
    await withBystander(async () => {
      const a = await connect('edgeA');
      const inbox = new ReceiptInbox(a, 'edgeA');
      await subscribe(a, [topics.receipt('edgeA')]);
      const up = topics.up('edgeA', 'data.alerts');
      const wall = Date.now();
      const first = batchOf('edgeA', 'data.alerts', 'r1', [
        txOf('edgeA', 'data.alerts', 'r1', 1, 'replay', { v: 1 }, wall),
      ]);
      const second = batchOf('edgeA', 'data.alerts', 'r1', [
        txOf('edgeA', 'data.alerts', 'r1', 2, 'replay', { v: 2 }, wall + 1),
      ]);
      await publish(a, up, encodeTransactionBatch(first));
      await publish(a, up, encodeTransactionBatch(second));
      await inbox.next((r) => r.epoch === 'r1' && r.appliedThrough === 2);
      const duplicatesBefore = await metric('tablemesh_duplicates_total');
      for (let i = 0; i < 5; i++) await publish(a, up, encodeTransactionBatch(first));
      await waitFor(
        () => inbox.receipts.filter((r) => r.epoch === 'r1').length === 7,
        'a receipt for every replay',
      );
      for (const r of inbox.receipts.slice(2)) {
        assert.equal(r.errorKind, 'none');
        assert.equal(r.appliedThrough, 2, 'the replay is receipted at the current mark');
      }
      assert.equal((await t.hub.store!.get('data.alerts', 'replay'))?.['v'], 2, 'the replay changed nothing');
      assert.equal(await metric('tablemesh_duplicates_total'), duplicatesBefore + 5);
      await end(a);
    });
  });

  it('I3: a far-future HLC is refused transiently (TM_CLOCK_AHEAD), not applied, and the hub clock does not move', async () => {
    await withBystander(async () => {
      const a = await connect('edgeA');
      const inbox = new ReceiptInbox(a, 'edgeA');
      await subscribe(a, [topics.receipt('edgeA')]);
      const future = Date.now() + 10 * 60_000;
      const batch = batchOf('edgeA', 'data.alerts', 'f1', [
        txOf('edgeA', 'data.alerts', 'f1', 1, 'future', { v: 1 }, future),
      ]);
      await publish(a, topics.up('edgeA', 'data.alerts'), encodeTransactionBatch(batch));
      const receipt = await inbox.next((r) => r.epoch === 'f1');
      assert.equal(receipt.errorKind, 'transient');
      assert.equal(receipt.code, 'TM_CLOCK_AHEAD');
      assert.ok(receipt.retryAfterMs > 0);
      assert.equal(receipt.appliedThrough, 0);
      assert.equal(await t.hub.store!.get('data.alerts', 'future'), undefined);
      assert.ok(t.hub.store!.clock.peek().wall < future - 60_000, 'the hub clock was not advanced');
      // A hub write now is stamped by the hub's own clock, not the forged one.
      await t.api('PUT', '/data.thresholds/after-future', { max: 1 });
      const state = await t.hub.store!.getState('data.thresholds', 'after-future');
      assert.ok(state!.w!.stamp.wall < future - 60_000);
      await end(a);
    });
  });

  it('malformed protobuf envelopes (fast-check, 1000 cases) apply nothing and the hub stays up', async () => {
    await withBystander(async () => {
      const a = await connect('edgeA');
      const inbox = new ReceiptInbox(a, 'edgeA');
      await subscribe(a, [topics.receipt('edgeA')]);
      const up = topics.up('edgeA', 'data.alerts');
      const valid = encodeTransactionBatch(
        batchOf('edgeA', 'data.alerts', 'm1', [txOf('edgeA', 'data.alerts', 'm1', 1, 'fuzz', { v: 1 })]),
      );
      const undecodable = (bytes: Uint8Array) => {
        try {
          decodeTransactionBatch(bytes);
          return false;
        } catch {
          return true;
        }
      };
      const mutated = fc
        .tuple(fc.nat({ max: valid.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.boolean())
        .map(([at, junk, truncate]) => {
          if (truncate) return valid.subarray(0, at);
          const out = Buffer.from(valid);
          out.set(junk.subarray(0, out.length - at), at);
          return out;
        });
      const malformed = fc.oneof(fc.uint8Array({ maxLength: 600 }), mutated).filter(undecodable);
      const alertsBefore = await t.count('data.alerts');
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(malformed, async (bytes) => {
          await publish(a, up, bytes);
          sent++;
        }),
        { numRuns: 1_000 },
      );
      assert.equal(sent, 1_000);
      // Random bytes on its sync topic too.
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), (bytes) =>
          publish(a, topics.sync('edgeA'), bytes),
        ),
        { numRuns: 200 },
      );
      // A valid batch after them (same (node, table) chain) is receipted once all were handled.
      await publish(a, up, valid);
      const receipt = await inbox.next((r) => r.epoch === 'm1', 10_000);
      assert.equal(receipt.appliedThrough, 1);
      assert.equal(await t.count('data.alerts'), alertsBefore + 1, 'only the valid transaction was applied');
      assert.equal((await t.hub.store!.get('data.alerts', 'fuzz'))?.['v'], 1);
      assert.equal((await fetch(`${t.httpUrl}/health`)).status, 200, 'hub up');
      assert.ok(a.connected);
      await end(a);
    });
  });
});
