/**
 * Listener hardening (SPEC §7): packet-size guard before Aedes buffers, random bytes, slowloris CONNECT,
 * connection rate limit per source address, drain timeout for a frozen subscriber. Raw MQTT bytes over `net`
 * where mqtt.js would refuse to send them. A Bystander keeps replicating throughout every attack.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeTransactionBatch, topics } from '@tablemesh/core';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import {
  Bystander,
  batchOf,
  closed,
  connectMqtt,
  end,
  RawClient,
  subscribe,
  txOf,
} from './helpers/clients.js';
import { SECRETS, startTestHub, type TestHub } from './helpers/hub.js';
import { waitFor } from './helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** MQTT remaining-length varint. */
function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

describe('listener hardening', () => {
  let t: TestHub;
  const bys = () => t.count('data.bys');
  const startBystander = () =>
    Bystander.start(
      { url: `mqtt://127.0.0.1:${t.port}`, clientId: 'bystander', password: SECRETS.bystander },
      bys,
    );
  const metrics = () => t.metrics();
  const refused = async (reason: string) =>
    (await metrics()).get(`tablemesh_mqtt_connections_refused_total{reason="${reason}"}`) ?? 0;

  before(async () => {
    t = await startTestHub({
      connectTimeoutMs: 1_000,
      drainTimeoutMs: 500,
      mqtt: { connectionRate: { perSecond: 0 } }, // the rate limit has its own hub below
    });
  });
  after(async () => {
    await t.stop();
  });

  it('a 1 MiB packet (limit 512 KiB) ends the connection before Aedes buffers it; nothing applied', async () => {
    const b = await startBystander();
    const a = await connectMqtt({
      url: `mqtt://127.0.0.1:${t.port}`,
      clientId: 'edgeA',
      password: SECRETS.edgeA,
    });
    const before = await refused('packet_too_large');
    const alerts = await t.count('data.alerts');
    const big = batchOf('edgeA', 'data.alerts', 'big', [
      txOf('edgeA', 'data.alerts', 'big', 1, 'big', { blob: 'x'.repeat(MiB) }),
    ]);
    a.publish(topics.up('edgeA', 'data.alerts'), Buffer.from(encodeTransactionBatch(big)), { qos: 1 });
    await closed(a);
    await end(a);
    assert.equal(await refused('packet_too_large'), before + 1);
    assert.ok((await metrics()).get('tablemesh_mqtt_refused_bytes_read_max')! <= 64 * KiB);
    assert.equal(await t.count('data.alerts'), alerts);
    await b.assertKeptReplicating();
  });

  it('a declared 200 MiB remaining length is refused after at most 64 KiB read, before and after CONNECT', async () => {
    const b = await startBystander();
    for (const authenticated of [true, false]) {
      const raw = await RawClient.open(t.port);
      if (authenticated) assert.equal(await raw.connect('edgeA', SECRETS.edgeA), 0);
      const before = await refused('packet_too_large');
      // PUBLISH (or CONNECT) QoS 0 declaring 200 MiB, then stream its "body" as fast as the socket takes it.
      const header = Buffer.from([authenticated ? 0x30 : 0x10, ...remainingLength(200 * MiB)]);
      const chunk = Buffer.alloc(16 * KiB, 0x41);
      await raw.write(header);
      let sent = header.length;
      while (raw.open && sent < 8 * MiB) {
        if (!(await raw.write(chunk))) break;
        sent += chunk.length;
      }
      await raw.waitClosed();
      const m = await metrics();
      assert.equal(await refused('packet_too_large'), before + 1);
      const readMax = m.get('tablemesh_mqtt_refused_bytes_read_max')!;
      assert.ok(
        readMax > 0 && readMax <= 64 * KiB,
        `the hub read ${readMax} bytes of the packet before closing`,
      );
    }
    await b.assertKeptReplicating();
  });

  it('random bytes after CONNECT (fast-check) never crash the hub nor apply anything', async () => {
    const b = await startBystander();
    const alerts = await t.count('data.alerts');
    const connect = mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      clientId: 'edgeA',
      username: 'edgeA',
      password: Buffer.from(SECRETS.edgeA),
    });
    let closedByHub = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 4 * KiB }),
        fc.boolean(),
        async (junk, after) => {
          const raw = await RawClient.open(t.port);
          if (after) await raw.write(connect);
          await raw.write(junk);
          await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 30))]);
          if (!raw.open) closedByHub++;
          raw.destroy();
        },
      ),
      { numRuns: 150 },
    );
    assert.ok(closedByHub > 100, `the hub closed ${closedByHub} of 150 garbage connections`);
    assert.equal(await t.count('data.alerts'), alerts);
    assert.equal((await fetch(`${t.httpUrl}/health`)).status, 200);
    await b.assertKeptReplicating();
  });

  it('slowloris: a CONNECT dribbled one byte at a time is dropped at connectTimeoutMs', async () => {
    const b = await startBystander();
    const connect = mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      clientId: 'edgeA',
      username: 'edgeA',
      password: Buffer.from(SECRETS.edgeA),
    });
    const started = Date.now();
    const clients = await Promise.all(Array.from({ length: 20 }, () => RawClient.open(t.port)));
    const dribble = clients.map(async (raw) => {
      for (const byte of connect) {
        if (!(await raw.write(Buffer.from([byte])))) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    await Promise.all(clients.map((raw) => raw.waitClosed(3_000)));
    const took = Date.now() - started;
    await Promise.all(dribble);
    assert.ok(took >= 900 && took < 2_500, `dropped after ${took} ms (connectTimeoutMs 1000)`);
    for (const raw of clients) {
      assert.ok(raw.bytesWritten < connect.length, 'dropped before the CONNECT was complete');
      assert.equal(raw.packets.length, 0, 'never got a CONNACK');
    }
    await b.assertKeptReplicating();
  });

  it('drainTimeout: a frozen subscriber is dropped, the others keep receiving the feed', async () => {
    const b = await startBystander();
    const frozen = await RawClient.open(t.port);
    assert.equal(await frozen.connect('edgeA', SECRETS.edgeA), 0);
    await frozen.send({
      cmd: 'subscribe',
      messageId: 1,
      subscriptions: [{ topic: topics.feed('data.thresholds'), qos: 1 }],
    });
    await frozen.next((p) => p.cmd === 'suback');
    frozen.socket.pause(); // never reads again: the hub's socket buffer fills up
    const connectedAtStart = await t.api('GET', '/_admin/nodes/edgeA');
    assert.equal((connectedAtStart.body as { node: { connected: boolean } }).node.connected, true);
    const live = await connectMqtt({
      url: `mqtt://127.0.0.1:${t.port}`,
      clientId: 'edgeB',
      password: SECRETS.edgeB,
    });
    let received = 0;
    live.on('message', () => received++);
    assert.deepEqual(await subscribe(live, [topics.feed('data.thresholds')]), [1]);
    const writes = 200; // 20 MiB: more than the loopback socket buffers hold
    for (let i = 0; i < writes; i++) {
      const res = await t.api('PUT', `/data.thresholds/big-${i}`, { blob: 'y'.repeat(100 * KiB) });
      assert.equal(res.status, 200);
    }
    // The hub ends the frozen connection (its FIN waits behind the unread bytes, so look from the hub's side).
    const connected = async () =>
      ((await t.api('GET', '/_admin/nodes/edgeA')).body as { node: { connected: boolean } }).node.connected;
    await waitFor(async () => !(await connected()), 'the hub dropping the frozen subscriber', 5_000);
    frozen.destroy();
    await waitFor(() => received >= writes, `edgeB received ${received} of ${writes} feed batches`, 10_000);
    await end(live);
    await b.assertKeptReplicating();
  });
});

describe('connection rate limit per source address', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({ mqtt: { connectionRate: { perSecond: 1, burst: 5 } } });
  });
  after(async () => {
    await t.stop();
  });

  it('a flood from one address is closed at accept; other addresses and the bystander are unaffected', async () => {
    const b = await Bystander.start(
      { url: `mqtt://127.0.0.1:${t.port}`, clientId: 'bystander', password: SECRETS.bystander },
      () => t.count('data.bys'),
    );
    const flood = await Promise.all(
      Array.from({ length: 30 }, () => RawClient.open(t.port, undefined, '127.0.0.2').catch(() => undefined)),
    );
    await new Promise((r) => setTimeout(r, 200));
    const open = flood.filter((c) => c?.open).length;
    assert.ok(open <= 6, `${open} of 30 flood connections are open (burst 5)`);
    const m = await t.metrics();
    assert.ok(m.get('tablemesh_mqtt_connections_refused_total{reason="rate_limited"}')! >= 24);
    for (const c of flood) c?.destroy();
    // Another address is not affected, and the flooding address gets tokens back at perSecond.
    const other = await RawClient.open(t.port, undefined, '127.0.0.3');
    assert.equal(await other.connect('edgeA', SECRETS.edgeA), 0);
    other.destroy();
    await new Promise((r) => setTimeout(r, 1_100));
    const later = await RawClient.open(t.port, undefined, '127.0.0.2');
    assert.equal(await later.connect('edgeB', SECRETS.edgeB), 0);
    later.destroy();
    await b.assertKeptReplicating();
  });
});
