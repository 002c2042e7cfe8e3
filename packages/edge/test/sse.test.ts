import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryKv, Store } from '@tablemesh/core';
import { pino } from 'pino';
import { startHttp } from '../src/http.js';

interface SseEvent {
  event: string;
  id?: string;
  data?: Record<string, unknown>;
}

/** Reads an SSE response incrementally; `next(pred)` waits for the first matching event. */
function reader(res: Response) {
  const events: SseEvent[] = [];
  let comments = 0;
  let buffer = '';
  const decoder = new TextDecoder();
  const body = res.body!.getReader();
  const pump = (async () => {
    for (;;) {
      const { value, done } = await body.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut = buffer.indexOf('\n\n');
      while (cut >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const e: SseEvent = { event: 'message' };
        let comment = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comment = true;
          else if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
          else if (line.startsWith('retry: ')) e.event = 'retry';
        }
        if (comment) comments++;
        else events.push(e);
        cut = buffer.indexOf('\n\n');
      }
    }
  })();
  return {
    events,
    get comments() {
      return comments;
    },
    ended: pump,
    async next(pred: (e: SseEvent) => boolean, what: string): Promise<SseEvent> {
      const deadline = Date.now() + 5000;
      for (;;) {
        const found = events.find(pred);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no ${what} in ${JSON.stringify(events)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    cancel: () => body.cancel(),
  };
}

describe('GET /{table}/changes over HTTP (edge)', () => {
  it('streams local changes, resumes with Last-Event-ID, heartbeats, and ends when the server stops', async () => {
    const store = await Store.open({ kv: new MemoryKv(), nodeId: 'edge1', sync: false });
    await store.createTable({ name: 'thresholds' });
    const server = await startHttp({
      host: '127.0.0.1',
      port: 0,
      rest: { store, write: (w) => store.writeLocal(w), isReadOnly: () => false },
      health: () => ({}),
      metrics: () => '',
      logger: pino({ level: 'silent' }),
      changeStream: { heartbeatMs: 50 },
    });
    const url = `http://127.0.0.1:${server.port}`;
    const put = (key: string, max: number) =>
      fetch(`${url}/thresholds/${key}`, { method: 'PUT', body: JSON.stringify({ max }) });

    const res = await fetch(`${url}/thresholds/changes`, { headers: { accept: 'text/event-stream' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache, no-transform');
    const sse = reader(res);
    await sse.next((e) => e.event === 'ready', 'ready');
    assert.equal((await put('s1', 40)).status, 200);
    assert.equal((await put('s2', 50)).status, 200);
    const second = await sse.next((e) => e.event === 'message' && e.data?.['key'] === 's2', 's2');
    const first = sse.events.find((e) => e.data?.['key'] === 's1')!;
    const record = first.data!['record'] as Record<string, number>;
    assert.deepEqual(record, {
      id: 's1',
      max: 40,
      __createdtime__: record['__createdtime__'],
      __updatedtime__: record['__updatedtime__'],
    });
    assert.equal(typeof record['__createdtime__'], 'number');
    await new Promise((r) => setTimeout(r, 120));
    assert.ok(sse.comments >= 1, 'heartbeat comments on a quiet stream');
    await sse.cancel();

    // resume after s1: gets s2 (and what came later), not s1
    await put('s3', 60);
    const resumed = await fetch(`${url}/thresholds/changes`, { headers: { 'last-event-id': first.id! } });
    const sse2 = reader(resumed);
    await sse2.next((e) => e.data?.['key'] === 's3', 's3');
    assert.deepEqual(
      sse2.events.filter((e) => e.event === 'message').map((e) => e.id),
      [second.id, sse2.events.at(-1)!.id],
    );

    // errors are plain JSON answers before the stream starts
    const missing = await fetch(`${url}/nope/changes`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), {
      error: "table 'data.nope' does not exist",
      code: 'TM_UNKNOWN_TABLE',
    });
    const badId = await fetch(`${url}/thresholds/changes`, { headers: { 'last-event-id': 'garbage' } });
    assert.equal(badId.status, 400);
    const badStart = await fetch(`${url}/thresholds/changes?start=yesterday`);
    assert.equal(badStart.status, 400);
    await badStart.text();

    // stop with a stream open: close() resolves and the stream ends
    const stopped = Promise.race([
      server.close().then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('hung'), 3000)),
    ]);
    assert.equal(await stopped, 'closed');
    await sse2.ended;
    await store.close();
  });
});
