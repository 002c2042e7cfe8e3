/**
 * The HTTP server of tablemesh-edge and tablemesh-hub on node:http (SPEC §8): reads each request body under a size
 * limit and hands it to core's socket-free front (`dispatchHttp`: bearer token, `/health`, `/metrics`, JSON, REST),
 * and streams change feeds (SSE). Every decision lives in core; this is only socket handling, shared here because
 * edge and hub never import each other and core never imports node:http.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type ChangeSource,
  type ChangeStreamOptions,
  dispatchHttp,
  handleRest,
  type RawHttpResponse,
  type RestDeps,
  type RestRequest,
  type RestResponse,
  sinkFor,
} from '@tablemesh/core';
/** The logger methods the server uses (a pino logger fits). */
export interface HttpLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  /** pino's: lets the per-request debug line cost nothing when debug is off */
  isLevelEnabled?(level: string): boolean;
}

/** Slack above maxTxBytes for JSON framing of a transaction-sized body. */
export const BODY_SLACK_BYTES = 64 * 1024;

/** Options of startHttp. */
export interface StartHttpOptions {
  readonly host: string;
  /** 0 picks a free port */
  readonly port: number;
  /** which API this is: the hub answers the edge-only operations with a pointer to its admin API */
  readonly role: 'edge' | 'hub';
  /** bearer token required on every route but /health; none = open (edge on loopback only, see its config) */
  readonly token?: string | undefined;
  /** refuse to start without a token (the hub: SPEC §7) */
  readonly requireToken?: boolean;
  /** REST dependencies, or a handler wrapping handleRest (e.g. to add the operations API) */
  readonly rest: RestDeps | ((req: RestRequest) => Promise<RestResponse>);
  readonly health: () => unknown;
  readonly metrics: () => string;
  readonly logger: HttpLogger;
  /** request body limit is maxTxBytes + 64 KiB (default maxTxBytes 256 KiB) */
  readonly maxTxBytes?: number;
  /** source of `GET /{table}/changes` (default: the REST deps' store when it has a change log) */
  readonly changes?: ChangeSource;
  /** heartbeat and page size of change streams */
  readonly changeStream?: ChangeStreamOptions;
}

function isChangeSource(store: unknown): store is ChangeSource {
  const s = store as Partial<ChangeSource> | undefined;
  return typeof s?.readChanges === 'function' && typeof s.onChanges === 'function';
}

/** A running server. */
export interface HttpServerHandle {
  /** the bound port (useful with port 0) */
  readonly port: number;
  /** stops accepting, closes idle keep-alive connections, resolves when every connection is closed */
  close(): Promise<void>;
}

const EMPTY = Buffer.alloc(0);

/** A body read under the limit: the bytes, or `tooLarge` with the bytes seen. */
type BodyResult = { readonly body: Buffer } | { readonly tooLarge: number };

function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    // A small body arrives in one chunk: keep it as it is, copy only when there are several.
    let first: Buffer | undefined;
    let more: Buffer[] | undefined;
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      // Over the limit: keep nothing, drain the rest so the client can read the 413; drop a client that streams on.
      if (seen > limit * 8) req.socket.destroy();
      else if (seen <= limit && declared <= limit) {
        if (first === undefined) first = chunk;
        else if (more === undefined) more = [first, chunk];
        else more.push(chunk);
      }
    });
    req.on('end', () =>
      resolve(
        seen > limit || declared > limit
          ? { tooLarge: Math.max(seen, declared) }
          : { body: more ? Buffer.concat(more) : (first ?? EMPTY) },
      ),
    );
    req.on('error', reject);
  });
}

function send(res: ServerResponse, out: RawHttpResponse): void {
  res.writeHead(out.status, { ...out.headers, 'content-length': Buffer.byteLength(out.body) });
  res.end(out.body);
}

/** Starts the HTTP API; resolves once listening. */
export async function startHttpServer(options: StartHttpOptions): Promise<HttpServerHandle> {
  if (options.requireToken && (typeof options.token !== 'string' || options.token.length === 0)) {
    throw new TypeError(`the ${options.role} HTTP API requires a bearer token (SPEC §7)`);
  }
  const limit = (options.maxTxBytes ?? 256 * 1024) + BODY_SLACK_BYTES;
  const { logger } = options;
  const onInternalError = (err: unknown) => logger.error({ err }, 'http request failed');
  const rest =
    typeof options.rest === 'function'
      ? options.rest
      : (() => {
          const deps: RestDeps = { onInternalError, role: options.role, ...options.rest };
          return (req: RestRequest) => handleRest(deps, req);
        })();
  const changes =
    options.changes ??
    (typeof options.rest === 'object' && isChangeSource(options.rest.store) ? options.rest.store : undefined);
  const front = {
    token: options.token,
    rest,
    health: options.health,
    metrics: options.metrics,
    onInternalError,
    ...(changes
      ? { changes: { store: changes, ...(options.changeStream ? { options: options.changeStream } : {}) } }
      : {}),
  };
  /** open change streams, ended on close() */
  const streams = new Set<() => void>();

  const server = createServer((req, res) => {
    void (async () => {
      const read = await readBody(req, limit);
      if ('tooLarge' in read) {
        send(res, {
          status: 413,
          headers: { 'content-type': 'application/json; charset=utf-8', connection: 'close' },
          body: JSON.stringify({
            error: `request body of ${read.tooLarge} bytes is over the ${limit}-byte limit (maxTxBytes + 64 KiB)`,
            code: 'TM_TX_TOO_LARGE',
          }),
        });
        return;
      }
      const out = await dispatchHttp(front, {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: read.body,
      });
      if (logger.isLevelEnabled?.('debug') ?? true) {
        logger.debug({ method: req.method, url: req.url, status: out.status }, 'http');
      }
      if (!out.stream) {
        send(res, out);
        return;
      }
      // Server-Sent Events: head now, then frames until the client leaves or the server stops.
      res.writeHead(out.status, out.headers);
      res.flushHeaders();
      const sink = sinkFor(res);
      // On stop: end the stream now; a client that resumes with Last-Event-ID loses nothing (SSE, SPEC §8).
      const stop = () => {
        sink.close();
        res.destroy();
      };
      streams.add(stop);
      try {
        await out.stream(sink);
      } finally {
        streams.delete(stop);
        res.end();
      }
    })().catch((err: unknown) => {
      // Only a broken socket gets here; dispatchHttp itself never throws.
      logger.warn({ err }, 'http connection failed');
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });
  server.on('clientError', (err, socket) => {
    logger.debug({ err }, 'http client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: options.host, port, auth: options.token !== undefined }, 'http api listening');
  return {
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        for (const end of streams) end();
        server.closeIdleConnections();
      }),
  };
}
