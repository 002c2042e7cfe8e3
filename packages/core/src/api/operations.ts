/**
 * The HarperDB-compatible operations API on `POST /` (SPEC §8), pure like rest.ts: the body is validated
 * (operations-body.ts), the operation runs against the store and the node's write path, and the answer has
 * HarperDB 4.x's shape. Errors are thrown as TmError; handleRest turns them into `{"error", "code"}` with the
 * status of the code (400 bad body, 404 unknown table or database, 409 read-only/exists, 413, 507).
 *
 * Writes of one request go through `write` as **one** local batch (SPEC §4), after reading which keys exist:
 * insert skips existing keys, update skips missing ones, delete skips missing ones, upsert patches existing and
 * puts new ones. Nothing is written when nothing is left to write. The existence check and the write are two steps:
 * two concurrent inserts of one new key both write it, and the later stamp wins (I4), as with two PUTs.
 *
 * `add_node`, `update_node`, `set_node_replication`, `remove_node` and `cluster_status` manage the edge's
 * subscriptions with its hub (a `ClusterManager`); the hub answers them with 400 pointing to its admin API.
 */
import { TmError } from '../errors.js';
import type { LiveRecord } from '../store/store.js';
import type { TableDef } from '../store/tables.js';
import type { JsonValue, Op, PrimaryKey } from '../types.js';
import { uuidv7 } from '../uuid.js';
import { assertPrimaryKey } from '../validate.js';
import { assertConfirmable, type ConfirmDeps, confirmWrite, parseConfirm } from './confirm.js';
import {
  type OperationBody,
  type ParsedOperation,
  parseOperation,
  type SubscriptionInput,
} from './operations-body.js';
import { searchById, searchTable, valueCondition } from './operations-search.js';
import {
  createAttribute,
  createDatabase,
  createTable,
  describeAll,
  describeDatabase,
  describeTable,
  dropDatabase,
  dropTable,
  type Replication,
  type TableAdminDeps,
} from './operations-tables.js';
import type { RestDeps, RestRequest, RestResponse } from './rest.js';

/** One table's replication with the hub as add_node and friends see it. */
export interface ReplicationEntry extends Replication {
  /** `database.table` */
  readonly table: string;
  readonly start?: number | 'now' | 'beginning';
}

/** The edge's subscriptions with its hub, changed at run time (edge `EdgeSubscriptions`). */
export interface ClusterManager {
  /** replication of one table, undefined when it is not replicated */
  replicationOf(table: string): Replication | undefined;
  /** adds entries for tables not replicated yet; the others are skipped (HarperDB add_node) */
  add(
    nodeName: string,
    entries: readonly ReplicationEntry[],
  ): Promise<{ added: ReplicationEntry[]; skipped: ReplicationEntry[] }>;
  /** inserts or replaces the entries, leaving other tables alone (update_node, set_node_replication) */
  update(nodeName: string, entries: readonly ReplicationEntry[]): Promise<void>;
  /** removes every subscription (remove_node) */
  remove(nodeName: string): Promise<void>;
  /** cluster_status's answer */
  status(): Promise<Record<string, unknown>>;
}

/** The write answer of one operation. */
type Written = { readonly body: Record<string, unknown>; readonly ops: Op[] };

const DEFAULT_DATABASE = 'data';
const refOf = (body: { database?: string | undefined; table: string }) =>
  `${body.database ?? DEFAULT_DATABASE}.${body.table}`;

function keyOf(def: TableDef, record: Record<string, JsonValue>, i: number): PrimaryKey | undefined {
  if (!Object.hasOwn(record, def.primaryKey)) return undefined;
  try {
    return assertPrimaryKey(record[def.primaryKey]);
  } catch (err) {
    throw new TmError('TM_INVALID_KEY', `records[${i}].${def.primaryKey}: ${(err as Error).message}`);
  }
}

/** Keys that already hold a live record. */
async function liveKeys(deps: RestDeps, def: TableDef, keys: readonly PrimaryKey[]): Promise<Set<string>> {
  const found = new Set<string>();
  const records = await Promise.all(keys.map((k) => deps.store.get(def.name, k)));
  records.forEach((r, i) => {
    if (r) found.add(JSON.stringify(keys[i]));
  });
  return found;
}

async function writeRecords(
  deps: RestDeps,
  def: TableDef,
  kind: 'insert' | 'update' | 'upsert',
  records: readonly Record<string, JsonValue>[],
): Promise<Written> {
  const newId = deps.newId ?? uuidv7;
  const keyed = records.map((record, i) => {
    const key = keyOf(def, record, i);
    if (key === undefined && kind === 'update') {
      throw new TmError(
        'TM_INVALID_KEY',
        `records[${i}] has no primary key '${def.primaryKey}': update needs it`,
      );
    }
    return { record, key: key ?? newId(), given: key !== undefined };
  });
  const existing = await liveKeys(
    deps,
    def,
    keyed.filter((k) => k.given).map((k) => k.key),
  );
  const done: PrimaryKey[] = [];
  const skipped: PrimaryKey[] = [];
  const ops: Op[] = [];
  const seen = new Set<string>();
  for (const { record, key } of keyed) {
    const id = JSON.stringify(key);
    const exists = existing.has(id) || (kind === 'insert' && seen.has(id));
    seen.add(id);
    if ((kind === 'insert' && exists) || (kind === 'update' && !exists)) {
      skipped.push(key);
      continue;
    }
    ops.push({ kind: kind === 'insert' || !exists ? 'put' : 'patch', key, attrs: record });
    done.push(key);
  }
  const n = `${done.length} of ${records.length} records`;
  if (kind === 'insert')
    return { ops, body: { message: `inserted ${n}`, inserted_hashes: done, skipped_hashes: skipped } };
  if (kind === 'update')
    return { ops, body: { message: `updated ${n}`, update_hashes: done, skipped_hashes: skipped } };
  return { ops, body: { message: `upserted ${n}`, upserted_hashes: done } };
}

async function deleteRecords(deps: RestDeps, def: TableDef, ids: readonly PrimaryKey[]): Promise<Written> {
  const existing = await liveKeys(deps, def, ids);
  const deleted: PrimaryKey[] = [];
  const skipped: PrimaryKey[] = [];
  const seen = new Set<string>();
  for (const key of ids) {
    const id = JSON.stringify(key);
    if (existing.has(id) && !seen.has(id)) deleted.push(key);
    else skipped.push(key);
    seen.add(id);
  }
  return {
    ops: deleted.map((key) => ({ kind: 'delete', key })),
    body: {
      message: `${deleted.length} of ${ids.length} records successfully deleted`,
      deleted_hashes: deleted,
      skipped_hashes: skipped,
    },
  };
}

async function runWrite(deps: RestDeps, req: RestRequest, parsed: ParsedOperation): Promise<RestResponse> {
  const body = parsed.body as OperationBody<'insert' | 'delete'>;
  const def = deps.store.requireTable(refOf(body));
  if (deps.isReadOnly(def.name)) {
    throw new TmError(
      'TM_READ_ONLY_TABLE',
      `table '${def.name}' is subscribe-only on this node; write to it on the hub`,
    );
  }
  const confirm = parseConfirm(req.headers, req.query, parsed);
  assertConfirmable(deps as ConfirmDeps, confirm, [def.name]);
  const written =
    parsed.name === 'delete'
      ? await deleteRecords(deps, def, parsed.body.ids)
      : await writeRecords(
          deps,
          def,
          parsed.name as 'insert',
          (parsed.body as OperationBody<'insert'>).records,
        );
  const txns = written.ops.length > 0 ? await deps.write([{ table: def.name, ops: written.ops }]) : [];
  return confirmWrite(deps as ConfirmDeps, confirm, txns, { status: 200, body: written.body });
}

const searched = (records: LiveRecord[], recordsRead?: number): RestResponse => ({
  status: 200,
  ...(recordsRead !== undefined ? { headers: { 'x-tablemesh-records-read': String(recordsRead) } } : {}),
  body: records,
});

function clusterOnly(deps: RestDeps, name: string): ClusterManager {
  if (deps.cluster) return deps.cluster;
  throw new TmError(
    'TM_INVALID_ARGUMENT',
    `'${name}' manages an edge's subscriptions with its hub; on the hub, nodes and their grants are managed ` +
      'with the admin API (tablemesh nodes add|grant|revoke|remove)',
  );
}

function entries(subs: readonly SubscriptionInput[]): ReplicationEntry[] {
  return subs.map((sub) => ({
    table: refOf(sub),
    publish: sub.publish,
    subscribe: sub.subscribe,
    ...(sub.start_time !== undefined ? { start: sub.start_time } : {}),
  }));
}

/** HarperDB's shape of a replication entry in answers. */
function shown(e: ReplicationEntry): Record<string, unknown> {
  const dot = e.table.indexOf('.');
  return {
    schema: e.table.slice(0, dot),
    table: e.table.slice(dot + 1),
    subscribe: e.subscribe,
    publish: e.publish,
  };
}

function tableAdmin(deps: RestDeps): TableAdminDeps {
  const cluster = deps.cluster;
  return {
    store: deps.store,
    role: deps.role ?? 'edge',
    ...(cluster ? { replicationOf: (t: string) => cluster.replicationOf(t) } : {}),
    ...(deps.newId ? { newId: deps.newId } : {}),
  };
}

/** Handles one `POST /` operations request; throws TmError for bad requests (handleRest answers them). */
export async function handleOperation(deps: RestDeps, req: RestRequest): Promise<RestResponse> {
  const parsed = parseOperation(req.body);
  const ok = (body: unknown): RestResponse => ({ status: 200, body });
  switch (parsed.name) {
    case 'insert':
    case 'update':
    case 'upsert':
    case 'delete':
      return runWrite(deps, req, parsed);
    case 'search_by_id': {
      const def = deps.store.requireTable(refOf(parsed.body));
      return searched(await searchById(deps.store, def, parsed.body.ids, parsed.body.get_attributes));
    }
    case 'search_by_value': {
      const b = parsed.body;
      const def = deps.store.requireTable(refOf(b));
      const found = await searchTable(deps.store, def, {
        root: valueCondition(b.attribute, b.value),
        limit: b.limit,
        offset: b.offset,
        sort: b.sort,
        getAttributes: b.get_attributes,
      });
      return searched(found.records, found.recordsRead);
    }
    case 'search_by_conditions': {
      const b = parsed.body;
      const def = deps.store.requireTable(refOf(b));
      const found = await searchTable(deps.store, def, {
        root: { operator: b.operator ?? 'and', conditions: b.conditions },
        limit: b.limit,
        offset: b.offset,
        sort: b.sort,
        getAttributes: b.get_attributes,
      });
      return searched(found.records, found.recordsRead);
    }
    case 'describe_all':
      return ok(await describeAll(tableAdmin(deps)));
    case 'describe_database':
      return ok(await describeDatabase(tableAdmin(deps), parsed.body));
    case 'describe_table':
      return ok(await describeTable(tableAdmin(deps), deps.store.requireTable(refOf(parsed.body))));
    case 'create_database':
      return ok(await createDatabase(tableAdmin(deps), parsed.body));
    case 'drop_database':
      return ok(await dropDatabase(tableAdmin(deps), parsed.body));
    case 'create_table':
      return ok(await createTable(tableAdmin(deps), parsed.body));
    case 'drop_table':
      return ok(await dropTable(tableAdmin(deps), parsed.body));
    case 'create_attribute':
      return ok(await createAttribute(tableAdmin(deps), parsed.body));
    case 'add_node': {
      const cluster = clusterOnly(deps, parsed.name);
      const { added, skipped } = await cluster.add(parsed.body.node_name, entries(parsed.body.subscriptions));
      return ok({
        message: `Successfully added '${parsed.body.node_name}' to manifest`,
        added: added.map(shown),
        skipped: skipped.map(shown),
      });
    }
    case 'update_node':
    case 'set_node_replication': {
      const cluster = clusterOnly(deps, parsed.name);
      await cluster.update(parsed.body.node_name, entries(parsed.body.subscriptions));
      return ok({ message: `Successfully updated '${parsed.body.node_name}'` });
    }
    case 'remove_node': {
      await clusterOnly(deps, parsed.name).remove(parsed.body.node_name);
      return ok({ message: `Successfully removed '${parsed.body.node_name}' from manifest` });
    }
    case 'cluster_status':
      return ok(await clusterOnly(deps, parsed.name).status());
  }
}
