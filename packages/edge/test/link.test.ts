import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { Link } from '../src/link.ts';

/** A fake broker that accepts CONNECT with CONNACK 0 and then swallows every byte (no PUBACK ever). */
async function silentBroker(): Promise<{ port: number; sockets: Set<net.Socket>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]))); // CONNACK, accepted
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('Link', () => {
  it('rejects QoS 1 publishes still waiting for a PUBACK when the connection drops (clean session)', async () => {
    const broker = await silentBroker();
    const events: string[] = [];
    const link = new Link(
      {
        url: `mqtt://127.0.0.1:${broker.port}`,
        clientId: 'edge1',
        connectTimeoutMs: 2_000,
        keepaliveSec: 30,
        backoff: { initialMs: 60_000, maxMs: 60_000 }, // no reconnect during the test
      },
      {
        onConnect: () => events.push('connect'),
        onMessage: () => {},
        onDisconnect: (reason) => events.push(`disconnect: ${reason}`),
      },
    );
    try {
      link.start();
      const deadline = Date.now() + 5_000;
      while (!link.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(link.connected, 'connected to the fake broker');
      const pending = link.publish('tm/v1/up/edge1/data.alerts', Buffer.from('batch'));
      const outcome = pending.then(
        () => 'resolved',
        (err: Error) => `rejected: ${err.message}`,
      );
      await new Promise((r) => setTimeout(r, 50));
      for (const socket of broker.sockets) socket.destroy(); // the link dies with the PUBACK outstanding
      const result = await Promise.race([
        outcome,
        new Promise((r) => setTimeout(() => r('still pending after 2 s'), 2_000)),
      ]);
      assert.equal(result, 'rejected: Message removed');
      assert.deepEqual(events, ['connect', 'disconnect: connection closed']);
    } finally {
      await link.stop();
      await broker.close();
    }
  });
});
