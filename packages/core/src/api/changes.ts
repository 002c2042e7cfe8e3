/**
 * `GET /{table}/changes` as Server-Sent Events (SPEC §8), socket-free: the HTTP layer hands over a sink that
 * writes to the response and resolves each write once the socket can take more (backpressure). Source is the
 * table's local change log (every change applied to it, local or replicated, in log order, with its own seq and
 * retention), read page by page from storage: a slow client is never buffered in memory, it falls behind.
 *
 * Events:
 *   `event: ready`  first, `data: {table, lastEventId, first, last}`: where the stream starts
 *   (default event) one per change: `id: {incarnation}:{seq}`, `data: {seq, table, key, record|null, origin, wall}`
 *   `event: reset`  the requested position is gone (older than the retention, another incarnation of the table,
 *                   or beyond its end): re-read the table; the stream continues after `id` (the newest change)
 *   `event: error`  the table was dropped; the stream ends
 *   `: heartbeat`   comment every `heartbeatMs` so proxies and clients see a live connection
 * Resume with `Last-Event-ID` (an id above, or a bare seq); without one the stream starts at the newest change
 * (`?start=beginning`: at the oldest retained one).
 */
import { isTmError, TmError } from '../errors.js';
import type { Change, Store } from '../store/store.js';

/** Where the stream writes. */
export interface SseSink {
  /** writes a chunk; resolves when the next one may be written (the socket drained) */
  write(chunk: string): Promise<void>;
  /** true once the client went away or the server is stopping */
  readonly closed: boolean;
  /** resolves when closed becomes true */
  readonly done: Promise<void>;
}

/** The store methods the stream reads. */
export type ChangeSource = Pick<
  Store,
  'getTable' | 'requireTable' | 'readChanges' | 'lastChangeSeq' | 'onChanges'
>;

/** Stream options. */
export interface ChangeStreamOptions {
  /** comment line interval, ms (default 15 s) */
  readonly heartbeatMs?: number;
  /** change-log entries read per page (default 500) */
  readonly pageSize?: number;
  /** reconnect delay suggested to EventSource clients, ms (default 2 s) */
  readonly retryMs?: number;
}

/** Where a client asked to start. */
export interface StreamStart {
  /** the `Last-Event-ID` header (or `lastEventId` parameter) */
  readonly lastEventId?: string | undefined;
  /** without lastEventId: `now` (default) or `beginning` */
  readonly start?: 'now' | 'beginning';
}

/** A parsed event id: `incarnation:seq` or a bare seq (current incarnation). */
export function parseEventId(raw: string): { incarnation?: string; seq: number } {
  const m = /^(?:([0-9a-f]{1,64}):)?(\d{1,15})$/.exec(raw.trim());
  if (!m) {
    throw new TmError(
      'TM_INVALID_ARGUMENT',
      `Last-Event-ID ${JSON.stringify(raw.slice(0, 80))} is not an id of this stream (incarnation:seq)`,
    );
  }
  return { ...(m[1] !== undefined ? { incarnation: m[1] } : {}), seq: Number(m[2]) };
}

const data = (value: unknown): string => `data: ${JSON.stringify(value)}\n`;

/** One change as an SSE frame. */
export function changeFrame(incarnation: string, change: Change): string {
  return `id: ${incarnation}:${change.seq}\n${data(change)}\n`;
}

/**
 * Validates the table and the start position before the response starts (so errors are plain 4xx answers);
 * returns the function that streams.
 */
export function prepareChangeStream(
  store: ChangeSource,
  table: string,
  start: StreamStart,
  options: ChangeStreamOptions = {},
): (sink: SseSink) => Promise<void> {
  const def = store.requireTable(table);
  const resume = start.lastEventId ? parseEventId(start.lastEventId) : undefined;
  return (sink) => runStream(store, def.name, resume, start, options, sink);
}

async function runStream(
  store: ChangeSource,
  name: string,
  resume: { incarnation?: string; seq: number } | undefined,
  start: StreamStart,
  options: ChangeStreamOptions,
  sink: SseSink,
): Promise<void> {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const pageSize = options.pageSize ?? 500;
  let dirty = false;
  let wake: (() => void) | undefined;
  const unsubscribe = store.onChanges((changes) => {
    if (!changes.some((c) => c.table === name)) return;
    dirty = true;
    wake?.();
  });
  try {
    void sink.done.then(() => wake?.());
    let incarnation = store.requireTable(name).incarnation;
    await sink.write(`retry: ${options.retryMs ?? 2_000}\n\n`);
    let cursor = await startCursor(store, name, incarnation, resume, start, sink);
    while (!sink.closed) {
      const def = store.getTable(name);
      if (!def) {
        await sink.write(
          `event: error\n${data({ table: name, error: `table '${name}' was dropped`, code: 'TM_UNKNOWN_TABLE' })}\n`,
        );
        return;
      }
      if (def.incarnation !== incarnation) {
        // Dropped and created again: the log restarted; its old positions mean nothing now.
        incarnation = def.incarnation;
        cursor = await sendReset(store, name, incarnation, 'incarnation', undefined, sink);
        continue;
      }
      dirty = false;
      const page = await store.readChanges(name, cursor, pageSize);
      if (cursor < page.first - 1) {
        cursor = await sendReset(store, name, incarnation, 'retention', cursor, sink);
        continue;
      }
      if (page.changes.length > 0) {
        await sink.write(page.changes.map((c) => changeFrame(incarnation, c)).join(''));
        cursor = page.changes[page.changes.length - 1]!.seq;
        continue;
      }
      if (dirty) continue;
      const timedOut = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), heartbeatMs);
        wake = () => {
          clearTimeout(timer);
          resolve(false);
        };
        if (sink.closed) wake();
      });
      wake = undefined;
      if (timedOut && !sink.closed) await sink.write(': heartbeat\n\n');
    }
  } catch (err) {
    if (!isTmError(err, 'TM_UNKNOWN_TABLE') || sink.closed) throw err;
    await sink.write(`event: error\n${data({ table: name, error: err.message, code: err.code })}\n`);
  } finally {
    unsubscribe();
  }
}

async function startCursor(
  store: ChangeSource,
  name: string,
  incarnation: string,
  resume: { incarnation?: string; seq: number } | undefined,
  start: StreamStart,
  sink: SseSink,
): Promise<number> {
  const last = await store.lastChangeSeq(name);
  const { first } = await store.readChanges(name, last, 1);
  if (resume) {
    const reason =
      resume.incarnation !== undefined && resume.incarnation !== incarnation
        ? 'incarnation'
        : resume.seq < first - 1
          ? 'retention'
          : resume.seq > last
            ? 'unknown'
            : undefined;
    if (reason) return sendReset(store, name, incarnation, reason, resume.seq, sink);
  }
  const cursor = resume ? resume.seq : start.start === 'beginning' ? first - 1 : last;
  await sink.write(
    `event: ready\n${data({ table: name, lastEventId: `${incarnation}:${cursor}`, first, last })}\n`,
  );
  return cursor;
}

/** Sends `event: reset` with the newest change's id; returns it as the new cursor. */
async function sendReset(
  store: ChangeSource,
  name: string,
  incarnation: string,
  reason: 'retention' | 'incarnation' | 'unknown',
  requested: number | undefined,
  sink: SseSink,
): Promise<number> {
  const last = await store.lastChangeSeq(name);
  const { first } = await store.readChanges(name, last, 1);
  const body = { table: name, reason, ...(requested !== undefined ? { requested } : {}), first, last };
  await sink.write(`event: reset\nid: ${incarnation}:${last}\n${data(body)}\n`);
  return last;
}

/** The part of a node:http ServerResponse a sink writes to (core does not import node:http). */
export interface StreamTarget {
  write(chunk: string): boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * A sink over a response: a write that fills the socket buffer resolves on `drain` (or `close`), so the stream
 * never queues more than one page in memory; `close()` (server stop) and the client's leaving end it.
 */
export function sinkFor(res: StreamTarget): SseSink & { close(): void } {
  let closed = false;
  let markDone!: () => void;
  const done = new Promise<void>((resolve) => {
    markDone = resolve;
  });
  const close = () => {
    if (closed) return;
    closed = true;
    markDone();
  };
  res.once('close', close);
  return {
    get closed() {
      return closed;
    },
    done,
    close,
    write(chunk) {
      if (closed || res.write(chunk)) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const go = () => {
          res.off('drain', go);
          res.off('close', go);
          resolve();
        };
        res.once('drain', go);
        res.once('close', go);
      });
    },
  };
}
