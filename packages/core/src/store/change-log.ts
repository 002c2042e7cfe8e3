/**
 * The per-table change log, source of the change streams (SSE): one entry per change, local or replicated,
 * numbered 1, 2, 3… per table in prepare order, written in the batch of the change itself (I6).
 *
 * The entries one group commit appends to a table are stored together as one *segment*: a value of
 * newline-separated JSON entries under `['c', table, seq of its first entry]` (Tx.appendLog). A transaction's
 * entry then costs a string append instead of a key of its own, and retention drops whole segments, oldest
 * first, keeping at least `retention` entries. Logs written one entry per key (older stores) read as segments
 * of one entry. An entry holds the record's merge state as written; readers derive the live record.
 */
import { decodeStateDoc, liveRecord } from '../merge.js';
import type { JsonValue, PrimaryKey, RecordState } from '../types.js';
import type { Tx } from './commit.js';
import { type BinKey, decodeKey, encodeKey, prefixEnd } from './keys.js';
import type { KvBackend } from './kv.js';
import type { TableDef } from './tables.js';

/** Live record as applications see it: attributes, primary key, `__createdtime__`, `__updatedtime__`. */
export type LiveRecord = Record<string, JsonValue>;

/** One change applied to a table, local or replicated, as kept in the change log (SSE source). */
export interface Change {
  readonly seq: number;
  readonly table: string;
  readonly key: PrimaryKey;
  /** the live record after the change; null when the record no longer exists */
  readonly record: LiveRecord | null;
  readonly origin: string;
  readonly wall: number;
}

/** The record after a change: its merge state and that state's encoding (as stored under the record's key). */
export interface StateAfter {
  /** the merge state (made on demand: most changes are never read from memory) */
  readonly state: () => RecordState;
  readonly encoded: string;
}

/** Where a table's log stands: the oldest retained seq, the next seq, the first seq of each durable segment. */
interface TableLog {
  first: number;
  next: number;
  readonly segments: number[];
  /** the log's name for Tx.appendLog, and the table name as JSON: made once, used by every entry */
  readonly name: string;
  readonly tableJson: string;
  /**
   * Entries the transaction now preparing (`pendingTx`) has appended. Transactions prepare one at a time under
   * the commit lock and their onPrepared hooks run before it is released, so one count serves them all in turn.
   */
  pendingTx: Tx | undefined;
  pending: number;
}

function tableLog(table: string, first: number, next: number, segments: number[]): TableLog {
  return {
    first,
    next,
    segments,
    name: `c/${table}`,
    tableJson: JSON.stringify(table),
    pendingTx: undefined,
    pending: 0,
  };
}

/** Segments dropped by one transaction at most: trimming keeps pace with appends without big batches. */
const MAX_TRIM_PER_TX = 4;

/** The change logs of all tables of one store. */
export class ChangeLog {
  private readonly tables = new Map<string, TableLog>();
  /** the origin of the latest entry, and its JSON (most entries of a node come from one origin) */
  private lastOrigin = '';
  private lastOriginJson = '""';

  constructor(
    private readonly kv: KvBackend,
    /** entries kept per table, at least */
    private readonly retention: number,
    private readonly now: () => number,
  ) {}

  /** Reads where an existing table's log stands (at open). */
  async load(table: string): Promise<void> {
    const prefix = encodeKey(['c', table]);
    const segments: number[] = [];
    let last: Buffer | undefined;
    for await (const [key, value] of this.kv.iterate({ gte: prefix, lt: prefixEnd(prefix) })) {
      segments.push(decodeKey(key)[2] as number);
      last = value;
    }
    const next = last === undefined ? 1 : lastSeqOf(last) + 1;
    this.tables.set(table, tableLog(table, segments[0] ?? next, next, segments));
  }

  /** Starts an empty log (a table was created). */
  reset(table: string): TableLog {
    const log = tableLog(table, 1, 1, []);
    this.tables.set(table, log);
    return log;
  }

  /** Forgets a table's log (the table was dropped; its keys are cleared by the store). */
  forget(table: string): void {
    this.tables.delete(table);
  }

  /** Committer callback: a segment is durable and may be dropped by retention from now on. */
  segmentWritten(key: BinKey): void {
    const [ns, table, seq] = decodeKey(key);
    if (ns !== 'c' || typeof table !== 'string' || typeof seq !== 'number') return;
    this.tables.get(table)?.segments.push(seq);
  }

  /**
   * Appends the change of `key` inside `tx`, trimming the oldest segments beyond retention. `after` undefined:
   * the record was removed outright. Memory moves only once the transaction is prepared.
   */
  append(
    tx: Tx,
    def: TableDef,
    key: PrimaryKey,
    after: StateAfter | undefined,
    origin: string,
  ): LoggedChange {
    const table = def.name;
    const log = this.tables.get(table) ?? this.reset(table);
    if (log.pendingTx !== tx) {
      log.pendingTx = tx;
      log.pending = 0;
    }
    const offset = log.pending++;
    const seq = log.next + offset;
    const wall = this.now();
    if (origin !== this.lastOrigin) {
      this.lastOrigin = origin;
      this.lastOriginJson = JSON.stringify(origin);
    }
    const entry =
      `{"seq":${seq},"table":${log.tableJson},"key":${JSON.stringify(key)},` +
      `"origin":${this.lastOriginJson},"wall":${wall},"state":${after?.encoded ?? 'null'}}`;
    tx.appendLog(log.name, entry, () => encodeKey(['c', table, seq]));
    if (offset === 0) {
      tx.onPrepared(() => {
        log.next += log.pending;
        log.pendingTx = undefined;
      });
      this.trim(tx, table, log, seq);
    }
    return { seq, table, key, origin, wall, after, def };
  }

  /** Drops segment i while the segments after it still hold at least `retention` entries (up to `seq`). */
  private trim(tx: Tx, table: string, log: TableLog, seq: number): void {
    const segments = log.segments;
    let drop = 0;
    while (
      drop < MAX_TRIM_PER_TX &&
      drop + 1 < segments.length &&
      seq - segments[drop + 1]! + 1 >= this.retention
    ) {
      tx.del(encodeKey(['c', table, segments[drop]!]));
      drop++;
    }
    if (drop === 0) return;
    tx.onPrepared(() => {
      segments.splice(0, drop);
      log.first = segments[0] ?? log.next;
    });
  }

  /** Durable entries after `afterSeq`, oldest first, at most `limit`, with the oldest retained seq. */
  async read(def: TableDef, afterSeq: number, limit: number): Promise<{ first: number; changes: Change[] }> {
    const prefix = encodeKey(['c', def.name]);
    // The segment holding afterSeq + 1 starts at or before it.
    let start = prefix;
    for await (const [key] of this.kv.iterate({
      gte: prefix,
      lte: encodeKey(['c', def.name, afterSeq + 1]),
      reverse: true,
      limit: 1,
    })) {
      start = key;
    }
    const changes: Change[] = [];
    if (limit > 0) {
      scan: for await (const [, value] of this.kv.iterate({ gte: start, lt: prefixEnd(prefix) })) {
        for (const line of value.toString('utf8').split('\n')) {
          const change = changeOfEntry(def, line);
          if (change.seq <= afterSeq) continue;
          changes.push(change);
          if (changes.length >= limit) break scan;
        }
      }
    }
    return { first: this.tables.get(def.name)?.first ?? 1, changes };
  }

  /** The seq of the newest durable entry (0 when the log is empty): read from storage, not from memory. */
  async lastSeq(table: string): Promise<number> {
    const prefix = encodeKey(['c', table]);
    for await (const [, value] of this.kv.iterate({
      gte: prefix,
      lt: prefixEnd(prefix),
      reverse: true,
      limit: 1,
    })) {
      return lastSeqOf(value);
    }
    return 0;
  }
}

/** The seq of the last entry of a segment. */
function lastSeqOf(segment: Buffer): number {
  const text = segment.toString('utf8');
  const entry = JSON.parse(text.slice(text.lastIndexOf('\n') + 1)) as { seq: number };
  return entry.seq;
}

/**
 * A change as the transaction that made it knows it. The live record is derived only when listeners want the
 * change (toChange): most changes are never read from memory. A plain object on purpose — a getter per object
 * (a closure and an accessor pair each) kept whole transactions alive through young-generation collections.
 */
export interface LoggedChange {
  readonly seq: number;
  readonly table: string;
  readonly key: PrimaryKey;
  readonly origin: string;
  readonly wall: number;
  /** the record after the change (undefined: removed outright), and its table: what toChange derives it from */
  readonly after: StateAfter | undefined;
  readonly def: TableDef;
}

/** The change as listeners and readers see it, with its live record. */
export function toChange(c: LoggedChange): Change {
  const record = c.after ? (liveRecord(c.after.state(), c.def.primaryKey, c.key) ?? null) : null;
  return { seq: c.seq, table: c.table, key: c.key, record, origin: c.origin, wall: c.wall };
}

/** One entry as read back: `state` (the merge state after the change) or, in older logs, `record`. */
function changeOfEntry(def: TableDef, line: string): Change {
  const entry = JSON.parse(line) as Omit<Change, 'record'> & { state?: unknown; record?: LiveRecord | null };
  const { seq, table, key, origin, wall } = entry;
  let record: LiveRecord | null;
  if (entry.state === undefined) record = entry.record ?? null;
  else if (entry.state === null) record = null;
  else record = liveRecord(decodeStateDoc(entry.state), def.primaryKey, key) ?? null;
  return { seq, table, key, record, origin, wall };
}
