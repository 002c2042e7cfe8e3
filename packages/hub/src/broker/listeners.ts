/**
 * ## Listeners
 * The hub's MQTT listeners (SPEC §7): TCP, TLS ≥ 1.2 from PEM files (optionally mutual: a client certificate
 * signed by the configured CA is required, and broker/authenticate.ts checks its CN against the client id), and
 * WebSocket (ws, or wss with the TLS block's certificate). Every connection, before Aedes sees a byte:
 *   1. rate limit per source address (closed at accept when over; rate-limit.ts)
 *   2. TCP_NODELAY
 *   3. TLS handshake under `handshakeTimeoutMs` (tls / wss)
 *   4. packet-size guard on the byte stream (packet-guard.ts); for WebSocket also `maxPayload` = the packet
 *      limit, as `ws` buffers whole frames before handing them on
 *   5. `aedes.handle(stream)`; Aedes enforces `connectTimeout` from here until CONNECT.
 * `connInfo(stream)` tells the authenticate hook how a connection arrived and which verified certificate it
 * showed.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { type GuardEvent, guardStream } from './packet-guard.js';
import { ConnectionRateLimiter } from './rate-limit.js';

/** TLS material and options (PEM file paths). */
export interface TlsListenerOptions {
  readonly port: number;
  readonly cert: string;
  readonly key: string;
  readonly ca?: string | undefined;
  readonly requestCert: boolean;
  readonly handshakeTimeoutMs: number;
}

/** What startListeners needs. */
export interface ListenersOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: TlsListenerOptions | undefined;
  readonly ws?: { readonly port: number; readonly secure: boolean } | undefined;
  readonly maxPacketBytes: number;
  /** time allowed for a WebSocket upgrade request (the MQTT connectTimeout) */
  readonly connectTimeoutMs: number;
  readonly connectionRate: { readonly perSecond: number; readonly burst: number };
  readonly log?: { warn(obj: object, msg: string): void; debug(obj: object, msg: string): void };
  readonly now?: () => number;
}

/** How a connection arrived. */
export interface ConnInfo {
  readonly transport: 'tcp' | 'tls' | 'ws' | 'wss';
  readonly address: string;
  /** CN of the client certificate, present only when the certificate was verified against the CA */
  readonly certCN?: string;
}

/** Counters of refused and failed connections (exported as metrics). */
export interface ListenerStats {
  accepted: number;
  rateLimited: number;
  packetTooLarge: number;
  malformedLength: number;
  /**
   * most bytes of a refused packet read before the guard ended its connection (the chunk that showed the
   * declared size included; a chunk is at most 64 KiB, one read from the kernel)
   */
  refusedBytesReadMax: number;
  tlsFailures: number;
  tlsHandshakeTimeouts: number;
  lastGuardEvent: GuardEvent | undefined;
}

/** Running listeners. */
export interface Listeners {
  readonly ports: { readonly tcp: number; readonly tls?: number; readonly ws?: number };
  readonly stats: ListenerStats;
  connInfo(stream: unknown): ConnInfo | undefined;
  /** stops accepting and destroys every open connection */
  close(): Promise<void>;
}

/** The one method of Aedes the listeners call. */
export interface ConnectionHandler {
  handle(stream: Duplex, req?: http.IncomingMessage): unknown;
}

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function verifiedCN(socket: tls.TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN as unknown;
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}

/** Starts the configured listeners; Aedes gets each connection once it has passed the checks above. */
export async function startListeners(
  aedes: ConnectionHandler,
  options: ListenersOptions,
): Promise<Listeners> {
  const stats: ListenerStats = {
    accepted: 0,
    rateLimited: 0,
    packetTooLarge: 0,
    malformedLength: 0,
    refusedBytesReadMax: 0,
    tlsFailures: 0,
    tlsHandshakeTimeouts: 0,
    lastGuardEvent: undefined,
  };
  const limiter = new ConnectionRateLimiter({
    ...options.connectionRate,
    ...(options.now ? { now: options.now } : {}),
  });
  const sweeper = setInterval(() => limiter.sweep(), 60_000);
  sweeper.unref();
  const info = new WeakMap<object, ConnInfo>();
  const sockets = new Set<net.Socket>();
  const limited = new WeakSet<net.Socket>();
  const servers: net.Server[] = [];

  /** Steps 1–2, on the raw TCP socket of every listener. */
  const admit = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (!limiter.take(socket.remoteAddress)) {
      stats.rateLimited++;
      limited.add(socket);
      options.log?.debug({ address: socket.remoteAddress }, 'connection rate limit: refused');
      socket.destroy();
      return;
    }
    stats.accepted++;
    socket.setNoDelay(true);
  };
  const onGuard = (event: GuardEvent, address: string | undefined): void => {
    if (event.reason === 'packet-too-large') stats.packetTooLarge++;
    else stats.malformedLength++;
    stats.refusedBytesReadMax = Math.max(stats.refusedBytesReadMax, event.packetBytesRead);
    stats.lastGuardEvent = event;
    options.log?.warn({ ...event, address, limit: options.maxPacketBytes }, 'mqtt connection refused');
  };
  /** Steps 4–5. */
  const hand = (stream: Duplex, conn: ConnInfo, req?: http.IncomingMessage): void => {
    info.set(stream, conn);
    guardStream(stream, options.maxPacketBytes, (e) => onGuard(e, conn.address));
    aedes.handle(stream, req);
  };
  const onTlsError = (err: NodeJS.ErrnoException, socket: tls.TLSSocket | net.Socket): void => {
    socket.destroy(); // with a tlsClientError listener, Node leaves closing the socket to it (e.g. handshake timeout)
    const raw = (socket as tls.TLSSocket & { _parent?: net.Socket })._parent ?? socket;
    if (limited.has(raw) || limited.has(socket)) return;
    if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') stats.tlsHandshakeTimeouts++;
    else stats.tlsFailures++;
    options.log?.debug({ err: err.message, address: socket.remoteAddress }, 'tls handshake failed');
  };

  const tlsOptions = (): tls.TlsOptions | undefined => {
    const t = options.tls;
    if (!t) return undefined;
    return {
      cert: readFileSync(t.cert),
      key: readFileSync(t.key),
      ...(t.ca !== undefined ? { ca: readFileSync(t.ca) } : {}),
      minVersion: 'TLSv1.2',
      requestCert: t.requestCert,
      rejectUnauthorized: t.requestCert, // mTLS: no certificate, another CA or an expired one fail the handshake
      handshakeTimeout: t.handshakeTimeoutMs,
    };
  };
  const tlsContext = tlsOptions();

  const tcpServer = net.createServer((socket) => {
    admit(socket);
    if (!socket.destroyed) hand(socket, { transport: 'tcp', address: socket.remoteAddress ?? '' });
  });
  servers.push(tcpServer);
  const ports: { tcp: number; tls?: number; ws?: number } = {
    tcp: await listen(tcpServer, options.port, options.host),
  };

  if (options.tls && tlsContext) {
    const tlsServer = tls.createServer(tlsContext, (socket) => {
      const cn = verifiedCN(socket);
      hand(socket, {
        transport: 'tls',
        address: socket.remoteAddress ?? '',
        ...(cn !== undefined ? { certCN: cn } : {}),
      });
    });
    tlsServer.prependListener('connection', admit);
    tlsServer.on('tlsClientError', onTlsError);
    servers.push(tlsServer);
    ports.tls = await listen(tlsServer, options.tls.port, options.host);
  }

  if (options.ws) {
    const secure = options.ws.secure;
    if (secure && !tlsContext) throw new Error('mqtt.ws.secure needs the mqtt.tls block');
    const httpOptions: http.ServerOptions = {
      headersTimeout: options.connectTimeoutMs,
      requestTimeout: options.connectTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, options.connectTimeoutMs),
    };
    const upgradeOnly = (_req: http.IncomingMessage, res: http.ServerResponse): void => {
      res.writeHead(426, { connection: 'close', upgrade: 'websocket' }).end('MQTT over WebSocket only\n');
    };
    const server = secure
      ? https.createServer({ ...httpOptions, ...tlsContext }, upgradeOnly)
      : http.createServer(httpOptions, upgradeOnly);
    server.prependListener('connection', admit);
    if (secure) server.on('tlsClientError', onTlsError);
    const wss = new WebSocketServer({ server, maxPayload: options.maxPacketBytes, perMessageDeflate: false });
    wss.on('connection', (ws, req) => {
      const stream = createWebSocketStream(ws);
      stream.on('error', () => {}); // Aedes attaches its own handler; a late frame error must not crash
      const socket = req.socket as tls.TLSSocket;
      const cn = secure ? verifiedCN(socket) : undefined;
      hand(
        stream,
        {
          transport: secure ? 'wss' : 'ws',
          address: req.socket.remoteAddress ?? '',
          ...(cn !== undefined ? { certCN: cn } : {}),
        },
        req,
      );
    });
    servers.push(server);
    ports.ws = await listen(server, options.ws.port, options.host);
  }

  return {
    ports,
    stats,
    connInfo: (stream) => (typeof stream === 'object' && stream !== null ? info.get(stream) : undefined),
    close: async () => {
      clearInterval(sweeper);
      const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const socket of sockets) socket.destroy(); // server.close waits for open connections
      await Promise.all(closed);
    },
  };
}
