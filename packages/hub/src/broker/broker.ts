/**
 * The hub's embedded Aedes broker on its listeners (TCP, TLS, WebSocket: listeners.ts). Hooks live one per file
 * beside this one. `connectTimeout` and `drainTimeout` are set so a silent or frozen client cannot hold
 * resources or stall others (SPEC §7); packet size, rate and TLS limits are enforced by the listeners.
 */
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import { SecretVerifier } from '../admin/secrets.js';
import type { Grants } from '../grants.js';
import { type AuthRefusal, authenticatedGeneration, makeAuthenticate } from './authenticate.js';
import { makeAuthorizePublish } from './authorize-publish.js';
import { makeAuthorizeSubscribe } from './authorize-subscribe.js';
import { type ConnInfo, type ListenerStats, type ListenersOptions, startListeners } from './listeners.js';

/** Broker settings. */
export interface BrokerOptions {
  readonly host: string;
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly grants: Grants;
  /** TLS, WebSocket, packet limit and rate limit (listeners.ts); defaults: TCP only, 512 KiB, no rate limit */
  readonly listeners?: Partial<
    Pick<ListenersOptions, 'tls' | 'ws' | 'maxPacketBytes' | 'connectionRate' | 'log' | 'now'>
  >;
  /** true: nodes without a secret connect by client id alone (authenticate.ts) */
  readonly allowNoSecret?: boolean;
  /** credential generation per node (admin/enrolment.ts); default: never changes */
  generation?(node: string): number;
  onAuthRefused?(node: string, reason: AuthRefusal, info: ConnInfo | undefined): void;
  /** a client published on one of its own topics (already authorised) */
  onPublished(client: Client, topic: string, payload: Buffer): void;
  onClientConnected?(node: string): void;
  onClientDisconnected?(node: string): void;
  onSubscribeRefused?(node: string, topic: string): void;
}

/** A running broker. */
export interface Broker {
  readonly aedes: Aedes;
  /** the TCP listener's port */
  readonly port: number;
  readonly ports: { readonly tcp: number; readonly tls?: number; readonly ws?: number };
  /** refused and failed connections (listeners.ts) */
  readonly stats: ListenerStats;
  /** secret checks (scrypt runs) */
  readonly verifier: SecretVerifier;
  /** True while the node is connected. */
  isConnected(node: string): boolean;
  /** Publishes a protocol message with QoS 1 to subscribers of `topic`. */
  publish(topic: string, payload: Uint8Array): Promise<void>;
  /** Disconnects a node now (revocation). */
  disconnect(node: string): void;
  close(): Promise<void>;
}

/** Starts the broker and its listeners. */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const generation = options.generation ?? (() => 0);
  const verifier = new SecretVerifier();
  // The listeners are created after Aedes (they hand it connections); the hook reads them through this.
  let connInfo: (conn: unknown) => ConnInfo | undefined = () => undefined;
  const aedes = await Aedes.createBroker({
    connectTimeout: options.connectTimeoutMs,
    drainTimeout: options.drainTimeoutMs,
    heartbeatInterval: 60_000,
    authenticate: makeAuthenticate({
      grants: options.grants,
      verifier,
      generation,
      connInfo: (conn) => connInfo(conn),
      allowNoSecret: options.allowNoSecret ?? false,
      ...(options.onAuthRefused ? { onRefused: options.onAuthRefused } : {}),
    }),
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
    // Rotated, revoked or removed while authenticating: the credentials it proved are no longer valid.
    if (!options.grants.has(client.id) || authenticatedGeneration(client) !== generation(client.id)) {
      client.close();
      return;
    }
    clients.set(client.id, client);
    options.onClientConnected?.(client.id);
  });
  aedes.on('clientDisconnect', (client) => {
    if (clients.get(client.id) !== client) return;
    clients.delete(client.id);
    options.onClientDisconnected?.(client.id);
  });
  const l = options.listeners ?? {};
  let listeners: Awaited<ReturnType<typeof startListeners>>;
  try {
    listeners = await startListeners(aedes, {
      host: options.host,
      port: options.port,
      tls: l.tls,
      ws: l.ws,
      maxPacketBytes: l.maxPacketBytes ?? 512 * 1024,
      connectTimeoutMs: options.connectTimeoutMs,
      connectionRate: l.connectionRate ?? { perSecond: 0, burst: 0 },
      ...(l.log ? { log: l.log } : {}),
      ...(l.now ? { now: l.now } : {}),
    });
  } catch (err) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw err;
  }
  connInfo = listeners.connInfo;

  return {
    aedes,
    port: listeners.ports.tcp,
    ports: listeners.ports,
    stats: listeners.stats,
    verifier,
    isConnected: (node) => clients.has(node),
    publish: (topic, payload) =>
      new Promise((resolve, reject) => {
        aedes.publish(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false },
          (err?: Error | null) => (err ? reject(err) : resolve()),
        );
      }),
    disconnect: (node) => clients.get(node)?.close(),
    close: async () => {
      await listeners.close();
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
