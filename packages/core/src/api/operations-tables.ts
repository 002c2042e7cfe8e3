/**
 * Databases, tables and attributes through the operations API (HarperDB 4.x `describe_*`, `create_*`, `drop_*`).
 * A database exists while it has tables or was created with create_database (`data` always exists); attributes
 * are dynamic, create_attribute only declares one so describe lists it. Both declarations live in the store
 * under `['a', …]` and are local to the node, like indexes (SPEC §3).
 */
import { TmError } from '../errors.js';
import { liveRecord } from '../merge.js';
import { encodeKey, prefixEnd } from '../store/keys.js';
import type { Store } from '../store/store.js';
import type { TableDef } from '../store/tables.js';
import type { JsonValue } from '../types.js';
import { uuidv7 } from '../uuid.js';
import type { OperationBody } from './operations-body.js';

/** The store methods these operations use. */
export type TableStore = Pick<
  Store,
  'getTable' | 'requireTable' | 'listTables' | 'createTable' | 'dropTable' | 'scanStates' | 'transact' | 'kv'
>;

/** How a table is replicated with the hub, from this node's side. */
export interface Replication {
  readonly publish: boolean;
  readonly subscribe: boolean;
}

/** What table administration needs to know about the node. */
export interface TableAdminDeps {
  readonly store: TableStore;
  /** the hub's tables are all replicated (feeds); an edge's only when published or subscribed */
  readonly role?: 'edge' | 'hub';
  /** the edge's replication of a table (undefined: not replicated) */
  replicationOf?(table: string): Replication | undefined;
  readonly newId?: () => string;
}

const DEFAULT_DATABASE = 'data';
const dbKey = (db: string) => encodeKey(['a', 'db', db]);
const attrPrefix = (table: string) => encodeKey(['a', 'attr', table]);
const attrKey = (table: string, attr: string) => encodeKey(['a', 'attr', table, attr]);
const dbOf = (def: TableDef) => def.name.slice(0, def.name.indexOf('.'));
const tableOf = (def: TableDef) => def.name.slice(def.name.indexOf('.') + 1);

async function declaredDatabases(store: TableStore): Promise<Set<string>> {
  const prefix = encodeKey(['a', 'db']);
  const out = new Set<string>([DEFAULT_DATABASE]);
  for await (const [, value] of store.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
    out.add(value.toString('utf8'));
  }
  return out;
}

async function databases(store: TableStore): Promise<string[]> {
  const all = await declaredDatabases(store);
  for (const def of store.listTables()) all.add(dbOf(def));
  return [...all].sort();
}

async function declaredAttributes(store: TableStore, table: string): Promise<string[]> {
  const prefix = attrPrefix(table);
  const out: string[] = [];
  for await (const [, value] of store.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
    out.push(value.toString('utf8'));
  }
  return out;
}

function isReplicated(deps: TableAdminDeps, table: string): boolean {
  if (deps.role === 'hub') return true;
  const r = deps.replicationOf?.(table);
  return r !== undefined && (r.publish || r.subscribe);
}

/** describe_table's answer (HarperDB 4.x shape, plus tablemesh's `indexes`, `expiration` and `replication`). */
export async function describeTable(deps: TableAdminDeps, def: TableDef): Promise<Record<string, unknown>> {
  const seen = new Set<string>([...(await declaredAttributes(deps.store, def.name)), ...def.indexes.flat()]);
  let count = 0;
  let lastUpdated: number | null = null;
  for await (const [key, state] of deps.store.scanStates(def.name)) {
    const live = liveRecord(state, def.primaryKey, key);
    if (!live) continue;
    count++;
    for (const name of Object.keys(live)) seen.add(name);
    const updated = live['__updatedtime__'] as number;
    if (lastUpdated === null || updated > lastUpdated) lastUpdated = updated;
  }
  const singleIndexed = new Set(def.indexes.map((i) => i[0]!));
  const others = [...seen]
    .filter((a) => a !== def.primaryKey && a !== '__createdtime__' && a !== '__updatedtime__')
    .sort();
  const replication =
    deps.role === 'hub'
      ? undefined
      : (deps.replicationOf?.(def.name) ?? { publish: false, subscribe: false });
  return {
    schema: dbOf(def),
    name: tableOf(def),
    hash_attribute: def.primaryKey,
    audit: false,
    schema_defined: false,
    attributes: [
      { attribute: def.primaryKey, indexed: true, is_primary_key: true },
      { attribute: '__createdtime__', indexed: false },
      { attribute: '__updatedtime__', indexed: false },
      ...others.map((attribute) => ({ attribute, indexed: singleIndexed.has(attribute) })),
    ],
    record_count: count,
    last_updated_record: lastUpdated,
    indexes: def.indexes,
    ...(def.expirationSec !== undefined ? { expiration: def.expirationSec } : {}),
    ...(replication ? { replication } : {}),
  };
}

async function describeTables(deps: TableAdminDeps, db: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const def of deps.store.listTables()) {
    if (dbOf(def) === db) out[tableOf(def)] = await describeTable(deps, def);
  }
  return out;
}

/** describe_all: every database (including empty ones) with its tables. */
export async function describeAll(deps: TableAdminDeps): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const db of await databases(deps.store)) out[db] = await describeTables(deps, db);
  return out;
}

async function requireDatabase(store: TableStore, db: string): Promise<void> {
  if (!(await databases(store)).includes(db)) {
    throw new TmError('TM_UNKNOWN_DATABASE', `database '${db}' does not exist`);
  }
}

/** describe_database: the tables of one database. */
export async function describeDatabase(
  deps: TableAdminDeps,
  body: OperationBody<'describe_database'>,
): Promise<Record<string, unknown>> {
  const db = body.database ?? DEFAULT_DATABASE;
  await requireDatabase(deps.store, db);
  return describeTables(deps, db);
}

/** create_database: declares an empty database. */
export async function createDatabase(
  deps: TableAdminDeps,
  body: OperationBody<'create_database'>,
): Promise<{ message: string }> {
  const db = body.database ?? DEFAULT_DATABASE;
  if ((await databases(deps.store)).includes(db)) {
    throw new TmError('TM_DATABASE_EXISTS', `database '${db}' already exists`);
  }
  await deps.store.transact((tx) => tx.put(dbKey(db), Buffer.from(db, 'utf8')));
  return { message: `database '${db}' successfully created` };
}

/** drop_database: drops every table of the database (refused on the edge while one is replicated). */
export async function dropDatabase(
  deps: TableAdminDeps,
  body: OperationBody<'drop_database'>,
): Promise<{ message: string }> {
  const db = body.database;
  await requireDatabase(deps.store, db);
  const tables = deps.store.listTables().filter((def) => dbOf(def) === db);
  for (const def of tables) assertDroppable(deps, def);
  for (const def of tables) await dropTableNow(deps, def);
  await deps.store.transact((tx) => tx.del(dbKey(db)));
  return { message: `successfully deleted '${db}'` };
}

function assertDroppable(deps: TableAdminDeps, def: TableDef): void {
  if (deps.role !== 'hub' && isReplicated(deps, def.name)) {
    throw new TmError(
      'TM_REPLICATED_TABLE',
      `table '${def.name}' is replicated with the hub; remove it from replication (set_node_replication) first`,
    );
  }
}

async function dropTableNow(deps: TableAdminDeps, def: TableDef): Promise<void> {
  await deps.store.dropTable(def.name);
  const prefix = attrPrefix(def.name);
  await deps.store.transact(async (tx) => {
    for await (const [key] of tx.iterate({ gte: prefix, lt: prefixEnd(prefix) })) tx.del(key);
  });
}

const refOf = (body: { database?: string | undefined; table: string }) =>
  `${body.database ?? DEFAULT_DATABASE}.${body.table}`;

/** create_table: primary key, attributes (indexed ones get an index), compound `indexes`, `expiration`. */
export async function createTable(
  deps: TableAdminDeps,
  body: OperationBody<'create_table'>,
): Promise<{ message: string }> {
  const ref = refOf(body);
  const replication = deps.replicationOf?.(ref);
  if (deps.role !== 'hub' && replication?.subscribe) {
    throw new TmError(
      'TM_REPLICATED_TABLE',
      `table '${ref}' is subscribed: its definition comes from the hub`,
    );
  }
  if (body.expiration !== undefined && isReplicated(deps, ref)) {
    // SPEC §3: local retention only on tables that are not replicated.
    throw new TmError(
      'TM_REPLICATED_TABLE',
      deps.role === 'hub'
        ? 'expiration (local retention) is only for tables that are not replicated; hub tables are'
        : `table '${ref}' is published: expiration (local retention) is only for tables that are not replicated`,
    );
  }
  const attributes = body.attributes ?? [];
  const indexes = [...attributes.filter((a) => a.indexed).map((a) => [a.name]), ...(body.indexes ?? [])];
  const def = await deps.store.createTable({
    name: ref,
    ...(body.primary_key !== undefined ? { primaryKey: body.primary_key } : {}),
    indexes,
    ...(body.expiration !== undefined ? { expirationSec: body.expiration } : {}),
  });
  const declared = attributes.map((a) => a.name).filter((a) => a !== def.primaryKey);
  if (declared.length > 0) {
    await deps.store.transact((tx) => {
      for (const a of declared) tx.put(attrKey(def.name, a), Buffer.from(a, 'utf8'));
    });
  }
  return { message: `table '${def.name}' successfully created.` };
}

/** drop_table: the table with its records, indexes and change log. */
export async function dropTable(
  deps: TableAdminDeps,
  body: OperationBody<'drop_table'>,
): Promise<{ message: string }> {
  const def = deps.store.requireTable(refOf(body));
  assertDroppable(deps, def);
  await dropTableNow(deps, def);
  return { message: `successfully deleted table '${def.name}'` };
}

/** create_attribute: declares an attribute (attributes are dynamic; this only makes describe list it). */
export async function createAttribute(
  deps: TableAdminDeps,
  body: OperationBody<'create_attribute'>,
): Promise<Record<string, JsonValue>> {
  const def = deps.store.requireTable(refOf(body));
  const existing = await declaredAttributes(deps.store, def.name);
  if (body.attribute === def.primaryKey || existing.includes(body.attribute)) {
    throw new TmError('TM_ATTRIBUTE_EXISTS', `attribute '${body.attribute}' already exists in ${def.name}`);
  }
  await deps.store.transact((tx) =>
    tx.put(attrKey(def.name, body.attribute), Buffer.from(body.attribute, 'utf8')),
  );
  return {
    message: 'inserted 1 of 1 records',
    skipped_hashes: [],
    inserted_hashes: [(deps.newId ?? uuidv7)()],
  };
}
