/**
 * The history of a reliability run, Jepsen style: every client operation is recorded when invoked and when it
 * completes as `ok`, `fail` (known not to have happened: refused before or without commit) or `info`
 * (indeterminate: a timeout, a reset, a crash — it may or may not have happened, never counted as a failure).
 * Written values are self-describing: each write carries a token `client.n` unique in the run, so the checker
 * can tell which write any value it finds came from.
 */
import http from 'node:http';
import type { JsonValue, Stamp } from '@tablemesh/core';

/** A client operation. */
export type OpKind = 'put' | 'patch' | 'delete' | 'read';

/** How an operation ended. */
export type Outcome = 'ok' | 'fail' | 'info';

/** One operation of the history. */
export interface HistoryOp {
  readonly id: number;
  /** the client (a sequential process) */
  readonly client: string;
  /** node id of the API the client talks to: the origin of its writes */
  readonly node: string;
  /** `db.table` */
  readonly table: string;
  readonly kind: OpKind;
  readonly key: string;
  /** attributes written (put: all of them, patch: the patched ones) */
  readonly attrs?: Readonly<Record<string, JsonValue>>;
  /** the write's unique token (in every attribute it writes) */
  readonly token?: string;
  readonly invokedAt: number;
  completedAt?: number;
  outcome?: Outcome;
  /** HTTP status when there was an answer */
  status?: number;
  /** the committed transaction (write answers) */
  stamp?: Stamp;
  seq?: number;
  /** what a read returned (null: not found) */
  value?: Record<string, JsonValue> | null;
  error?: string;
}

/** Counts of a history. */
export interface HistorySummary {
  readonly invoked: number;
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  readonly writesOk: number;
  readonly reads: number;
  /** answers by HTTP status, e.g. { "200": 812, "507": 40 } */
  readonly statuses: Readonly<Record<string, number>>;
}

/** An append-only history. */
export class History {
  readonly ops: HistoryOp[] = [];
  private nextId = 1;

  /** Records the invocation of an operation. */
  invoke(op: Omit<HistoryOp, 'id' | 'invokedAt'>): HistoryOp {
    const entry: HistoryOp = { ...op, id: this.nextId++, invokedAt: Date.now() };
    this.ops.push(entry);
    return entry;
  }

  /** Completes an operation. */
  complete(op: HistoryOp, outcome: Outcome, fields: Partial<HistoryOp> = {}): void {
    Object.assign(op, fields);
    op.outcome = outcome;
    op.completedAt = Date.now();
  }

  /** Operations still open (invoked, never completed) become `info` (e.g. at the end of a run). */
  closeOpen(why = 'still open at the end of the run'): void {
    for (const op of this.ops) if (op.outcome === undefined) this.complete(op, 'info', { error: why });
  }

  summary(): HistorySummary {
    const statuses: Record<string, number> = {};
    let ok = 0;
    let fail = 0;
    let info = 0;
    let writesOk = 0;
    let reads = 0;
    for (const op of this.ops) {
      if (op.outcome === 'ok') ok++;
      else if (op.outcome === 'fail') fail++;
      else if (op.outcome === 'info') info++;
      if (op.outcome === 'ok' && op.kind !== 'read') writesOk++;
      if (op.kind === 'read') reads++;
      if (op.status !== undefined) statuses[op.status] = (statuses[op.status] ?? 0) + 1;
    }
    return { invoked: this.ops.length, ok, fail, info, writesOk, reads, statuses };
  }
}

/** A node's data API as a client sees it: the base URL now (ports change across restarts) and a token. */
export interface ApiTarget {
  /** node id: the origin of the writes made through it */
  readonly node: string;
  readonly url: () => string;
  readonly token?: string;
}

/** The result of one API call: an answer, or why there was none and whether the request may have been applied. */
export type CallResult =
  | { readonly kind: 'answer'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'no-answer'; readonly maybeApplied: boolean; readonly error: string };

/**
 * One HTTP request on a fresh connection (no keep-alive: a killed node's pooled socket would turn a clean
 * "connection refused" into an indeterminate reset). Never throws.
 */
export function callApi(
  target: ApiTarget,
  method: string,
  path: string,
  body: unknown,
  timeoutMs: number,
): Promise<CallResult> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(path, target.url());
    } catch (err) {
      resolve({ kind: 'no-answer', maybeApplied: false, error: String(err) });
      return;
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: http.OutgoingHttpHeaders = {};
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (target.token) headers['authorization'] = `Bearer ${target.token}`;
    let sent = false;
    let settled = false;
    const settle = (r: CallResult) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const req = http.request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => settle({ kind: 'no-answer', maybeApplied: true, error: String(err) }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch {
          parsed = text;
        }
        settle({ kind: 'answer', status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('socket', (socket) => socket.once('connect', () => (sent = true)));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Refused or unreachable before the request left: it cannot have been applied.
      const before = !sent || err.code === 'ECONNREFUSED';
      settle({ kind: 'no-answer', maybeApplied: !before, error: `${err.code ?? ''} ${err.message}`.trim() });
    });
    req.end(payload);
  });
}

const recordPath = (table: string, key: string) =>
  `/${encodeURIComponent(table.replace(/^data\./, ''))}/${encodeURIComponent(key)}`;

/**
 * A write through the data API, recorded in the history. Outcome: 2xx → ok (with the committed stamp and seq);
 * 4xx and 507 → fail (the API refuses before committing, SPEC §7); other 5xx, timeouts, resets → info.
 */
export async function recordedWrite(
  history: History,
  client: string,
  target: ApiTarget,
  table: string,
  kind: 'put' | 'patch' | 'delete',
  key: string,
  attrs: Readonly<Record<string, JsonValue>> | undefined,
  token: string,
  timeoutMs = 5_000,
): Promise<HistoryOp> {
  const op = history.invoke({
    client,
    node: target.node,
    table,
    kind,
    key,
    token,
    ...(attrs ? { attrs } : {}),
  });
  const method = kind === 'put' ? 'PUT' : kind === 'patch' ? 'PATCH' : 'DELETE';
  const result = await callApi(target, method, recordPath(table, key), attrs, timeoutMs);
  if (result.kind === 'no-answer') {
    history.complete(op, result.maybeApplied ? 'info' : 'fail', { error: result.error });
    return op;
  }
  const answer = (result.body ?? {}) as { stamp?: Stamp; seq?: number; error?: string };
  if (result.status >= 200 && result.status < 300) {
    history.complete(op, 'ok', {
      status: result.status,
      ...(answer.stamp ? { stamp: answer.stamp } : {}),
      ...(typeof answer.seq === 'number' ? { seq: answer.seq } : {}),
    });
  } else {
    const definite = result.status >= 400 && (result.status < 500 || result.status === 507);
    history.complete(op, definite ? 'fail' : 'info', {
      status: result.status,
      error: String(answer.error ?? result.body),
    });
  }
  return op;
}

/** A read through the data API, recorded in the history (the value read, or null for 404). */
export async function recordedRead(
  history: History,
  client: string,
  target: ApiTarget,
  table: string,
  key: string,
  timeoutMs = 5_000,
): Promise<HistoryOp> {
  const op = history.invoke({ client, node: target.node, table, kind: 'read', key });
  const result = await callApi(target, 'GET', recordPath(table, key), undefined, timeoutMs);
  if (result.kind === 'no-answer') history.complete(op, 'fail', { error: result.error });
  else if (result.status === 200)
    history.complete(op, 'ok', { status: 200, value: result.body as Record<string, JsonValue> });
  else if (result.status === 404) history.complete(op, 'ok', { status: 404, value: null });
  else history.complete(op, 'fail', { status: result.status, error: JSON.stringify(result.body) });
  return op;
}
