import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEventId, prepareChangeStream, type SseSink, sinkFor } from '../src/api/changes.js';
import { isTmError } from '../src/errors.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { Store } from '../src/store/store.js';

interface Event {
  event: string;
  id?: string;
  data?: unknown;
  comment?: string;
}

/** A sink that records what is written; `gate` (when set) holds every write until released. */
function makeSink() {
  let close!: () => void;
  const done = new Promise<void>((resolve) => {
    close = resolve;
  });
  const sink = {
    chunks: [] as string[],
    closed: false,
    done,
    inFlight: 0,
    maxInFlight: 0,
    gate: undefined as Promise<void> | undefined,
    async write(chunk: string) {
      sink.inFlight++;
      sink.maxInFlight = Math.max(sink.maxInFlight, sink.inFlight);
      sink.chunks.push(chunk);
      if (sink.gate) await sink.gate;
      sink.inFlight--;
    },
    close() {
      sink.closed = true;
      close();
    },
    events(): Event[] {
      return sink.chunks
        .join('')
        .split('\n\n')
        .filter((block) => block.length > 0)
        .map((block) => {
          const e: Event = { event: 'message' };
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              e.comment = line.slice(1).trim();
              e.event = 'comment';
            } else if (line.startsWith('event: ')) e.event = line.slice(7);
            else if (line.startsWith('id: ')) e.id = line.slice(4);
            else if (line.startsWith('data: ')) e.data = JSON.parse(line.slice(6));
            else if (line.startsWith('retry: ')) e.event = 'retry';
          }
          return e;
        });
    },
  };
  return sink satisfies SseSink;
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function open(retention?: number) {
  const store = await Store.open({
    kv: new MemoryKv(),
    nodeId: 'edge1',
    sync: false,
    ...(retention ? { changeLogRetention: retention } : {}),
  });
  await store.createTable({ name: 'thresholds' });
  await store.createTable({ name: 'other' });
  const put = (key: string, attrs: Record<string, number>) =>
    store.writeLocal([{ table: 'thresholds', ops: [{ kind: 'put', key, attrs }] }]);
  return { store, put, inc: store.requireTable('thresholds').incarnation };
}

const changes = (sink: ReturnType<typeof makeSink>) => sink.events().filter((e) => e.event === 'message');

describe('change stream (SSE)', () => {
  it('starts at the newest change and streams every later one in order, deletes as record null', async () => {
    const { store, put, inc } = await open();
    await put('a', { max: 1 });
    const sink = makeSink();
    const running = prepareChangeStream(store, 'thresholds', {}, { heartbeatMs: 10_000 })(sink);
    await until(() => sink.events().some((e) => e.event === 'ready'), 'ready');
    assert.deepEqual(sink.events().find((e) => e.event === 'ready')?.data, {
      table: 'data.thresholds',
      lastEventId: `${inc}:1`,
      first: 1,
      last: 1,
    });
    await put('b', { max: 2 });
    await store.writeLocal([{ table: 'other', ops: [{ kind: 'put', key: 'x', attrs: {} }] }]);
    await store.writeLocal([{ table: 'thresholds', ops: [{ kind: 'delete', key: 'a' }] }]);
    await until(() => changes(sink).length === 2, 'two changes');
    const [b, a] = changes(sink);
    assert.equal(b!.id, `${inc}:2`);
    assert.deepEqual(
      [(b!.data as { key: string }).key, (b!.data as { record: { max: number } }).record.max],
      ['b', 2],
    );
    assert.equal(a!.id, `${inc}:3`);
    assert.deepEqual([(a!.data as { key: string }).key, (a!.data as { record: null }).record], ['a', null]);
    assert.equal(sink.events()[0]!.event, 'retry');
    sink.close();
    await running;
  });

  it('resumes after Last-Event-ID, and start=beginning replays what is retained', async () => {
    const { store, put, inc } = await open();
    for (let i = 1; i <= 5; i++) await put(`k${i}`, { v: i });
    const sink = makeSink();
    const running = prepareChangeStream(store, 'thresholds', { lastEventId: `${inc}:3` })(sink);
    await until(() => changes(sink).length === 2, 'replay');
    assert.deepEqual(
      changes(sink).map((e) => e.id),
      [`${inc}:4`, `${inc}:5`],
    );
    sink.close();
    await running;
    const bare = makeSink();
    const r2 = prepareChangeStream(store, 'thresholds', { lastEventId: '4' })(bare);
    await until(() => changes(bare).length === 1, 'bare id');
    bare.close();
    await r2;
    const all = makeSink();
    const r3 = prepareChangeStream(store, 'thresholds', { start: 'beginning' })(all);
    await until(() => changes(all).length === 5, 'beginning');
    all.close();
    await r3;
  });

  it('an id older than the retention, of another incarnation or beyond the end gets event: reset', async () => {
    const { store, put, inc } = await open(5);
    for (let i = 1; i <= 20; i++) await put(`k${i}`, { v: i });
    const { first } = await store.readChanges('thresholds', 0, 1);
    assert.ok(first > 2, `the log was trimmed (first ${first})`);
    for (const lastEventId of [`${inc}:1`, 'ffff:19', `${inc}:99`]) {
      const last = await store.lastChangeSeq('thresholds');
      const sink = makeSink();
      const running = prepareChangeStream(store, 'thresholds', { lastEventId })(sink);
      await until(() => sink.events().some((e) => e.event === 'reset'), `reset for ${lastEventId}`);
      const reset = sink.events().find((e) => e.event === 'reset')!;
      assert.equal(reset.id, `${inc}:${last}`, lastEventId);
      assert.deepEqual(
        (reset.data as { reason: string }).reason,
        lastEventId.endsWith(':1') ? 'retention' : lastEventId.startsWith('ffff') ? 'incarnation' : 'unknown',
      );
      await put('after', { v: 0 });
      await until(() => changes(sink).length === 1, 'live after reset');
      sink.close();
      await running;
    }
    assert.throws(
      () => prepareChangeStream(store, 'thresholds', { lastEventId: 'nope' }),
      (err) => isTmError(err, 'TM_INVALID_ARGUMENT'),
    );
    assert.throws(
      () => prepareChangeStream(store, 'missing', {}),
      (err) => isTmError(err, 'TM_UNKNOWN_TABLE'),
    );
  });

  it('sends heartbeat comments on a quiet table and never has two writes in flight (backpressure)', async () => {
    const { store } = await open();
    const sink = makeSink();
    let release!: () => void;
    const running = prepareChangeStream(store, 'thresholds', {}, { heartbeatMs: 20, pageSize: 2 })(sink);
    await until(() => sink.events().some((e) => e.comment === 'heartbeat'), 'heartbeat');
    sink.gate = new Promise<void>((r) => {
      release = r;
    });
    const ops = [0, 1, 2, 3, 4, 5].map((i) => ({ kind: 'put' as const, key: `k${i}`, attrs: { v: i } }));
    await store.writeLocal([{ table: 'thresholds', ops }]);
    await until(() => changes(sink).length >= 2, 'first page');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(changes(sink).length, 2, 'no further page is read while the socket is full');
    release();
    sink.gate = undefined;
    await until(() => changes(sink).length === 6, 'all pages');
    assert.equal(sink.maxInFlight, 1);
    sink.close();
    await running;
  });

  it('a dropped table ends the stream with event: error; a re-created one resets', async () => {
    const { store, put } = await open();
    const sink = makeSink();
    const running = prepareChangeStream(store, 'thresholds', {}, { heartbeatMs: 10 })(sink);
    await until(() => sink.events().some((e) => e.event === 'ready'), 'ready');
    await store.dropTable('thresholds');
    await running;
    const error = sink.events().find((e) => e.event === 'error');
    assert.deepEqual(error?.data, {
      table: 'data.thresholds',
      error: "table 'data.thresholds' was dropped",
      code: 'TM_UNKNOWN_TABLE',
    });

    await store.createTable({ name: 'thresholds' });
    const again = makeSink();
    const r2 = prepareChangeStream(store, 'thresholds', {}, { heartbeatMs: 10 })(again);
    await until(() => again.events().some((e) => e.event === 'ready'), 'ready 2');
    await put('x', { v: 1 });
    await until(() => changes(again).length === 1, 'change');
    const before = store.requireTable('thresholds').incarnation;
    await store.dropTable('thresholds');
    await store.createTable({ name: 'thresholds' });
    // the stream sees either the drop (error) or the new incarnation (reset); both tell the client to re-read
    await until(
      () => again.events().some((e) => e.event === 'reset' || e.event === 'error'),
      'reset or error',
    );
    assert.notEqual(store.requireTable('thresholds').incarnation, before);
    again.close();
    await r2;
  });

  it('parses event ids', () => {
    assert.deepEqual(parseEventId('ab12:7'), { incarnation: 'ab12', seq: 7 });
    assert.deepEqual(parseEventId(' 42 '), { seq: 42 });
    assert.throws(() => parseEventId('x:1'));
  });
});

describe('sinkFor', () => {
  it('resolves a write that fills the socket on drain, and ends on close', async () => {
    const { EventEmitter } = await import('node:events');
    const target = Object.assign(new EventEmitter(), { full: false, written: [] as string[] });
    const res = Object.assign(target, {
      write(chunk: string) {
        target.written.push(chunk);
        return !target.full;
      },
    });
    const sink = sinkFor(res);
    await sink.write('a');
    target.full = true;
    let drained = false;
    const pending = sink.write('b').then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(drained, false, 'waits for drain');
    target.emit('drain');
    await pending;
    assert.deepEqual(target.written, ['a', 'b']);
    assert.equal(sink.closed, false);
    const stuck = sink.write('c');
    target.emit('close');
    await stuck;
    await sink.done;
    assert.equal(sink.closed, true);
    await sink.write('d');
    assert.deepEqual(target.written, ['a', 'b', 'c'], 'nothing is written after close');
  });
});
