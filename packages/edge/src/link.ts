/**
 * The edge's one outbound connection: MQTT 3.1.1 over TCP or TLS to the hub (SPEC §2, §6).
 *
 * States: idle → connecting → connected → (closed) backing-off → connecting … ; stop() → stopped.
 * Sessions are `clean: true`: recovery relies only on the outbox and cursors (SPEC §5), never on broker or
 * mqtt.js stores. Reconnects use jittered, capped exponential backoff. TCP_NODELAY is set on every socket
 * (neither mqtt.js nor Aedes sets it; it takes tens of ms off p99 latency).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { MqttClient } from 'mqtt';

/** Connection state as shown in /health and status. */
export type LinkState = 'idle' | 'connecting' | 'connected' | 'backing-off' | 'stopped';

/** What the link needs to know; TLS material as file paths. */
export interface LinkOptions {
  readonly url: string;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  /**
   * certificate pins: the hub's certificate must also match one of them (after CA and host name checks).
   * `sha256/<base64>` = SHA-256 of the certificate's public key (SPKI; survives renewal with the same key), or
   * `AB:CD:…` = SHA-256 fingerprint of the certificate (`openssl x509 -noout -fingerprint -sha256`).
   */
  readonly pin?: readonly string[];
  readonly connectTimeoutMs: number;
  readonly keepaliveSec: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** retained presence will (SPEC §6) */
  readonly will?: { readonly topic: string; readonly payload: Buffer };
  readonly random?: () => number;
}

/** Callbacks of the link's owner. */
export interface LinkHandlers {
  /** connected: subscribe and say hello; runs on every (re)connect */
  onConnect(): void;
  onMessage(topic: string, payload: Buffer): void;
  onDisconnect(reason: string): void;
}

/** Next backoff delay: exponential from initialMs, capped at maxMs, with full jitter in [delay/2, delay]. */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The pins a certificate matches: its SPKI pin (`sha256/<base64>`) and its SHA-256 fingerprint. */
export function pinsOf(cert: { readonly raw: Buffer; readonly fingerprint256: string }): string[] {
  const spki = new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' });
  return [`sha256/${createHash('sha256').update(spki).digest('base64')}`, cert.fingerprint256.toUpperCase()];
}

/** Host name check, then the pins: undefined when the certificate is acceptable, else the error. */
export function checkHubCertificate(
  host: string,
  cert: tls.PeerCertificate,
  pins: readonly string[] | undefined,
): Error | undefined {
  const err = tls.checkServerIdentity(host, cert);
  if (err || !pins || pins.length === 0) return err;
  const own = pinsOf(cert);
  if (pins.some((p) => own.includes(p.startsWith('sha256/') ? p : p.toUpperCase()))) return undefined;
  const refusal = new Error(`the hub's certificate matches none of hub.pin (it has ${own.join(', ')})`);
  return Object.assign(refusal, { code: 'ERR_TM_CERT_PIN' });
}

/** The MQTT link to the hub. */
export class Link {
  state: LinkState = 'idle';
  /** connections made and lost, for metrics */
  readonly counters = { connects: 0, disconnects: 0 };
  lastError: string | undefined;
  private client: MqttClient | undefined;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: LinkOptions,
    private readonly handlers: LinkHandlers,
  ) {}

  /** Starts connecting; never throws for an unreachable hub (edges run offline, SPEC §2). */
  start(): void {
    if (this.client) return;
    const url = new URL(this.options.url);
    const secure = url.protocol === 'mqtts:';
    if (!secure && url.protocol !== 'mqtt:')
      throw new Error(`hub.url must be mqtt:// or mqtts://, got ${url.protocol}`);
    const port = Number(url.port || (secure ? 8883 : 1883));
    const host = url.hostname;
    const read = (path?: string): Buffer | undefined => (path ? readFileSync(path) : undefined);
    const tlsOptions = secure
      ? {
          ca: read(this.options.ca),
          cert: read(this.options.cert),
          key: read(this.options.key),
          minVersion: 'TLSv1.2' as const,
          checkServerIdentity: (name: string, cert: tls.PeerCertificate) =>
            checkHubCertificate(name, cert, this.options.pin),
        }
      : undefined;
    const build = (): net.Socket => {
      const socket = tlsOptions
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ...tlsOptions })
        : net.connect({ host, port });
      socket.setNoDelay(true);
      return socket;
    };
    this.state = 'connecting';
    const client = new MqttClient(build, {
      clientId: this.options.clientId,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0, // we reconnect ourselves, with jittered backoff
      connectTimeout: this.options.connectTimeoutMs,
      keepalive: this.options.keepaliveSec,
      resubscribe: false,
      queueQoSZero: false,
      // [MQTT-3.1.2-22] a password needs a username: the node id unless configured otherwise
      ...(this.options.username !== undefined || this.options.password !== undefined
        ? { username: this.options.username ?? this.options.clientId }
        : {}),
      ...(this.options.password !== undefined ? { password: this.options.password } : {}),
      ...(this.options.will ? { will: { ...this.options.will, qos: 1 as const, retain: true } } : {}),
    });
    this.client = client;
    client.on('connect', () => {
      this.state = 'connected';
      this.attempt = 0;
      this.lastError = undefined;
      this.counters.connects++;
      this.handlers.onConnect();
    });
    client.on('message', (topic, payload) => this.handlers.onMessage(topic, payload));
    client.on('error', (err) => {
      this.lastError = err.message;
    });
    client.on('close', () => {
      // Clean sessions (SPEC §5): what was sent on a lost connection is not resent by mqtt.js. Its QoS 1
      // callbacks would otherwise wait for a PUBACK that never comes (blocking whoever awaits publish(): the
      // publisher's pump, the subscriber's request chain), and on reconnect it would replay the stale packets
      // from its outgoing store. The outbox and the cursors resend what matters.
      for (const id of Object.keys(client.outgoing ?? {})) client.removeOutgoingMessage(Number(id));
      if (this.state === 'stopped') return;
      if (this.state === 'connected') {
        this.counters.disconnects++;
        this.handlers.onDisconnect(this.lastError ?? 'connection closed');
      }
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.state === 'stopped' || this.retryTimer) return;
    this.state = 'backing-off';
    const { initialMs, maxMs } = this.options.backoff;
    const delay = backoffDelay(this.attempt++, initialMs, maxMs, this.options.random ?? Math.random);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.state === 'stopped' || !this.client) return;
      this.state = 'connecting';
      this.client.reconnect();
    }, delay);
  }

  /** True while connected. */
  get connected(): boolean {
    return this.state === 'connected' && this.client?.connected === true;
  }

  /** Publishes with QoS 1; resolves on PUBACK (which proves nothing about storage: receipts do, I7). */
  publish(topic: string, payload: Uint8Array, retain = false): Promise<void> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      client.publish(topic, Buffer.from(payload), { qos: 1, retain }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  /**
   * Subscribes with QoS 1; resolves with the granted QoS per topic (128 = refused, I15: the connection stays).
   * mqtt.js reports any refusal as an error carrying the SUBACK, so the codes are read from that packet.
   */
  subscribe(topicList: readonly string[]): Promise<number[]> {
    const client = this.client;
    if (!client || !this.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      client.subscribe([...topicList], { qos: 1 }, (err, granted, packet) => {
        const codes = (packet as { granted?: unknown } | undefined)?.granted;
        if (Array.isArray(codes) && codes.length === topicList.length) resolve(codes.map(Number));
        else if (err) reject(err);
        else resolve((granted ?? []).map((g) => g.qos));
      });
    });
  }

  /** Closes the connection and stops reconnecting. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }
}
