/**
 * A small HTTP client for a node's data API (SPEC §8): records, queries, `/_batch`, `/_digest/{table}`,
 * `/health` and `/metrics`. Keep-alive connections on loopback; the base URL is read on every call, so a
 * restarted node on a new port keeps the same client.
 */
import http from 'node:http';
import { type Metrics, parseMetrics } from './metrics.js';

/** A key as the REST API takes it: strings as they are, numbers with `?idType=number`. */
export type Key = string | number;

/** An answer: status, parsed JSON body (or text), headers. */
export interface HttpAnswer<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** One write of a `/_batch` request. */
export interface BatchWrite {
  readonly table: string;
  readonly ops: readonly {
    readonly kind: 'put' | 'patch' | 'delete';
    readonly key: Key;
    readonly attrs?: Readonly<Record<string, unknown>>;
  }[];
}

/** Thrown for an unexpected status. */
export class HttpStatusError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly answer: HttpAnswer,
  ) {
    super(`${method} ${path} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    this.name = 'HttpStatusError';
  }
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function recordPath(table: string, key: Key): string {
  const path = `/${encodeURIComponent(table)}/${encodeURIComponent(String(key))}`;
  return typeof key === 'number' ? `${path}?idType=number` : path;
}

/** Client of one node's HTTP API. */
export class HttpClient {
  /**
   * @param baseUrl gives `http://127.0.0.1:PORT` of the node now (it changes across restarts on port 0)
   * @param token bearer token (always on the hub)
   */
  constructor(
    private readonly baseUrl: () => string,
    private readonly token?: string,
  ) {}

  /** Any request; never throws for a status (see `expect`). */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<HttpAnswer<T>> {
    const url = new URL(path, this.baseUrl());
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: http.OutgoingHttpHeaders = {};
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method, headers, agent, timeout: 30_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json') && text !== '') {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T, text, headers: res.headers });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A request that must answer one of `statuses` (default 2xx); resolves with the body. */
  async expect<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    statuses?: readonly number[],
  ): Promise<T> {
    const answer = await this.request<T>(method, path, body);
    const ok = statuses ? statuses.includes(answer.status) : answer.status >= 200 && answer.status < 300;
    if (!ok) throw new HttpStatusError(method, path, answer as HttpAnswer);
    return answer.body;
  }

  /** PUT (full replace); resolves with the committed transaction summary. */
  put(table: string, key: Key, attrs: Readonly<Record<string, unknown>>): Promise<unknown> {
    return this.expect('PUT', recordPath(table, key), attrs);
  }

  /** PATCH (set the given attributes). */
  patch(table: string, key: Key, attrs: Readonly<Record<string, unknown>>): Promise<unknown> {
    return this.expect('PATCH', recordPath(table, key), attrs);
  }

  /** DELETE (a tombstone). */
  del(table: string, key: Key): Promise<unknown> {
    return this.expect('DELETE', recordPath(table, key));
  }

  /** The live record, or undefined on 404. */
  async get<T = Record<string, unknown>>(table: string, key: Key): Promise<T | undefined> {
    const answer = await this.request<T>('GET', recordPath(table, key));
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw new HttpStatusError('GET', recordPath(table, key), answer);
    return answer.body;
  }

  /** `GET /{table}/?…`: the matching live records. */
  query<T = Record<string, unknown>>(
    table: string,
    params: Readonly<Record<string, string | number>> = {},
  ): Promise<T[]> {
    const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
    return this.expect<T[]>('GET', `/${encodeURIComponent(table)}/${qs ? `?${qs}` : ''}`);
  }

  /** `POST /_batch`: one local request, committed as one batch. */
  batch(writes: readonly BatchWrite[]): Promise<{ transactions: { table: string; seq: number }[] }> {
    return this.expect('POST', '/_batch', { writes });
  }

  /** `GET /_digest/{table}`: digest and count of live records. */
  digest(table: string): Promise<{ digest: string; count: number }> {
    return this.expect('GET', `/_digest/${encodeURIComponent(table)}`);
  }

  /** `GET /health`. */
  health(): Promise<Record<string, unknown>> {
    return this.expect('GET', '/health');
  }

  /** `GET /metrics`, parsed. */
  async metrics(): Promise<Metrics> {
    const answer = await this.request<string>('GET', '/metrics');
    if (answer.status !== 200) throw new HttpStatusError('GET', '/metrics', answer as HttpAnswer);
    return parseMetrics(answer.text);
  }
}
