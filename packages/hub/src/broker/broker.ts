/**
 * The hub's embedded Aedes broker on a TCP listener. Hooks live one per file beside this one.
 * Every socket gets TCP_NODELAY; `connectTimeout` and `drainTimeout` are set so a silent or frozen client
 * cannot hold resources or stall others (SPEC §7).
 */
import net from 'node:net';
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import type { Grants } from '../grants.js';
import { makeAuthenticate } from './authenticate.js';
import { makeAuthorizePublish } from './authorize-publish.js';
import { makeAuthorizeSubscribe } from './authorize-subscribe.js';

/** Broker settings. */
export interface BrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly grants: Grants;
  /** a client published on one of its own topics (already authorised) */
  onPublished(client: Client, topic: string, payload: Buffer): void;
  onClientConnected?(node: string): void;
  onClientDisconnected?(node: string): void;
  onSubscribeRefused?(node: string, topic: string): void;
}

/** A running broker. */
export interface Broker {
  readonly aedes: Aedes;
  readonly port: number;
  /** Publishes a protocol message with QoS 1 to subscribers of `topic`. */
  publish(topic: string, payload: Uint8Array): Promise<void>;
  /** Disconnects a node now (revocation). */
  disconnect(node: string): void;
  close(): Promise<void>;
}

/** Starts the broker and its TCP listener. */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const aedes = await Aedes.createBroker({
    connectTimeout: options.connectTimeoutMs,
    drainTimeout: options.drainTimeoutMs,
    heartbeatInterval: 60_000,
    authenticate: makeAuthenticate(options.grants),
    authorizePublish: makeAuthorizePublish(),
    authorizeSubscribe: makeAuthorizeSubscribe(options.grants, options.onSubscribeRefused),
    // The published hook runs after PUBACK was sent: it proves nothing about storage (receipts do, I7).
    published: (packet: AedesPublishPacket, client: Client, callback: (error?: Error | null) => void) => {
      if (client && !packet.topic.startsWith('$SYS')) {
        options.onPublished(client, packet.topic, Buffer.from(packet.payload as Buffer));
      }
      callback(null);
    },
  });
  const clients = new Map<string, Client>();
  aedes.on('client', (client) => {
    clients.set(client.id, client);
    options.onClientConnected?.(client.id);
  });
  aedes.on('clientDisconnect', (client) => {
    if (clients.get(client.id) === client) clients.delete(client.id);
    options.onClientDisconnected?.(client.id);
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;

  return {
    aedes,
    port,
    publish: (topic, payload) =>
      new Promise((resolve, reject) => {
        aedes.publish(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false },
          (err?: Error | null) => (err ? reject(err) : resolve()),
        );
      }),
    disconnect: (node) => clients.get(node)?.close(),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy(); // server.close waits for open connections
      await closed;
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
