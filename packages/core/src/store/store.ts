/**
 * The node's store: tables of records kept as full merge state (I4), their indexes, a per-table change log,
 * local retention, the HLC high-water mark (I1) — all written through one committer so that a transaction's
 * data, outbox or feed entry, change-log entry, marks and HLC mark land in one fsync'd batch (I6, I7).
 */
import { createHash, randomBytes } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { TmError } from '../errors.js';
import { Failpoints, type JoinFn, joinFor } from '../failpoints.js';
import { HlcClock } from '../hlc.js';
import {
  decodeState,
  emptyState,
  encodeOpState,
  encodeState,
  foldOps,
  liveRecord,
  putAttrBytes,
  stateOfOp,
} from '../merge.js';
import type { Op, PrimaryKey, RecordState, Stamp, Transaction } from '../types.js';
import {
  assertPrimaryKey,
  assertRecordBytes,
  assertRecordSize,
  opJsonBytes,
  validateRecordAttrs,
} from '../validate.js';
import { type Change, ChangeLog, type LiveRecord, type LoggedChange, toChange } from './change-log.js';
import { type CommitObserver, Committer, NOT_IN_MEMORY, type TransactOptions, type Tx } from './commit.js';
import { type BinKey, decodeKey, encodeKey, prefixEnd } from './keys.js';
import type { KvBackend, KvValue } from './kv.js';
import { assertQuery, compareValues, matches, type Plan, planQuery, type Query, toKeyPart } from './query.js';
import { makeTableDef, type TableDef, type TableInput, tableRef } from './tables.js';

export type { Change, LiveRecord, LoggedChange } from './change-log.js';
export type { Tx } from './commit.js';

/** Receives each local transaction inside its batch: the outbox (edge). May throw (e.g. TM_QUOTA_FULL). */
export interface LocalTxSink {
  /** the publish epoch and next seq of `table`, or undefined when the table is not published */
  next(table: string): { epoch: string; seq: number } | undefined;
  /** appends the transaction in the same batch; memory changes go in tx.onPrepared */
  append(tx: Tx, txn: Transaction): Promise<void> | void;
}

/** A request's writes to one table (ops before folding; attrs may include the primary key attribute). */
export interface LocalWrite {
  readonly table: string;
  readonly ops: readonly Op[];
}

/** Store limits and behaviour (SPEC §7 defaults). */
export interface StoreOptions {
  readonly kv: KvBackend;
  readonly nodeId: string;
  readonly now?: () => number;
  /** fsync every group commit (durability: fsync); default true */
  readonly sync?: boolean;
  readonly maxRecordBytes?: number;
  readonly maxTxBytes?: number;
  readonly maxOpsPerTx?: number;
  /** change-log entries kept per table */
  readonly changeLogRetention?: number;
  readonly observer?: CommitObserver;
  /** test builds only (SPEC §7): merge mutants tie-break-off, w-filter-off */
  readonly failpoints?: Failpoints;
}

const META_EPOCH = encodeKey(['m', 'epoch']);
const META_HLC = encodeKey(['m', 'hlc']);
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const parse = <T>(b: Buffer): T => JSON.parse(b.toString('utf8')) as T;

/** Key of a record's merge state. */
export const recordKey = (table: string, key: PrimaryKey): BinKey => encodeKey(['r', table, key]);

/** The store of one node. Open with Store.open; all writes go through transact(). */
export class Store {
  /** records fetched by queries and reads (the "reads only those rows" check) */
  readonly stats = { recordsRead: 0 };
  readonly maxRecordBytes: number;
  readonly maxTxBytes: number;
  readonly maxOpsPerTx: number;
  private readonly tables = new Map<string, TableDef>();
  private readonly listeners = new Set<(changes: readonly Change[]) => void>();
  private sink: LocalTxSink | undefined;
  /** the I4 join (a mutant only under a failpoint) */
  private readonly join: JoinFn;

  private constructor(
    readonly kv: KvBackend,
    readonly committer: Committer,
    readonly nodeId: string,
    /** random id of this store, created when it is initialised (SPEC §5) */
    readonly epoch: string,
    readonly clock: HlcClock,
    readonly now: () => number,
    private readonly changeLog: ChangeLog,
    private readonly failureListeners: Set<(err: unknown) => void>,
    options: StoreOptions,
  ) {
    this.maxRecordBytes = options.maxRecordBytes ?? 128 * 1024;
    this.maxTxBytes = options.maxTxBytes ?? 256 * 1024;
    this.maxOpsPerTx = options.maxOpsPerTx ?? 1000;
    this.join = joinFor(options.failpoints ?? Failpoints.none);
  }

  /** Opens (and on first use initialises) a store. */
  static async open(options: StoreOptions): Promise<Store> {
    const now = options.now ?? Date.now;
    await options.kv.open();
    let epochBuf = await options.kv.get(META_EPOCH);
    if (!epochBuf) {
      epochBuf = json(randomBytes(8).toString('hex'));
      await options.kv.write([{ key: META_EPOCH, value: epochBuf }], true);
    }
    const clock = new HlcClock({ now });
    const hlcBuf = await options.kv.get(META_HLC);
    if (hlcBuf) clock.restore(parse(hlcBuf)); // I1 across restarts
    const changeLog = new ChangeLog(options.kv, options.changeLogRetention ?? 10_000, now);
    const failureListeners = new Set<(err: unknown) => void>();
    const committer = new Committer(options.kv, {
      onFailure: (err) => {
        for (const listener of failureListeners) listener(err);
      },
      sync: options.sync ?? true,
      // I1: the high-water mark is written in every batch
      extraWrites: () => [{ key: META_HLC, value: json(clock.peek()) }],
      onLogSegment: (key) => changeLog.segmentWritten(key),
      ...(options.observer ? { observer: options.observer } : {}),
    });
    const store = new Store(
      options.kv,
      committer,
      options.nodeId,
      parse<string>(epochBuf),
      clock,
      now,
      changeLog,
      failureListeners,
      options,
    );
    await store.loadTables();
    return store;
  }

  private async loadTables(): Promise<void> {
    const prefix = encodeKey(['t']);
    for await (const [, value] of this.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
      const def = parse<TableDef>(value);
      this.tables.set(def.name, def);
      await this.changeLog.load(def.name);
    }
  }

  /** Flushes pending groups and closes the backend. */
  async close(): Promise<void> {
    await this.committer.close();
    await this.kv.close();
  }

  /** Runs `fn` as one atomic, durable transaction (see commit.ts). */
  transact<T>(
    fn: (tx: Tx) => Promise<T> | T,
    prefetch?: readonly BinKey[],
    options?: TransactOptions,
  ): Promise<T> {
    return this.committer.transact(fn, prefetch, options);
  }

  /** Sets the receiver of local transactions (the edge's outbox). */
  setLocalSink(sink: LocalTxSink | undefined): void {
    this.sink = sink;
  }

  /**
   * Calls `listener` once if a storage write fails (e.g. ENOSPC). From then on every transaction is refused with
   * TM_STORE_FAILED, because memory would be ahead of disk; the owner recovers by closing and reopening the store
   * (everything in memory is rebuilt from what is durable). Returns the unsubscribe function.
   */
  onFailure(listener: (err: unknown) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /** Subscribes to changes once they are durable; returns the unsubscribe function. */
  onChanges(listener: (changes: readonly Change[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- tables ----

  /** The table's definition, or undefined. Accepts `table` (database `data`) or `db.table`. */
  getTable(name: string): TableDef | undefined {
    return this.tables.get(tableRef(name));
  }

  /** The table's definition; TM_UNKNOWN_TABLE if it does not exist. */
  requireTable(name: string): TableDef {
    const def = this.getTable(name);
    if (!def) throw new TmError('TM_UNKNOWN_TABLE', `table '${tableRef(name)}' does not exist`);
    return def;
  }

  /** All table definitions, by name. */
  listTables(): TableDef[] {
    return [...this.tables.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Creates a table; TM_TABLE_EXISTS if it exists. */
  async createTable(input: TableInput): Promise<TableDef> {
    const def = makeTableDef(input, this.now());
    return this.transact((tx) => {
      if (this.tables.has(def.name))
        throw new TmError('TM_TABLE_EXISTS', `table '${def.name}' already exists`);
      tx.put(encodeKey(['t', def.name]), json(def));
      tx.onPrepared(() => {
        this.tables.set(def.name, def);
        this.changeLog.reset(def.name);
      });
      return def;
    });
  }

  /** Drops a table with all its records, indexes and change log; TM_UNKNOWN_TABLE if absent. */
  async dropTable(name: string): Promise<void> {
    const def = this.requireTable(name);
    await this.transact((tx) => {
      tx.del(encodeKey(['t', def.name]));
      tx.onPrepared(() => {
        this.tables.delete(def.name);
        this.changeLog.forget(def.name);
      });
    });
    // The definition is gone, so nothing writes to these ranges any more; clear them in bounded batches — after
    // the groups prepared before the drop landed: their change-log segments are not visible before that.
    await this.committer.flush();
    for (const ns of ['r', 'i', 'x', 'c']) await this.clearPrefix(encodeKey([ns, def.name]));
  }

  private async clearPrefix(prefix: BinKey): Promise<void> {
    for (let round = 0; round < 1_000_000; round++) {
      const n = await this.transact(async (tx) => {
        let count = 0;
        for await (const [key] of tx.iterate({ gte: prefix, lt: prefixEnd(prefix), limit: 1000 })) {
          tx.del(key);
          count++;
        }
        return count;
      });
      if (n < 1000) return;
    }
  }

  // ---- records inside a transaction ----

  /** Reads a record's merge state through a transaction. */
  async readState(tx: Tx, table: string, key: PrimaryKey): Promise<RecordState | undefined> {
    const buf = await tx.get(recordKey(table, key));
    return buf ? decodeState(buf.toString('utf8')) : undefined;
  }

  /**
   * Joins `incoming` into the record's state (I4), maintaining indexes, the retention index and the change log.
   * Returns the change, or undefined when the state did not change (a duplicate or an older write).
   */
  async mergeState(
    tx: Tx,
    def: TableDef,
    key: PrimaryKey,
    incoming: RecordState,
    origin: string,
  ): Promise<LoggedChange | undefined> {
    const rk = recordKey(def.name, key);
    return this.mergeInto(tx, def, key, rk, await tx.get(rk), incoming, origin);
  }

  /** mergeState once the record's current value (`stored`, under `rk`) is at hand: no waiting. */
  private mergeInto(
    tx: Tx,
    def: TableDef,
    key: PrimaryKey,
    rk: BinKey,
    stored: KvValue | undefined,
    incoming: RecordState,
    origin: string,
  ): LoggedChange | undefined {
    const raw = typeof stored === 'string' ? stored : stored?.toString('utf8');
    const before = raw === undefined ? undefined : decodeState(raw);
    const after = this.join(before ?? emptyState(), incoming);
    const encoded = encodeState(after);
    if (encoded === raw) return undefined; // nothing new: a duplicate or an older write (I4, I9)
    tx.put(rk, encoded);
    if (def.indexes.length > 0 || def.expirationSec !== undefined) {
      const oldLive = before ? liveRecord(before, def.primaryKey, key) : undefined;
      this.updateIndexes(tx, def, key, oldLive, liveRecord(after, def.primaryKey, key));
    }
    return this.changeLog.append(tx, def, key, { state: () => after, encoded }, origin);
  }

  /** Applies a transaction's ops by the I4 join and advances the HLC past its stamp (I2). */
  async applyTransaction(tx: Tx, txn: Transaction): Promise<LoggedChange[]> {
    const def = this.requireTable(txn.table);
    this.clock.observe(txn.stamp); // I2
    return this.applyOps(tx, def, txn);
  }

  /**
   * Merges a transaction's ops into `def` (whose name is txn.table); emits the changes once durable. `local`: the
   * stamp was just issued by this clock, so ops that do not need the stored state (localNeedsStored) skip its read.
   * `measure`: the sizes of a local request's ops were left to here (prepareLocal: all of them are written
   * without a read) — measured off their encoding and checked against the limits as prepareLocal would.
   */
  private applyOps(
    tx: Tx,
    def: TableDef,
    txn: Transaction,
    local = false,
    measure = false,
  ): LoggedChange[] | Promise<LoggedChange[]> {
    const changes: LoggedChange[] = [];
    const origin = txn.stamp.node;
    let txBytes = txn.ops.length === 0 ? 2 : txn.ops.length + 1;
    for (let i = 0; i < txn.ops.length; i++) {
      const op = txn.ops[i]!;
      const rk = recordKey(def.name, op.key);
      if (local && !localNeedsStored(def, op)) {
        const encoded = encodeOpState(op, txn.stamp);
        if (measure) txBytes += this.ownOpBytes(op, encoded, txn.stamp);
        changes.push(this.writeOwnState(tx, def, op, rk, txn.stamp, encoded));
        continue;
      }
      const known = tx.peek(rk);
      // Usually prefetched: merged without waiting. A record only on disk makes the rest asynchronous.
      if (known === NOT_IN_MEMORY) return this.applyOpsFrom(tx, def, txn, i, changes);
      const change = this.mergeInto(tx, def, op.key, rk, known, stateOfOp(op, txn.stamp), origin);
      if (change) changes.push(change);
    }
    if (measure) this.assertTxBytes(def, txBytes);
    if (changes.length > 0) tx.onDurable(() => this.emit(changes));
    return changes;
  }

  /** opJsonBytes of an op written without a read, its record size read off its encoding and checked. */
  private ownOpBytes(op: Op, encoded: string, stamp: Stamp): number {
    if (op.kind === 'delete') return opJsonBytes(op, 0);
    return opJsonBytes(op, assertRecordBytes(putAttrBytes(encoded, op.attrs, stamp), this.maxRecordBytes));
  }

  /** TM_TX_TOO_LARGE when a transaction on `def` measures more than maxTxBytes (opJsonBytes of its ops, listed). */
  private assertTxBytes(def: TableDef, txBytes: number): void {
    if (txBytes > this.maxTxBytes) {
      throw new TmError(
        'TM_TX_TOO_LARGE',
        `transaction on ${def.name} is ${txBytes} bytes; the limit is ${this.maxTxBytes}`,
      );
    }
  }

  /**
   * Writes a local op that needs no stored state (localNeedsStored): the I4 join is the op's own state, stored
   * as it is, without reading or joining (the state object is made only if a listener reads the change).
   */
  private writeOwnState(
    tx: Tx,
    def: TableDef,
    op: Op,
    rk: BinKey,
    stamp: Stamp,
    encoded: string,
  ): LoggedChange {
    tx.put(rk, encoded);
    return this.changeLog.append(tx, def, op.key, { encoded, state: () => stateOfOp(op, stamp) }, stamp.node);
  }

  /** applyOps from op `from` on, reading records from disk as needed. */
  private async applyOpsFrom(tx: Tx, def: TableDef, txn: Transaction, from: number, changes: LoggedChange[]) {
    for (let i = from; i < txn.ops.length; i++) {
      const op = txn.ops[i]!;
      const change = await this.mergeState(tx, def, op.key, stateOfOp(op, txn.stamp), txn.stamp.node);
      if (change) changes.push(change);
    }
    if (changes.length > 0) tx.onDurable(() => this.emit(changes));
    return changes;
  }

  /** Removes a record outright (retention, I13 snapshot pruning): no tombstone, logged as a change. */
  async removeRecord(
    tx: Tx,
    def: TableDef,
    key: PrimaryKey,
    origin: string,
  ): Promise<LoggedChange | undefined> {
    const before = await this.readState(tx, def.name, key);
    if (!before) return undefined;
    tx.del(recordKey(def.name, key));
    this.updateIndexes(tx, def, key, liveRecord(before, def.primaryKey, key), undefined);
    const change = this.changeLog.append(tx, def, key, undefined, origin);
    tx.onDurable(() => this.emit([change]));
    return change;
  }

  private indexEntries(def: TableDef, key: PrimaryKey, live: LiveRecord | undefined): BinKey[] {
    if (!live) return [];
    const keys = def.indexes.map((index) =>
      encodeKey(['i', def.name, index.join(','), ...index.map((a) => toKeyPart(live[a])), key]),
    );
    if (def.expirationSec !== undefined) {
      keys.push(encodeKey(['x', def.name, live['__updatedtime__'] as number, key]));
    }
    return keys;
  }

  private updateIndexes(
    tx: Tx,
    def: TableDef,
    key: PrimaryKey,
    oldLive?: LiveRecord,
    newLive?: LiveRecord,
  ): void {
    const oldKeys = new Set(this.indexEntries(def, key, oldLive));
    const newKeys = new Set(this.indexEntries(def, key, newLive));
    for (const k of oldKeys) if (!newKeys.has(k)) tx.del(k);
    for (const k of newKeys) if (!oldKeys.has(k)) tx.put(k, Buffer.alloc(0));
  }

  /** Hands durable changes to the listeners, with their live records (derived only when someone listens). */
  private emit(changes: readonly LoggedChange[]): void {
    if (this.listeners.size === 0) return;
    const out = changes.map(toChange);
    for (const listener of this.listeners) listener(out);
  }

  // ---- local writes ----

  /**
   * Validates, folds, stamps and commits a local request touching one or more tables as **one** batch
   * (all or nothing, SPEC §4), one transaction per table, each handed to the local sink (the outbox) in the
   * same batch (I6). Resolves after the batch is durable, with the committed transactions.
   */
  async writeLocal(writes: readonly LocalWrite[]): Promise<Transaction[]> {
    const tables = this.prepareLocal(writes);
    const prefetch: BinKey[] = [];
    for (const [def, ops] of tables) {
      for (const op of ops) if (localNeedsStored(def, op)) prefetch.push(recordKey(def.name, op.key));
    }
    return this.committer.transact((tx) => this.commitLocal(tx, tables, 0, []), prefetch);
  }

  /**
   * The transactions of a local request from table `from` on, one per table, each handed to the sink in the same
   * batch. Synchronous while everything is in memory (the prefetched records of a local table); asynchronous from
   * the first step that waits (a record only on disk, the outbox append).
   */
  private commitLocal(
    tx: Tx,
    tables: readonly [TableDef, Op[], boolean][],
    from: number,
    txns: Transaction[],
  ): Transaction[] | Promise<Transaction[]> {
    for (let i = from; i < tables.length; i++) {
      const [def, ops, measure] = tables[i]!;
      const slot = this.sink?.next(def.name);
      const hlc = this.clock.next();
      const stamp: Stamp = {
        wall: hlc.wall,
        counter: hlc.counter,
        node: this.nodeId,
        epoch: slot?.epoch ?? this.epoch,
      };
      const txn: Transaction = { table: def.name, stamp, seq: slot?.seq ?? 0, ops };
      txns.push(txn);
      // The stamp comes from this clock: nothing to observe (I2 is for stamps from elsewhere).
      const applied = this.applyOps(tx, def, txn, true, measure);
      if (applied instanceof Promise || slot) {
        return (async () => {
          await applied;
          if (slot) await this.sink?.append(tx, txn);
          return this.commitLocal(tx, tables, i + 1, txns);
        })();
      }
    }
    return txns;
  }

  /**
   * Validation of a local request before any lock is taken; returns folded ops per table, and whether their sizes
   * are left to the transaction: ops that are all written without a read are measured off their encoding there
   * (applyOps), so a record is serialized once, not twice.
   */
  private prepareLocal(writes: readonly LocalWrite[]): [TableDef, Op[], boolean][] {
    if (!Array.isArray(writes) || writes.length === 0) {
      throw new TmError('TM_INVALID_ARGUMENT', 'a write needs at least one table with operations');
    }
    // Per table, in order of first mention. A request names few tables: a scan is cheaper than a Map.
    const grouped: { def: TableDef; ops: Op[] }[] = [];
    for (const write of writes) {
      const def = this.requireTable(write.table);
      if (!Array.isArray(write.ops)) throw new TmError('TM_INVALID_ARGUMENT', 'ops must be an array');
      let entry = grouped.find((g) => g.def === def);
      if (entry === undefined) {
        entry = { def, ops: [] };
        grouped.push(entry);
      }
      for (const op of write.ops) entry.ops.push(this.validateOp(def, op));
    }
    return grouped.map(({ def, ops }): [TableDef, Op[], boolean] => {
      const folded = ops.length === 1 ? ops : foldOps(ops);
      if (folded.length > this.maxOpsPerTx) {
        throw new TmError(
          'TM_TX_TOO_LARGE',
          `${folded.length} operations on ${def.name}; the limit is ${this.maxOpsPerTx}`,
        );
      }
      if (ops.every((op) => !localNeedsStored(def, op))) return [def, folded, true];
      // The size before folding bounds the folded size from above (fewer ops, fewer commas, merged attributes):
      // one canonical size per record. The list adds its brackets and commas, as the hub counts them.
      let bytes = 0;
      for (const op of ops) bytes += this.opBytes(op);
      this.assertTxBytes(def, bytes + (ops.length === 0 ? 2 : ops.length + 1));
      return [def, folded, false];
    });
  }

  /** opJsonBytes of a validated op, its record size checked (TM_RECORD_TOO_LARGE). */
  private opBytes(op: Op): number {
    if (op.kind === 'delete') return opJsonBytes(op, 0);
    return opJsonBytes(op, assertRecordSize(op.attrs, this.maxRecordBytes));
  }

  /**
   * Validates one op (its size is measured later: opBytes, or applyOps off its encoding). Sizes are the UTF-8
   * bytes of canonical JSON as the hub measures them at ingest (opJsonBytes), so a transaction the edge accepts is
   * never refused by the hub as too large (with the same maxTxBytes).
   */
  private validateOp(def: TableDef, op: Op): Op {
    if (typeof op !== 'object' || op === null) {
      throw new TmError('TM_INVALID_ARGUMENT', 'an operation must be an object');
    }
    const key = assertPrimaryKey(op.key);
    if (op.kind === 'delete') {
      return { kind: 'delete', key };
    }
    if (op.kind !== 'put' && op.kind !== 'patch') {
      throw new TmError(
        'TM_INVALID_ARGUMENT',
        `unknown operation '${String((op as { kind: unknown }).kind)}'`,
      );
    }
    const attrs = validateRecordAttrs(op.attrs, def.primaryKey);
    const given = (op.attrs as Record<string, unknown>)[def.primaryKey];
    if (given !== undefined && given !== key) {
      throw new TmError(
        'TM_INVALID_KEY',
        `record ${JSON.stringify(given)} does not match key ${JSON.stringify(key)}`,
      );
    }
    return { kind: op.kind, key, attrs };
  }

  // ---- reads (durable data only) ----

  /** The record's merge state, or undefined. */
  async getState(table: string, key: PrimaryKey): Promise<RecordState | undefined> {
    const def = this.requireTable(table);
    const buf = await this.kv.get(recordKey(def.name, assertPrimaryKey(key)));
    if (!buf) return undefined;
    this.stats.recordsRead++;
    return decodeState(buf.toString('utf8'));
  }

  /** The live record, or undefined when absent or deleted. */
  async get(table: string, key: PrimaryKey): Promise<LiveRecord | undefined> {
    const def = this.requireTable(table);
    const state = await this.getState(def.name, key);
    return state ? liveRecord(state, def.primaryKey, key) : undefined;
  }

  /** Iterates the full merge state of every record (live and tombstones) in key order. */
  async *scanStates(table: string): AsyncIterable<[PrimaryKey, RecordState]> {
    const def = this.requireTable(table);
    const prefix = encodeKey(['r', def.name]);
    for await (const [key, value] of this.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
      yield [decodeKey(key)[2] as PrimaryKey, decodeState(value.toString('utf8'))];
    }
  }

  /**
   * Runs a query (conditions ANDed, then sort, offset, limit, select); reads only what its plan selects.
   * `counter.recordsRead` (when given) counts the records this query fetched, like `stats.recordsRead` does for all.
   */
  async query(table: string, query: Query = {}, counter?: { recordsRead: number }): Promise<LiveRecord[]> {
    const def = this.requireTable(table);
    assertQuery(query);
    const conditions = query.conditions ?? [];
    const plan = planQuery(def.name, def.primaryKey, def.indexes, conditions);
    const offset = query.offset ?? 0;
    const stopAt = query.sort ? Number.POSITIVE_INFINITY : offset + (query.limit ?? Number.POSITIVE_INFINITY);
    const found: LiveRecord[] = [];
    for await (const record of this.rowsOf(def, plan, counter)) {
      if (conditions.every((c) => matches(record, c))) found.push(record);
      if (found.length >= stopAt) break;
    }
    if (query.sort) {
      const { attr, descending } = query.sort;
      found.sort((a, b) => (descending ? -1 : 1) * compareValues(a[attr], b[attr]));
    }
    const page = found.slice(offset, query.limit === undefined ? undefined : offset + query.limit);
    if (!query.select) return page;
    const select = query.select;
    // Own attributes only: `constructor` or `toString` of a record without them are not attributes.
    return page.map((r) =>
      Object.fromEntries(select.filter((a) => Object.hasOwn(r, a)).map((a) => [a, r[a]!])),
    );
  }

  private async *rowsOf(
    def: TableDef,
    plan: Plan,
    counter: { recordsRead: number } | undefined,
  ): AsyncIterable<LiveRecord> {
    const decode = (key: PrimaryKey, buf: Buffer): LiveRecord | undefined => {
      this.stats.recordsRead++;
      if (counter) counter.recordsRead++;
      return liveRecord(decodeState(buf.toString('utf8')), def.primaryKey, key);
    };
    if (plan.kind === 'key') {
      const buf = await this.kv.get(recordKey(def.name, plan.key as PrimaryKey));
      const record = buf ? decode(plan.key as PrimaryKey, buf) : undefined;
      if (record) yield record;
      return;
    }
    if (plan.kind === 'records') {
      for await (const [key, value] of this.kv.iterate(plan.range)) {
        const record = decode(decodeKey(key)[2] as PrimaryKey, value);
        if (record) yield record;
      }
      return;
    }
    for await (const [indexKey] of this.kv.iterate(plan.range)) {
      const parts = decodeKey(indexKey);
      const key = parts[parts.length - 1] as PrimaryKey;
      const buf = await this.kv.get(recordKey(def.name, key));
      const record = buf ? decode(key, buf) : undefined;
      if (record) yield record;
    }
  }

  /** Change-log entries of a table after `afterSeq`, oldest first, with the oldest retained seq. */
  async readChanges(
    table: string,
    afterSeq: number,
    limit = 500,
  ): Promise<{ first: number; changes: Change[] }> {
    return this.changeLog.read(this.requireTable(table), afterSeq, limit);
  }

  /**
   * The seq of the newest durable change-log entry of a table (0 when the log is empty). Read from storage, so a
   * change still being committed is not counted: a reader that starts after this seq misses nothing (SSE "now").
   */
  async lastChangeSeq(table: string): Promise<number> {
    return this.changeLog.lastSeq(this.requireTable(table).name);
  }

  /** Removes records of tables with `expiration` whose last update is older than it (local retention). */
  async sweepExpired(nowMs = this.now(), maxRecords = 10_000): Promise<number> {
    let removed = 0;
    for (const def of this.listTables()) {
      if (def.expirationSec === undefined) continue;
      const prefix = encodeKey(['x', def.name]);
      const cutoff = encodeKey(['x', def.name, nowMs - def.expirationSec * 1000]);
      removed += await this.transact(async (tx) => {
        let n = 0;
        for await (const [key] of tx.iterate({ gte: prefix, lt: cutoff, limit: maxRecords })) {
          if (await this.removeRecord(tx, def, decodeKey(key)[3] as PrimaryKey, this.nodeId)) n++;
        }
        return n;
      });
    }
    return removed;
  }

  /** SHA-256 over the canonical JSON (RFC 8785) of every live record, in key order (SPEC §3 digest). */
  async digest(table: string): Promise<{ digest: string; count: number }> {
    const def = this.requireTable(table);
    const hash = createHash('sha256');
    let count = 0;
    for await (const [key, state] of this.scanStates(def.name)) {
      const live = liveRecord(state, def.primaryKey, key);
      if (!live) continue;
      hash.update(canonicalJson(live));
      hash.update('\n');
      count++;
    }
    return { digest: hash.digest('hex'), count };
  }
}

/**
 * Whether a local op needs the record's stored state to be merged. A put or a delete does not, unless index
 * entries (declared, or the retention index) must move off the old values: its stamp was just issued by this
 * clock, which passed every stamp issued, observed or restored (I1, I2) — every stamp stored — so the I4 join of
 * any stored state with the op's state is the op's state alone (its W is newest and drops every older attribute).
 * Such a write reads nothing before the commit lock.
 */
function localNeedsStored(def: TableDef, op: Op): boolean {
  return op.kind === 'patch' || def.indexes.length > 0 || def.expirationSec !== undefined;
}
