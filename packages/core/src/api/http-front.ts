/**
 * The socket-free front of both HTTP servers (edge and hub): bearer-token check, `/health`, `/metrics`, JSON body
 * parsing, then the REST handler. The binaries' `http.ts` only read bytes (with the size limit) and write the
 * answer, so this logic is shared without `core` importing node:http.
 *
 * `/health` answers without a token (liveness probes); everything else needs `Authorization: Bearer <token>`
 * when a token is configured (SPEC §7: the hub always, the edge when it binds beyond loopback).
 * `GET /{table}/changes` answers a stream (Server-Sent Events, changes.ts): the response carries `stream`, which
 * the server runs with a sink over the socket.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { METRICS_CONTENT_TYPE } from '../metrics.js';
import { type ChangeSource, type ChangeStreamOptions, prepareChangeStream, type SseSink } from './changes.js';
import { errorResponse, type RestRequest, type RestResponse } from './rest.js';

/** What the front needs. */
export interface HttpFrontOptions {
  /** required bearer token; undefined = no authentication */
  readonly token?: string | undefined;
  /** the REST handler (usually `(req) => handleRest(deps, req)`) */
  readonly rest: (req: RestRequest) => Promise<RestResponse>;
  /** body of `/health` */
  readonly health: () => unknown;
  /** body of `/metrics` in Prometheus text format 0.0.4 */
  readonly metrics: () => string;
  /** called with errors answered as 500 */
  readonly onInternalError?: (err: unknown) => void;
  /** serves `GET /{table}/changes` from this store's change log; absent: no change streams */
  readonly changes?: { readonly store: ChangeSource; readonly options?: ChangeStreamOptions };
}

/** A request as read off the socket. */
export interface RawHttpRequest {
  readonly method: string;
  /** path and query, e.g. `/data.alerts/?sensor=s1` */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Buffer;
}

/** An answer ready to write. */
export interface RawHttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** a streaming answer (SSE): write the head, then run this with a sink until it resolves or the client leaves */
  readonly stream?: (sink: SseSink) => Promise<void>;
}

/** Headers of an event stream. */
export const SSE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
});

const CHANGES_PATH = /^\/([^/]+)\/changes$/;

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // not a valid table name either: the store refuses it with a clear 400
  }
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Serialises a JSON answer (204 and undefined bodies are empty). */
export function jsonResponse(res: RestResponse): RawHttpResponse {
  const empty = res.body === undefined || res.status === 204;
  return {
    status: res.status,
    headers: { ...(empty ? {} : { 'content-type': JSON_TYPE }), ...res.headers },
    body: empty ? '' : JSON.stringify(res.body),
  };
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** True when the `authorization` header carries the bearer token (constant-time comparison). */
export function checkBearer(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!.trim()), digest(token));
}

function flatten(headers: RawHttpRequest['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : (value as string | undefined);
  }
  return out;
}

/** Handles one request read off the socket; never throws. */
export async function dispatchHttp(options: HttpFrontOptions, raw: RawHttpRequest): Promise<RawHttpResponse> {
  try {
    const url = new URL(raw.url, 'http://localhost');
    const method = raw.method.toUpperCase();
    const headers = flatten(raw.headers);
    if (url.pathname === '/health' && method === 'GET') {
      return jsonResponse({ status: 200, body: options.health() });
    }
    if (options.token !== undefined && !checkBearer(headers['authorization'], options.token)) {
      return jsonResponse({
        status: 401,
        headers: { 'www-authenticate': 'Bearer' },
        body: { error: 'a valid bearer token is required (Authorization: Bearer <token>)' },
      });
    }
    if (url.pathname === '/metrics' && method === 'GET') {
      return { status: 200, headers: { 'content-type': METRICS_CONTENT_TYPE }, body: options.metrics() };
    }
    const changes = method === 'GET' && options.changes ? CHANGES_PATH.exec(url.pathname) : null;
    if (changes && options.changes) {
      const start = url.searchParams.get('start');
      if (start !== null && start !== 'now' && start !== 'beginning') {
        return jsonResponse({
          status: 400,
          body: {
            error: `start must be now or beginning, got ${JSON.stringify(start)}`,
            code: 'TM_INVALID_ARGUMENT',
          },
        });
      }
      const stream = prepareChangeStream(
        options.changes.store,
        safeDecode(changes[1]!),
        {
          lastEventId: headers['last-event-id'] ?? url.searchParams.get('lastEventId') ?? undefined,
          ...(start !== null ? { start } : {}),
        },
        options.changes.options,
      );
      return { status: 200, headers: SSE_HEADERS, body: '', stream };
    }
    let body: unknown;
    if (raw.body.length > 0) {
      try {
        body = JSON.parse(raw.body.toString('utf8')) as unknown;
      } catch (err) {
        const why = err instanceof Error ? err.message : 'parse error';
        return jsonResponse({
          status: 400,
          body: { error: `the request body is not valid JSON: ${why}`, code: 'TM_INVALID_ARGUMENT' },
        });
      }
    }
    const res = await options.rest({ method, path: url.pathname, query: url.searchParams, headers, body });
    return jsonResponse(res);
  } catch (err) {
    return jsonResponse(errorResponse(err, options.onInternalError));
  }
}
