/** The fault proxy over loopback: framing, shaping, blackhole without RST, reset, down, PUBLISH drops. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { FaultProxy } from '../src/fault-proxy.ts';
import { MqttFramer, PacketType, pubackPacket, readPublish } from '../src/mqtt-frames.ts';
import { sleep, waitFor } from '../src/wait.ts';

/** An MQTT packet with a remaining length of any size. */
function packet(first: number, body: Buffer): Buffer {
  const len: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
}

function publish(topic: string, payload: string, packetId?: number): Buffer {
  const t = Buffer.from(topic);
  const head = Buffer.alloc(2);
  head.writeUInt16BE(t.length);
  const id = packetId === undefined ? Buffer.alloc(0) : Buffer.from([packetId >> 8, packetId & 0xff]);
  const qos = packetId === undefined ? 0 : 1;
  return packet((PacketType.PUBLISH << 4) | (qos << 1), Buffer.concat([head, t, id, Buffer.from(payload)]));
}

const ping = packet(PacketType.PINGREQ << 4, Buffer.alloc(0));

/** A server that records every packet it receives per connection and can send to the last one. */
async function startServer() {
  const received: Buffer[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const framer = new MqttFramer();
    socket.on('data', (chunk: Buffer) => received.push(...framer.push(chunk)));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    received,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client connected through the proxy that records the packets it receives and how its socket ended. */
async function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  const framer = new MqttFramer();
  const ended: { error?: string; closed: boolean } = { closed: false };
  socket.on('data', (chunk: Buffer) => received.push(...framer.push(chunk)));
  socket.on('error', (err: NodeJS.ErrnoException) => {
    ended.error = err.code ?? err.message;
  });
  socket.on('close', () => {
    ended.closed = true;
  });
  await new Promise<void>((resolve) => {
    socket.once('connect', () => resolve());
    socket.once('close', () => resolve()); // reset before or right after the handshake
  });
  return { socket, received, ended };
}

describe('MqttFramer', () => {
  it('splits a stream into packets however it is chunked, and reads PUBLISH fields', () => {
    const big = publish('tm/v1/up/a/data.kv', 'x'.repeat(300), 513); // two length bytes
    const stream = Buffer.concat([ping, big, publish('t', 'q0'), pubackPacket(9)]);
    for (const size of [1, 2, 3, 7, 100, stream.length]) {
      const framer = new MqttFramer();
      const out: Buffer[] = [];
      for (let at = 0; at < stream.length; at += size)
        out.push(...framer.push(stream.subarray(at, at + size)));
      assert.deepEqual(
        out.map((p) => p.length),
        [2, big.length, publish('t', 'q0').length, 4],
        `chunks of ${size}`,
      );
      assert.equal(framer.buffered, 0);
    }
    assert.deepEqual(readPublish(big), { topic: 'tm/v1/up/a/data.kv', qos: 1, packetId: 513 });
    assert.deepEqual(readPublish(publish('t', 'q0')), { topic: 't', qos: 0 });
    assert.equal(readPublish(ping), undefined);
    assert.deepEqual([...pubackPacket(0x0102)], [0x40, 2, 1, 2]);
  });
});

describe('FaultProxy', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups) await c();
  });
  async function setup() {
    const server = await startServer();
    const proxy = await FaultProxy.start({ target: server.port, seed: 3 });
    cleanups.push(
      () => proxy.close(),
      () => server.close(),
    );
    return { server, proxy };
  }

  it('forwards both ways with latency (and jitter) added per direction, order kept', async () => {
    const { server, proxy } = await setup();
    proxy.setShape({ latencyMs: 120, jitterMs: 30 });
    const client = await connect(proxy.port);
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) client.socket.write(publish('t', `m${i}`));
    await waitFor(() => server.received.length === 5, { timeoutMs: 2_000 });
    const oneWay = Date.now() - t0;
    assert.ok(oneWay >= 115, `one way took ${oneWay} ms`);
    assert.deepEqual(
      server.received.map((p) => p.subarray(-2).toString()),
      ['m0', 'm1', 'm2', 'm3', 'm4'],
    );
    const t1 = Date.now();
    server.sockets[0]!.write(ping);
    await waitFor(() => client.received.length === 1, { timeoutMs: 2_000 });
    assert.ok(Date.now() - t1 >= 115);
  });

  it('caps bandwidth', async () => {
    const { server, proxy } = await setup();
    proxy.setShape({ bandwidthBytesPerSec: 100_000 });
    const client = await connect(proxy.port);
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) client.socket.write(publish('t', 'x'.repeat(5_000)));
    await waitFor(() => server.received.length === 10, { timeoutMs: 3_000 });
    const took = Date.now() - t0;
    assert.ok(took >= 400, `50 KB at 100 KB/s took ${took} ms`);
  });

  it('blackholes without RST: nothing passes, sockets stay open, all of it flows on heal', async () => {
    const { server, proxy } = await setup();
    const client = await connect(proxy.port);
    await waitFor(() => server.sockets.length === 1);
    proxy.blackhole();
    client.socket.write(publish('t', 'during'));
    server.sockets[0]!.write(ping);
    const late = await connect(proxy.port); // a connection made during the blackhole hangs
    late.socket.write(publish('t', 'late'));
    await sleep(300);
    assert.equal(server.received.length, 0);
    assert.equal(client.received.length, 0);
    assert.equal(server.sockets.length, 1, 'the new connection was not forwarded');
    assert.deepEqual(client.ended, { closed: false });
    assert.deepEqual(late.ended, { closed: false });
    proxy.heal();
    await waitFor(() => server.received.length === 2 && client.received.length === 1, { timeoutMs: 2_000 });
    assert.equal(server.sockets.length, 2);
  });

  it('reset sends RST; down refuses new connections until heal', async () => {
    const { server, proxy } = await setup();
    const client = await connect(proxy.port);
    await waitFor(() => server.sockets.length === 1);
    proxy.reset();
    await waitFor(() => client.ended.closed);
    assert.equal(client.ended.error, 'ECONNRESET');
    proxy.down();
    const refused = await connect(proxy.port);
    await waitFor(() => refused.ended.closed);
    assert.equal(server.sockets.length, 1, 'nothing reached the server while down');
    proxy.heal();
    const again = await connect(proxy.port);
    again.socket.write(ping);
    await waitFor(() => server.received.length === 1);
    assert.equal(proxy.stats.resets, 2);
  });

  it('drops PUBLISH on one topic for a while, PUBACKing them for the receiver; other packets pass', async () => {
    const { server, proxy } = await setup();
    const client = await connect(proxy.port);
    await waitFor(() => server.sockets.length === 1);
    const rule = proxy.dropPublishes('toClient', 'tm/v1/receipt/edgeA', 400);
    const hub = server.sockets[0]!;
    hub.write(
      Buffer.concat([publish('tm/v1/receipt/edgeA', 'r1', 7), publish('tm/v1/feed/data.kv', 'f1', 8)]),
    );
    hub.write(publish('tm/v1/receipt/edgeA', 'r2-qos0'));
    await waitFor(() => client.received.length === 1 && server.received.length === 1);
    assert.equal(readPublish(client.received[0]!)?.topic, 'tm/v1/feed/data.kv');
    assert.deepEqual(
      [...server.received[0]!],
      [...pubackPacket(7)],
      'the proxy acknowledged the dropped QoS 1',
    );
    assert.equal(rule.dropped, 2);
    assert.deepEqual(
      { dropped: proxy.stats.publishesDropped, acked: proxy.stats.pubacksInjected },
      { dropped: 2, acked: 1 },
    );
    await sleep(450); // the rule expired
    hub.write(publish('tm/v1/receipt/edgeA', 'r3', 9));
    await waitFor(() => client.received.length === 2);
    assert.equal(readPublish(client.received[1]!)?.packetId, 9);
  });
});
