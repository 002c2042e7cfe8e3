/** Helpers of the data API e2e tests: requests with any headers, and an SSE reader (not a test file). */
import assert from 'node:assert/strict';
import type { EdgeNode, HubNode } from '@tablemesh/testkit';

/** An answer: status, headers and the parsed JSON body (or the text). */
export interface Answer<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** Base URL and auth header of a node. */
function target(node: EdgeNode | HubNode): { base: string; auth: Record<string, string> } {
  const hub = 'token' in node;
  return {
    base: `http://127.0.0.1:${node.httpPort}`,
    auth: hub ? { authorization: `Bearer ${(node as HubNode).token}` } : {},
  };
}

/** A request with JSON body and extra headers; never throws for a status. */
export async function call<T = unknown>(
  node: EdgeNode | HubNode,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const { base, auth } = target(node);
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...auth,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json') && text !== '';
  return { status: res.status, headers: res.headers, body: (json ? JSON.parse(text) : text) as T };
}

/** `POST /` with an operation body. */
export function op<T = unknown>(
  node: EdgeNode | HubNode,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return call<T>(node, 'POST', '/', body, headers);
}

/** Asserts status and full body. */
export function expectAnswer(answer: Answer, status: number, body: unknown, what = ''): void {
  assert.equal(answer.status, status, `${what} status; body ${JSON.stringify(answer.body)}`);
  assert.deepEqual(answer.body, body, what);
}

/** One server-sent event. */
export interface SseEvent {
  readonly event: string;
  readonly id?: string;
  readonly data?: Record<string, unknown>;
}

/** An open event stream: events so far, `next` waits for one, `close` ends it. */
export interface SseStream {
  readonly status: number;
  readonly events: SseEvent[];
  next(pred: (e: SseEvent) => boolean, what: string, timeoutMs?: number): Promise<SseEvent>;
  close(): Promise<void>;
}

/** Opens `GET {path}` as an event stream. */
export async function openSse(
  node: EdgeNode | HubNode,
  path: string,
  headers: Record<string, string> = {},
): Promise<SseStream> {
  const { base, auth } = target(node);
  const controller = new AbortController();
  const res = await fetch(`${base}${path}`, {
    headers: { accept: 'text/event-stream', ...auth, ...headers },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  if (res.status === 200 && res.body) {
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let e: { event: string; id?: string; data?: Record<string, unknown> } = { event: 'message' };
          let comment = true;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            comment = false;
            if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('data: ')) e = { ...e, data: JSON.parse(line.slice(6)) };
            else if (line.startsWith('retry: ')) e.event = 'retry';
          }
          if (!comment) events.push(e);
        }
      }
    })();
  } else {
    await res.text();
  }
  return {
    status: res.status,
    events,
    async next(pred, what, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(pred);
        if (found) return found;
        if (Date.now() > deadline)
          throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      controller.abort();
    },
  };
}

/** A number close to now (ms), for derived times and stamps. */
export function isRecentMs(v: unknown): boolean {
  return typeof v === 'number' && Math.abs(Date.now() - v) < 120_000;
}

/** The record with its derived times checked and removed. */
export function withoutTimes(r: unknown): Record<string, unknown> {
  const { __createdtime__: c, __updatedtime__: u, ...rest } = r as Record<string, unknown>;
  assert.ok(
    isRecentMs(c) && isRecentMs(u) && (c as number) <= (u as number),
    `derived times of ${JSON.stringify(r)}`,
  );
  return rest;
}
