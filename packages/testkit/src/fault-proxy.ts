/**
 * A userspace TCP fault proxy between an edge and the hub's MQTT port (this kernel has no netem). It forwards
 * whole MQTT packets and can, per proxy:
 * - shape the link: latency, jitter, bandwidth cap (both directions, order kept);
 * - blackhole it: connections stay open and nothing passes either way, no RST — bytes wait in the proxy and the
 *   sockets' buffers like unacknowledged TCP segments, and flow again on heal unless a peer gave up first;
 *   connections made meanwhile hang (not forwarded) until heal;
 * - reset every connection (RST), or go down (reset, and reset every new connection until heal);
 * - drop PUBLISH packets on matching topics for a while (receipt loss cannot be made by dropping TCP bytes: TCP
 *   retransmits). A dropped QoS 1 PUBLISH is answered with a PUBACK on the receiver's behalf so the sender's
 *   session stays clean; the receiver simply never sees it.
 */
import net from 'node:net';
import { MqttFramer, pubackPacket, readPublish } from './mqtt-frames.js';
import { Random } from './random.js';

/** Link shape: delays in ms, bandwidth in bytes per second (0 = unlimited). */
export interface LinkShape {
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  readonly bandwidthBytesPerSec?: number;
}

/** What the proxy does now. */
export type ProxyMode = 'up' | 'blackhole' | 'down';

/** Which way a packet travels: client (edge) → server (hub), or back. */
export type Direction = 'toServer' | 'toClient';

/** A rule dropping PUBLISH packets; `stop()` ends it. */
export interface DropRule {
  readonly direction: Direction;
  readonly match: (topic: string) => boolean;
  /** publishes dropped so far by this rule */
  readonly dropped: number;
  stop(): void;
}

/** Counters of one proxy. */
export interface ProxyStats {
  accepted: number;
  resets: number;
  bytesToServer: number;
  bytesToClient: number;
  publishesDropped: number;
  pubacksInjected: number;
}

/** Options of a proxy. */
export interface FaultProxyOptions {
  /** the port to forward to on `targetHost` (a function: read at each new connection) */
  readonly target: number | (() => number);
  readonly targetHost?: string;
  /** seed of the jitter */
  readonly seed?: number;
  /** frame MQTT packets (default true); false forwards raw chunks (no drop rules) */
  readonly mqtt?: boolean;
  readonly shape?: LinkShape;
}

interface Queued {
  readonly bytes: Buffer;
  readonly due: number;
}

/** One direction of one connection: frames, applies drop rules, delays, delivers in order. */
class Pipe {
  private readonly framer = new MqttFramer();
  private readonly queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastDue = 0;
  private lastTxEnd = 0;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly conn: Connection,
    readonly direction: Direction,
    private readonly dest: () => net.Socket | undefined,
  ) {}

  receive(chunk: Buffer): void {
    const packets = this.proxy.framing ? this.framer.push(chunk) : [chunk];
    for (const packet of packets) {
      if (this.proxy.framing && this.drop(packet)) continue;
      this.enqueue(packet);
    }
  }

  private drop(packet: Buffer): boolean {
    const info = readPublish(packet);
    if (!info) return false;
    const rule = this.proxy.ruleFor(this.direction, info.topic);
    if (!rule) return false;
    this.proxy.stats.publishesDropped++;
    if (info.packetId !== undefined && info.qos === 1) {
      // Answer for the receiver so the sender does not wait for (or resend) it on this connection.
      this.conn
        .pipe(this.direction === 'toClient' ? 'toServer' : 'toClient')
        .enqueue(pubackPacket(info.packetId));
      this.proxy.stats.pubacksInjected++;
    }
    return true;
  }

  /** Queues bytes for delivery after the link's delay (order is kept). */
  enqueue(bytes: Buffer): void {
    const shape = this.proxy.shape;
    const now = Date.now();
    const bw = shape.bandwidthBytesPerSec ?? 0;
    const txEnd = bw > 0 ? Math.max(now, this.lastTxEnd) + (bytes.length * 1000) / bw : now;
    this.lastTxEnd = txEnd;
    const jitter = (shape.jitterMs ?? 0) > 0 ? this.proxy.random.next() * shape.jitterMs! : 0;
    const due = Math.max(this.lastDue, txEnd + (shape.latencyMs ?? 0) + jitter);
    this.lastDue = due;
    this.queue.push({ bytes, due });
    this.schedule();
  }

  /** Delivers what is due, unless the link is blackholed; re-arms the timer for the rest. */
  schedule(): void {
    if (this.timer || this.proxy.mode !== 'up') return;
    const dest = this.dest();
    if (!dest) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const { bytes } = this.queue.shift()!;
      if (this.direction === 'toServer') this.proxy.stats.bytesToServer += bytes.length;
      else this.proxy.stats.bytesToClient += bytes.length;
      if (!dest.destroyed) dest.write(bytes);
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.schedule();
        },
        Math.max(1, this.queue[0]!.due - now),
      );
    }
  }

  /** Stops delivering (the queue is kept). */
  hold(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** One proxied connection: the client (edge) side, the upstream (hub) side, a pipe each way. */
class Connection {
  upstream: net.Socket | undefined;
  private readonly pipes: Record<Direction, Pipe>;
  closed = false;

  constructor(
    private readonly proxy: FaultProxy,
    readonly client: net.Socket,
  ) {
    this.pipes = {
      toServer: new Pipe(proxy, this, 'toServer', () => this.upstream),
      toClient: new Pipe(proxy, this, 'toClient', () => this.client),
    };
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.pipes.toServer.receive(chunk));
    client.on('error', () => this.close());
    client.on('close', () => this.close());
    if (proxy.mode === 'up') this.connectUpstream();
    else client.pause(); // blackhole: the connection hangs until heal
  }

  pipe(direction: Direction): Pipe {
    return this.pipes[direction];
  }

  connectUpstream(): void {
    if (this.upstream || this.closed) return;
    const upstream = net.connect(this.proxy.targetPort(), this.proxy.targetHost);
    upstream.setNoDelay(true);
    this.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => this.pipes.toClient.receive(chunk));
    upstream.on('error', () => this.close());
    upstream.on('close', () => this.close());
    upstream.on('connect', () => this.pipes.toServer.schedule());
  }

  /** Blackhole: stop reading both sides and stop delivering. */
  hold(): void {
    this.client.pause();
    this.upstream?.pause();
    this.pipes.toServer.hold();
    this.pipes.toClient.hold();
  }

  /** Heal: read and deliver again (connecting upstream if the connection was made during a blackhole). */
  release(): void {
    this.connectUpstream();
    this.client.resume();
    this.upstream?.resume();
    this.pipes.toServer.schedule();
    this.pipes.toClient.schedule();
  }

  /** RST towards the client, plain close towards the hub (it sees the connection drop). */
  reset(): void {
    this.proxy.stats.resets++;
    this.client.resetAndDestroy();
    this.upstream?.destroy();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pipes.toServer.hold();
    this.pipes.toClient.hold();
    this.client.destroy();
    this.upstream?.destroy();
    this.proxy.forget(this);
  }
}

/** A running fault proxy on 127.0.0.1. */
export class FaultProxy {
  readonly stats: ProxyStats = {
    accepted: 0,
    resets: 0,
    bytesToServer: 0,
    bytesToClient: 0,
    publishesDropped: 0,
    pubacksInjected: 0,
  };
  readonly random: Random;
  readonly framing: boolean;
  readonly targetHost: string;
  shape: LinkShape;
  private current: ProxyMode = 'up';
  private readonly conns = new Set<Connection>();
  private readonly rules = new Set<DropRule & { count(): void }>();
  private server: net.Server | undefined;
  private listenPort = 0;

  private constructor(private readonly options: FaultProxyOptions) {
    this.random = new Random(options.seed ?? 1);
    this.framing = options.mqtt ?? true;
    this.targetHost = options.targetHost ?? '127.0.0.1';
    this.shape = options.shape ?? {};
  }

  /** Starts a proxy listening on 127.0.0.1, port 0. */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await proxy.listen();
    return proxy;
  }

  private async listen(): Promise<void> {
    const server = net.createServer((client) => {
      this.stats.accepted++;
      if (this.current === 'down') {
        this.stats.resets++;
        client.on('error', () => {});
        client.resetAndDestroy();
        return;
      }
      this.conns.add(new Connection(this, client));
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.listenPort = (server.address() as net.AddressInfo).port;
  }

  /** The port edges connect to. */
  get port(): number {
    return this.listenPort;
  }

  /** `mqtt://127.0.0.1:PORT`: the hub URL to give an edge. */
  get url(): string {
    return `mqtt://127.0.0.1:${this.listenPort}`;
  }

  /** @internal */
  targetPort(): number {
    return typeof this.options.target === 'function' ? this.options.target() : this.options.target;
  }

  get mode(): ProxyMode {
    return this.current;
  }

  /** Open connections now. */
  get connections(): number {
    return this.conns.size;
  }

  /** Changes latency, jitter, bandwidth (applies to bytes queued from now on). */
  setShape(shape: LinkShape): void {
    this.shape = shape;
  }

  /** Nothing passes either way; connections stay open (no RST). */
  blackhole(): void {
    this.current = 'blackhole';
    for (const conn of this.conns) conn.hold();
  }

  /** Back to normal: held bytes flow, held connections are forwarded. */
  heal(): void {
    this.current = 'up';
    for (const conn of this.conns) conn.release();
  }

  /** Resets (RST) every open connection; new ones are accepted as the mode says. */
  reset(): void {
    for (const conn of [...this.conns]) conn.reset();
  }

  /** Resets every connection and every new one until heal (the hub looks unreachable). */
  down(): void {
    this.current = 'down';
    this.reset();
  }

  /**
   * Drops PUBLISH packets going `direction` whose topic matches (a string is an exact topic), until stop() or
   * `forMs` (when given) elapsed.
   */
  dropPublishes(direction: Direction, topic: string | RegExp, forMs?: number): DropRule {
    const match = typeof topic === 'string' ? (t: string) => t === topic : (t: string) => topic.test(t);
    let dropped = 0;
    let timer: NodeJS.Timeout | undefined;
    const rule = {
      direction,
      match,
      get dropped() {
        return dropped;
      },
      count: () => {
        dropped++;
      },
      stop: () => {
        clearTimeout(timer);
        this.rules.delete(rule);
      },
    };
    this.rules.add(rule);
    if (forMs !== undefined) timer = setTimeout(() => rule.stop(), forMs);
    return rule;
  }

  /** @internal the first active rule dropping `topic` going `direction` (counted) */
  ruleFor(direction: Direction, topic: string): DropRule | undefined {
    for (const rule of this.rules) {
      if (rule.direction === direction && rule.match(topic)) {
        rule.count();
        return rule;
      }
    }
    return undefined;
  }

  /** @internal */
  forget(conn: Connection): void {
    this.conns.delete(conn);
  }

  /** Closes every connection and the listener. */
  async close(): Promise<void> {
    for (const rule of [...this.rules]) rule.stop();
    for (const conn of [...this.conns]) conn.close();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
