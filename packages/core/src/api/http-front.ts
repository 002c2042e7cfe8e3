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

/** Headers of a JSON answer without headers of its own (shared: answers are never mutated). */
const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': JSON_TYPE });
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Serialises a JSON answer (204 and undefined bodies are empty). */
export function jsonResponse(res: RestResponse): RawHttpResponse {
  const empty = res.body === undefined || res.status === 204;
  // The common answer has no headers of its own: share one frozen object instead of spreading two per request.
  const base = empty ? NO_HEADERS : JSON_HEADERS;
  return {
    status: res.status,
    headers: res.headers === undefined ? base : { ...base, ...res.headers },
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
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name];
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : (value as string | undefined);
  }
  return out;
}

/** A request target split like WHATWG URL parsing does it (pathname as serialised, query parameters). */
export interface RequestTarget {
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}

/**
 * Origin-form targets that URL parsing leaves unchanged: `/`, then unreserved and sub-delim characters, `:`, `@`,
 * `/` and percent escapes, an optional query of the same characters plus `?`. No `//` at the start (a host to URL),
 * no `\`, `#`, spaces or other characters URL would percent-encode.
 */
const PLAIN_TARGET = /^\/(?!\/)[\w\-.~!$&'()*+,;=:@%/]*(?:\?[\w\-.~!$&'()*+,;=:@%/?]*)?$/;
/** A dot segment (`.`, `..`, or their percent-encoded forms), which URL parsing resolves away. */
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:[/?]|$)/i;

/**
 * Splits a request target into pathname and query parameters exactly as `new URL(target, 'http://localhost')`
 * does, without building a URL for the common plain target (≈4% of a PUT's CPU in the HTTP front): for those the
 * pathname is the text up to `?` and the query `new URLSearchParams(rest)`, which is what URL yields for them.
 * Anything else (dot segments, `//`, `\`, fragments, characters URL escapes) goes through URL.
 */
export function parseTarget(target: string): RequestTarget {
  if (PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target)) {
    const q = target.indexOf('?');
    if (q < 0) return { pathname: target, searchParams: new URLSearchParams() };
    // from the `?` on: URLSearchParams drops one leading `?` (the query of `/t??` is `?`, as URL has it)
    return { pathname: target.slice(0, q), searchParams: new URLSearchParams(target.slice(q)) };
  }
  const url = new URL(target, 'http://localhost');
  return { pathname: url.pathname, searchParams: url.searchParams };
}

/** Handles one request read off the socket; never throws. */
export async function dispatchHttp(options: HttpFrontOptions, raw: RawHttpRequest): Promise<RawHttpResponse> {
  try {
    const url = parseTarget(raw.url);
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
