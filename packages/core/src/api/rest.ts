/**
 * The REST data API (SPEC §8) as a pure request handler: no sockets, so it is tested without a server and shared
 * by the edge and the hub, whose `http.ts` only move bytes.
 *
 * Routes (`{table}` is `table` in database `data`, or `db.table`):
 *   GET    /{table}/{id}   the live record, or 404
 *   PUT    /{table}/{id}   full replace (put) with the body object
 *   PATCH  /{table}/{id}   set the body's attributes (patch)
 *   DELETE /{table}/{id}   delete (a tombstone, I5)
 *   POST   /{table}/       create: the body's primary key, else a generated UUIDv7; 201 + Location
 *   GET    /{table}/?…     query (see parseRestQuery)
 *   POST   /_batch         `{writes:[{table, ops:[{kind, key, attrs}]}]}` committed as one local batch (SPEC §4)
 *   GET    /_digest/{table} `{digest, count}`: the table digest over live records (SPEC §3; for diff and tests);
 *                           `?ranges=N` adds per-key-range digests, `&range=i` lists range i's keys (digest-ranges.ts)
 *   GET    /_receipts/{table}/{epoch}/{seq}  what the hub did with a transaction (the 202 of confirm=hub points here)
 *   POST   /               the HarperDB-compatible operations API (operations.ts)
 * `GET /{table}/changes` (SSE) is served by the HTTP front before this handler (changes.ts).
 *
 * Ids in paths are strings; `?idType=number` makes the id a number (`GET /t/1?idType=number` reads key 1, `GET /t/1`
 * reads key "1" — SPEC §3: `"1"` ≠ `1`). Write answers carry the committed transaction's table, key, seq and stamp;
 * writes take the confirmation option of confirm.ts (local by default, or wait for the hub's receipt).
 * GET answers carry a strong `ETag` (SHA-256 of the canonical JSON); `If-None-Match` with it answers 304.
 * Queries answer `X-Tablemesh-Records-Read`: the records the store fetched for them (index use is visible).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { type ErrorCode, isTmError, TmError } from '../errors.js';
import type { Condition, Query } from '../store/query.js';
import type { LiveRecord, LocalWrite, Store } from '../store/store.js';
import type { JsonValue, Op, PrimaryKey, Transaction } from '../types.js';
import { uuidv7 } from '../uuid.js';
import { assertPrimaryKey } from '../validate.js';
import {
  assertConfirmable,
  confirmWrite,
  parseConfirm,
  type ReceiptTracker,
  type WriteAnswer,
} from './confirm.js';
import { digestAnswer } from './digest-ranges.js';
import { type ClusterManager, handleOperation } from './operations.js';

/** A request as the HTTP layer hands it over: body already parsed from JSON (undefined when empty). */
export interface RestRequest {
  readonly method: string;
  /** the path without query string, e.g. `/data.alerts/42` */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: unknown;
}

/** A response: `body` is sent as JSON when defined. */
export interface RestResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/** The store methods the data API uses (REST, operations, change stream). */
export type ApiStore = Pick<
  Store,
  | 'requireTable'
  | 'getTable'
  | 'listTables'
  | 'createTable'
  | 'dropTable'
  | 'get'
  | 'query'
  | 'digest'
  | 'scanStates'
  | 'transact'
  | 'kv'
>;

/** What the handler needs: the store for reads, the node's write path, and which tables are read-only. */
export interface RestDeps {
  readonly store: ApiStore;
  /** commits one local request (the edge adds its outbox; SPEC §4 all or nothing) */
  write(writes: readonly LocalWrite[]): Promise<Transaction[]>;
  /** true for subscribe-only tables (SPEC §5: local writes get 409 TM_READ_ONLY_TABLE) */
  isReadOnly(table: string): boolean;
  /** id generator for POST (default UUIDv7) */
  readonly newId?: () => string;
  /** called with errors answered as 500, for logging */
  readonly onInternalError?: (err: unknown) => void;
  /** what this node is (default edge): the hub confirms its own writes and has no subscriptions to manage */
  readonly role?: 'edge' | 'hub';
  /** the edge's receipt waiter, for `confirm=hub` and `/_receipts` */
  readonly receipts?: ReceiptTracker;
  /** the edge's subscriptions with the hub (add_node, update_node, set_node_replication, remove_node) */
  readonly cluster?: ClusterManager;
}

/** HTTP status of each error code; TM_INVALID_* codes not listed are 400, unlisted others 500. */
const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  TM_UNKNOWN_TABLE: 404,
  TM_NOT_FOUND: 404,
  TM_READ_ONLY_TABLE: 409,
  TM_TABLE_EXISTS: 409,
  TM_UNKNOWN_DATABASE: 404,
  TM_DATABASE_EXISTS: 409,
  TM_ATTRIBUTE_EXISTS: 409,
  TM_REPLICATED_TABLE: 409,
  TM_RECORD_TOO_LARGE: 413,
  TM_TX_TOO_LARGE: 413,
  TM_QUOTA_FULL: 507,
  TM_STORE_CLOSED: 503,
  TM_STORE_FAILED: 503,
  TM_BAD_MESSAGE: 400,
  TM_NOT_GRANTED: 403,
  TM_NODE_EXISTS: 409,
  TM_CONFIG_NODE: 409,
};

/** The HTTP status for an error code (see STATUS_BY_CODE). */
export function statusOfCode(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? (code.startsWith('TM_INVALID_') ? 400 : 500);
}

/** The response for a thrown error: TmError → status by code and `{error, code}`; anything else → 500. */
export function errorResponse(err: unknown, onInternal?: (err: unknown) => void): RestResponse {
  if (isTmError(err)) {
    const status = statusOfCode(err.code);
    if (status === 500 || status === 503) onInternal?.(err); // 507 (quota) is expected, not an incident
    return { status, body: { error: err.message, code: err.code } };
  }
  onInternal?.(err);
  return { status: 500, body: { error: 'internal error' } };
}

function fail(code: ErrorCode, message: string): never {
  throw new TmError(code, message);
}

function parseBetween(key: string, attr: string, raw: string): [JsonValue, JsonValue] {
  let pair: unknown;
  try {
    pair = raw.startsWith('[') ? JSON.parse(raw) : raw.split(',').map(parseQueryValue);
  } catch {
    pair = undefined;
  }
  if (!Array.isArray(pair) || pair.length !== 2) {
    fail('TM_INVALID_ARGUMENT', `${key} needs two values: ${attr}.between=low,high`);
  }
  return pair as [JsonValue, JsonValue];
}

/** Query-string parameters that are not conditions. */
export const RESERVED_PARAMS: readonly string[] = ['limit', 'offset', 'sort', 'select', 'idType'];
const COMPARATORS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'between', 'prefix']);

/**
 * A query-string value: a JSON number, `true`, `false`, `null` or a JSON string in double quotes is that JSON
 * value; anything else is the raw string. So `?n.gt=5` compares with 5, `?code="5"` with the string "5".
 */
export function parseQueryValue(raw: string): JsonValue {
  if (/^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|".*")$/.test(raw)) {
    try {
      return JSON.parse(raw) as JsonValue;
    } catch {
      return raw;
    }
  }
  return raw;
}

function nonNegativeInt(name: string, raw: string | null): number | undefined {
  if (raw === null) return undefined;
  if (!/^\d{1,15}$/.test(raw))
    fail('TM_INVALID_ARGUMENT', `${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/**
 * Turns a query string into a store query. `attr=v` is equality; `attr.op=v` with op in eq|ne|gt|ge|lt|le|prefix;
 * `attr.between=lo,hi` (or a JSON array `[lo,hi]`); conditions are ANDed; an attribute named like a reserved
 * parameter is queried as `limit.eq=…`. `limit`, `offset`, `sort=attr|-attr`, `select=a,b`.
 */
export function parseRestQuery(params: URLSearchParams): Query {
  const conditions: Condition[] = [];
  for (const [key, raw] of params) {
    if (RESERVED_PARAMS.includes(key)) continue;
    const dot = key.lastIndexOf('.');
    const suffix = dot > 0 ? key.slice(dot + 1) : '';
    const [attr, op] = COMPARATORS.has(suffix) ? [key.slice(0, dot), suffix] : [key, 'eq'];
    if (attr.length === 0)
      fail('TM_INVALID_ARGUMENT', `query parameter ${JSON.stringify(key)} names no attribute`);
    if (op === 'between') {
      const [lo, hi] = parseBetween(key, attr, raw);
      conditions.push({ attr, op: 'between', value: lo, value2: hi });
    } else if (op === 'prefix') {
      conditions.push({ attr, op: 'prefix', value: raw });
    } else {
      conditions.push({ attr, op: op as Condition['op'], value: parseQueryValue(raw) });
    }
  }
  const limit = nonNegativeInt('limit', params.get('limit'));
  const offset = nonNegativeInt('offset', params.get('offset'));
  const sortRaw = params.get('sort');
  const select = params.get('select');
  return {
    conditions,
    ...(limit === undefined ? {} : { limit }),
    ...(offset === undefined ? {} : { offset }),
    ...(sortRaw ? { sort: { attr: sortRaw.replace(/^-/, ''), descending: sortRaw.startsWith('-') } } : {}),
    ...(select ? { select: select.split(',').filter((a) => a.length > 0) } : {}),
  };
}

/** A path id: a string, or a number with `?idType=number` (SPEC §3: `"1"` ≠ `1`). */
function pathKey(raw: string, query: URLSearchParams): PrimaryKey {
  const idType = query.get('idType');
  if (idType === null || idType === 'string') return assertPrimaryKey(raw);
  if (idType !== 'number')
    fail('TM_INVALID_ARGUMENT', `idType must be string or number, got ${JSON.stringify(idType)}`);
  const n = raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(n))
    fail('TM_INVALID_KEY', `id ${JSON.stringify(raw)} is not a number (idType=number)`);
  return assertPrimaryKey(n);
}

/** The path of a record, as put in `Location`. */
function recordPath(tableSegment: string, key: PrimaryKey): string {
  const path = `/${encodeURIComponent(tableSegment)}/${encodeURIComponent(String(key))}`;
  return typeof key === 'number' ? `${path}?idType=number` : path;
}

function splitPath(path: string): string[] {
  const trimmed = path.startsWith('/') ? path.slice(1) : path;
  if (!trimmed.includes('%')) return trimmed.split('/'); // nothing to decode (the common path)
  try {
    return trimmed.split('/').map((s) => decodeURIComponent(s));
  } catch {
    return fail('TM_INVALID_ARGUMENT', `the path ${JSON.stringify(path)} is not validly percent-encoded`);
  }
}

const methodNotAllowed = (allow: string): RestResponse => ({
  status: 405,
  headers: { allow },
  body: { error: `method not allowed; use ${allow}` },
});

/** A write's answer: what was committed (seq is 0 on tables this node does not publish). */
function committed(txn: Transaction | undefined, key: PrimaryKey): Record<string, unknown> {
  return { table: txn?.table, key, seq: txn?.seq, stamp: txn?.stamp };
}

/** A strong entity tag of a JSON body: SHA-256 of its canonical JSON (RFC 8785), base64url, quoted. */
export function etagOf(body: unknown): string {
  const hash = createHash('sha256')
    .update(canonicalJson(body as JsonValue))
    .digest('base64url');
  return `"${hash.slice(0, 27)}"`;
}

/** True when an `If-None-Match` header names `etag` (or is `*`); weak validators compare weakly (RFC 9110). */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === etag;
  });
}

/** A GET answer with its ETag, or 304 when the client holds it already. */
function conditional(req: RestRequest, body: unknown, headers: Record<string, string> = {}): RestResponse {
  const etag = etagOf(body);
  if (noneMatch(req.headers['if-none-match'], etag)) return { status: 304, headers: { etag } };
  return { status: 200, headers: { ...headers, etag }, body };
}

/** Handles one REST request; never throws (errors become 4xx/5xx with `{error, code}`). */
export async function handleRest(deps: RestDeps, req: RestRequest): Promise<RestResponse> {
  try {
    return await route(deps, req);
  } catch (err) {
    return errorResponse(err, deps.onInternalError);
  }
}

async function route(deps: RestDeps, req: RestRequest): Promise<RestResponse> {
  const segments = splitPath(req.path);
  const method = req.method.toUpperCase();
  if (req.path === '/') return method === 'POST' ? handleOperation(deps, req) : methodNotAllowed('POST');
  if (segments.length === 1 && segments[0] === '_batch') {
    return method === 'POST' ? batch(deps, req) : methodNotAllowed('POST');
  }
  if (segments[0] === '_receipts') return receiptStatus(deps, req, segments);
  if (segments.length === 2 && segments[0] === '_digest' && segments[1]) {
    if (method !== 'GET') return methodNotAllowed('GET');
    return { status: 200, body: await digestAnswer(deps.store, segments[1], req.query) };
  }
  const [tableSegment, id, ...rest] = segments;
  if (!tableSegment || rest.length > 0) {
    return { status: 404, body: { error: `no route for ${req.path}`, code: 'TM_NOT_FOUND' } };
  }
  const def = deps.store.requireTable(tableSegment);
  if (id === undefined || id === '') {
    if (method === 'GET') {
      const counter = { recordsRead: 0 };
      const found = await deps.store.query(def.name, parseRestQuery(req.query), counter);
      return conditional(req, found, { 'x-tablemesh-records-read': String(counter.recordsRead) });
    }
    if (method === 'POST') return create(deps, req, def.name, def.primaryKey, tableSegment);
    return methodNotAllowed('GET, POST');
  }
  const key = pathKey(id, req.query);
  if (method === 'GET') {
    const record: LiveRecord | undefined = await deps.store.get(def.name, key);
    if (!record) {
      return {
        status: 404,
        body: { error: `no record ${JSON.stringify(key)} in ${def.name}`, code: 'TM_NOT_FOUND' },
      };
    }
    return conditional(req, record);
  }
  let op: Op;
  if (method === 'PUT' || method === 'PATCH') {
    op = { kind: method === 'PUT' ? 'put' : 'patch', key, attrs: req.body as Record<string, JsonValue> };
  } else if (method === 'DELETE') {
    op = { kind: 'delete', key };
  } else {
    return methodNotAllowed('GET, PUT, PATCH, DELETE');
  }
  assertWritable(deps, def.name);
  const confirm = parseConfirm(req.headers, req.query);
  assertConfirmable(deps, confirm, [def.name]);
  const txns = await deps.write([{ table: def.name, ops: [op] }]);
  return confirmWrite(deps, confirm, txns, { status: 200, body: committed(txns[0], key) });
}

async function receiptStatus(deps: RestDeps, req: RestRequest, segments: string[]): Promise<RestResponse> {
  if (req.method.toUpperCase() !== 'GET') return methodNotAllowed('GET');
  const [, table, epoch, seq] = segments;
  if (segments.length !== 4 || !table || !epoch || !seq || !/^\d{1,15}$/.test(seq)) {
    fail('TM_INVALID_ARGUMENT', 'a receipt status is GET /_receipts/{table}/{epoch}/{seq}');
  }
  if (!deps.receipts) {
    fail('TM_NOT_FOUND', 'this node sends no transactions to a hub, so it has no receipts');
  }
  const def = deps.store.requireTable(table);
  return { status: 200, body: await deps.receipts.status(def.name, epoch, Number(seq)) };
}

function assertWritable(deps: RestDeps, table: string): void {
  if (deps.isReadOnly(table)) {
    fail('TM_READ_ONLY_TABLE', `table '${table}' is subscribe-only on this node; write to it on the hub`);
  }
}

async function create(
  deps: RestDeps,
  req: RestRequest,
  table: string,
  primaryKey: string,
  tableSegment: string,
): Promise<RestResponse> {
  const body = req.body;
  assertWritable(deps, table);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    fail('TM_INVALID_VALUE', 'POST needs a JSON object body');
  }
  const confirm = parseConfirm(req.headers, req.query);
  assertConfirmable(deps, confirm, [table]);
  const given = Object.hasOwn(body, primaryKey) ? (body as Record<string, unknown>)[primaryKey] : undefined;
  const key = given === undefined ? (deps.newId ?? uuidv7)() : assertPrimaryKey(given);
  const txns = await deps.write([
    { table, ops: [{ kind: 'put', key, attrs: body as Record<string, JsonValue> }] },
  ]);
  const location = recordPath(tableSegment, key);
  const answer: WriteAnswer = { status: 201, headers: { location }, body: committed(txns[0], key) };
  return confirmWrite(deps, confirm, txns, answer);
}

async function batch(deps: RestDeps, req: RestRequest): Promise<RestResponse> {
  const body = req.body;
  const writes = (body as { writes?: unknown } | null)?.writes;
  if (typeof body !== 'object' || body === null || !Array.isArray(writes) || writes.length === 0) {
    fail(
      'TM_INVALID_ARGUMENT',
      'a batch is {"writes":[{"table":…,"ops":[{"kind":"put","key":…,"attrs":{…}}]}]}',
    );
  }
  const checked: LocalWrite[] = (writes as unknown[]).map((w, i) => {
    const write = w as { table?: unknown; ops?: unknown } | null;
    if (
      typeof write !== 'object' ||
      write === null ||
      typeof write.table !== 'string' ||
      !Array.isArray(write.ops)
    ) {
      return fail('TM_INVALID_ARGUMENT', `writes[${i}] must be {"table": string, "ops": [...]}`);
    }
    const def = deps.store.requireTable(write.table);
    assertWritable(deps, def.name);
    return { table: def.name, ops: write.ops as Op[] };
  });
  const confirm = parseConfirm(req.headers, req.query);
  assertConfirmable(
    deps,
    confirm,
    checked.map((w) => w.table),
  );
  const txns = await deps.write(checked);
  return confirmWrite(deps, confirm, txns, {
    status: 200,
    body: {
      transactions: txns.map((t) => ({ table: t.table, seq: t.seq, stamp: t.stamp, ops: t.ops.length })),
    },
  });
}
