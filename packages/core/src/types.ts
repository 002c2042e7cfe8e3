/** Shared data types of the core: stamps, operations, transactions, record merge state (SPEC §3–§4). */

/** Any JSON value that may be stored as an attribute value (SPEC §3). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A primary key: a string or a finite number; `"1"` and `1` are different keys (SPEC §3). */
export type PrimaryKey = string | number;

/** A hybrid logical clock value: wall ms (< 2^53) plus a uint32 logical counter (SPEC §4). */
export interface Hlc {
  readonly wall: number;
  readonly counter: number;
}

/** A transaction stamp `(hlc, nodeId, epoch)`, compared in that order (SPEC §4). */
export interface Stamp {
  readonly wall: number;
  readonly counter: number;
  readonly node: string;
  readonly epoch: string;
}

/** One operation of a transaction. `attrs` excludes the primary key attribute and `__` attributes. */
export type Op =
  | { readonly kind: 'put'; readonly key: PrimaryKey; readonly attrs: Readonly<Record<string, JsonValue>> }
  | { readonly kind: 'patch'; readonly key: PrimaryKey; readonly attrs: Readonly<Record<string, JsonValue>> }
  | { readonly kind: 'delete'; readonly key: PrimaryKey };

/** A transaction: ops on one table by one origin, at most one op per key (SPEC §4). */
export interface Transaction {
  /** `database.table` */
  readonly table: string;
  /** stamp.node is the origin; stamp.epoch is the origin's publish epoch for this table (I10) */
  readonly stamp: Stamp;
  /** sequence per (origin, publish epoch, table): 1, 2, 3 … in commit order (SPEC §5) */
  readonly seq: number;
  readonly ops: readonly Op[];
}

/** An attribute value with the stamp that set it (I4). */
export interface StampedValue {
  readonly value: JsonValue;
  readonly stamp: Stamp;
}

/** Full merge state of one record, `(W, A)` of I4. */
export interface RecordState {
  /** largest stamp of any put or delete on the key, and which it was; absent if only patches were seen */
  readonly w?: { readonly stamp: Stamp; readonly kind: 'put' | 'delete' };
  /** attribute → (value, stamp), only stamps greater than W's */
  readonly attrs: Readonly<Record<string, StampedValue>>;
}
