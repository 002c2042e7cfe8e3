/**
 * The CLI's HTTP client for an edge or a hub (SPEC §8: the CLI talks HTTP only, it never opens a store). Every
 * failure becomes a CliError whose message says what to do: start the process, pass a URL, pass a token.
 */
import { CliError, EXIT } from './errors.js';

/** Which kind of node a client talks to (for messages). */
export type NodeKind = 'edge' | 'hub';

/** A JSON answer. */
export interface Answer<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** Request options. */
export interface RequestOptions {
  readonly query?: Record<string, string | number | undefined>;
  readonly headers?: Record<string, string>;
  /** answer statuses that are not errors besides 2xx (e.g. 404 for `get`) */
  readonly accept?: readonly number[];
  readonly timeoutMs?: number;
}

/** Default time a request may take before the CLI gives up. */
export const REQUEST_TIMEOUT_MS = 30_000;

const HINTS: Record<NodeKind, { bin: string; url: string; token: string }> = {
  edge: {
    bin: 'tablemesh-edge',
    url: '--edge URL or TABLEMESH_EDGE',
    token: 'pass the edge http.token with --edge-token or TABLEMESH_EDGE_TOKEN',
  },
  hub: {
    bin: 'tablemesh-hub',
    url: '--hub URL or TABLEMESH_HUB',
    token: "pass the hub's http.token with --token or TABLEMESH_TOKEN",
  },
};

/** A client of one node's HTTP API. */
export class ApiClient {
  constructor(
    readonly kind: NodeKind,
    readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  /** Sends a request; resolves with 2xx (or accepted) answers, throws CliError otherwise. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<Answer<T>> {
    const url = new URL(path, this.baseUrl.endsWith('/') ? this.baseUrl : `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(options.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw this.unreachable(err);
    }
    const text = await res.text();
    let parsed: unknown = text;
    if (text.length > 0 && (res.headers.get('content-type') ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (res.ok || options.accept?.includes(res.status)) {
      return { status: res.status, body: parsed as T, headers: res.headers };
    }
    throw this.refused(res.status, parsed);
  }

  /** GET returning the body. */
  async get<T = unknown>(path: string, options?: RequestOptions): Promise<T> {
    return (await this.request<T>('GET', path, undefined, options)).body;
  }

  /** An operations API call (`POST /`, HarperDB shapes). */
  async operation<T = unknown>(body: Record<string, unknown>): Promise<T> {
    return (await this.request<T>('POST', '/', body)).body;
  }

  private unreachable(err: unknown): CliError {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why =
      (err as { name?: string }).name === 'TimeoutError'
        ? 'no answer in time'
        : (cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err)));
    const h = HINTS[this.kind];
    return new CliError(
      `${this.kind} not reachable at ${this.baseUrl} (${why}): is ${h.bin} running? ` +
        `See \`${h.bin} --help\`; point the CLI at it with ${h.url}.`,
      EXIT.UNREACHABLE,
      'TM_CLI_UNREACHABLE',
    );
  }

  private refused(status: number, body: unknown): CliError {
    const b = (typeof body === 'object' && body !== null ? body : {}) as { error?: unknown; code?: unknown };
    const message =
      typeof b.error === 'string' ? b.error : typeof body === 'string' && body ? body : `HTTP ${status}`;
    const code = typeof b.code === 'string' ? b.code : `HTTP_${status}`;
    if (status === 401) {
      return new CliError(
        `the ${this.kind} at ${this.baseUrl} refused the request (${message}): ${HINTS[this.kind].token}`,
        EXIT.UNAUTHORIZED,
        code === `HTTP_${status}` ? 'TM_UNAUTHORIZED' : code,
        status,
      );
    }
    const exit = status === 404 ? EXIT.NOT_FOUND : EXIT.FAILED;
    return new CliError(`${this.kind} answered ${status}: ${message}`, exit, code, status);
  }
}
