// The only transport the example needs: fetch against a tablemesh HTTP API (the local edge, or the hub with
// its bearer token), and a table watcher that is pushed changes over Server-Sent Events.
//
// API used (README "HTTP API"): GET/PUT /{table}/{id}, GET /{table}/?attr=value&attr.ge=…&sort=…,
// POST /_batch (several tables in one atomic local request), GET /{table}/changes (SSE).

/** An error answer of the API, with its HTTP status and stable `code` (docs/errors.md). */
export class ApiError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} answered ${status}: ${body?.error ?? JSON.stringify(body)}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.code;
  }
}

/** A client of one node's HTTP API: `client('http://127.0.0.1:9380')`, or with the hub's token. */
export function client(baseUrl, token) {
  const base = baseUrl.replace(/\/$/, '');
  const headers = {
    'content-type': 'application/json',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };

  async function request(method, path, body) {
    const res = await fetch(base + path, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const parsed = text && (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(text) : text;
    if (!res.ok) throw new ApiError(method, path, res.status, parsed);
    return parsed;
  }

  const rec = (table, id) => `/${encodeURIComponent(table)}/${encodeURIComponent(id)}`;
  return {
    base,
    token,
    request,
    /** The record, or undefined when there is none (or the table does not exist yet). */
    async get(table, id) {
      try {
        return await request('GET', rec(table, id));
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return undefined;
        throw err;
      }
    },
    put: (table, id, record) => request('PUT', rec(table, id), record),
    /** `query('sensor_data', { sensor: '"temp"', 'ts.ge': 1 })`: matching records ([] if the table is missing). */
    async query(table, params = {}) {
      const qs = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));
      try {
        return await request('GET', `/${encodeURIComponent(table)}/?${qs}`);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'TM_UNKNOWN_TABLE') return [];
        throw err;
      }
    },
    /** One atomic local request across tables: `[{ table, ops: [{ kind: 'put', key, attrs }] }]`. */
    batch: (writes) => request('POST', '/_batch', { writes }),
  };
}

const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Keeps `onRecord(key, record | null)` up to date with every record of `table` (primary key `id`): a full read,
 * then the changes pushed by `GET /{table}/changes` (Server-Sent Events), resumed with Last-Event-ID after a
 * dropped stream, and a full read again after an `event: reset` (the missed changes are older than the node's
 * change-log retention). `onConnected()` is called each time the stream is up. Errors go to `onError` and the
 * watch retries after `retryMs`. Ends when `signal` aborts.
 */
export async function watchTable(api, table, { onRecord, onConnected, onError, signal, retryMs = 1_000 }) {
  const known = new Map(); // key → JSON of the record, so an unchanged record is not reported again
  const apply = (key, record) => {
    const json = record === null ? null : JSON.stringify(record);
    if ((known.get(key) ?? null) === json) return;
    if (record === null) known.delete(key);
    else known.set(key, json);
    onRecord(key, record);
  };
  const readAll = async () => {
    const records = await api.query(table);
    const seen = new Set(records.map((r) => r.id));
    for (const r of records) apply(r.id, r);
    for (const key of [...known.keys()]) if (!seen.has(key)) apply(key, null);
  };

  let lastEventId;
  while (!signal?.aborted) {
    try {
      const resuming = lastEventId !== undefined;
      const res = await fetch(`${api.base}/${encodeURIComponent(table)}/changes`, {
        headers: {
          accept: 'text/event-stream',
          ...(api.token ? { authorization: `Bearer ${api.token}` } : {}),
          ...(resuming ? { 'last-event-id': lastEventId } : {}),
        },
        signal,
      });
      if (!res.ok) {
        const body = await res.json().catch(() => ({}));
        // A subscribed table arrives with the edge's first sync with the hub: until then, wait quietly.
        if (body.code !== 'TM_UNKNOWN_TABLE')
          throw new ApiError('GET', `/${table}/changes`, res.status, body);
        await sleep(retryMs, signal);
        continue;
      }
      onConnected?.();
      for await (const event of sseEvents(res.body)) {
        if (event.id) lastEventId = event.id;
        if (event.event === 'message') {
          const change = JSON.parse(event.data);
          apply(change.key, change.record);
        } else if ((event.event === 'ready' && !resuming) || event.event === 'reset') {
          await readAll(); // a fresh start, or the missed changes are gone: read the whole table
        } else if (event.event === 'error') {
          throw new Error(`${table}: ${JSON.parse(event.data).error}`);
        }
      }
    } catch (err) {
      if (signal?.aborted) break;
      onError?.(err);
    }
    await sleep(retryMs, signal); // the stream ended or the node is unreachable: reconnect, resuming
  }
}

/** Parses a text/event-stream body into `{event, id, data}` objects (WHATWG HTML §9.2 "event stream"). */
export async function* sseEvents(body) {
  const decoder = new TextDecoder();
  let buffer = '';
  let event = { event: 'message', data: [] };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let nl = buffer.search(/\r?\n/); nl >= 0; nl = buffer.search(/\r?\n/)) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(buffer[nl] === '\r' ? nl + 2 : nl + 1);
      if (line === '') {
        if (event.data.length > 0 || event.event !== 'message')
          yield { ...event, data: event.data.join('\n') };
        event = { event: 'message', data: [] };
        continue;
      }
      if (line.startsWith(':')) continue; // comment (heartbeat)
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'data') event.data.push(value);
      else if (field === 'event') event.event = value;
      else if (field === 'id') event.id = value;
    }
  }
}
