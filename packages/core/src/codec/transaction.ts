/**
 * Converters for the data-carrying messages shared by several topics: operations and transactions (SPEC §4),
 * record merge state (I4), feed entries, table definitions and cursors (SPEC §5).
 */
import type { JsonValue, Op, StampedValue, Transaction } from '../types.js';
import * as pb from './generated/wire.js';
import type { WireCursor, WireFeedEntry, WireRecordEntry, WireTableDef } from './messages.js';
import { bad, checkNestedVersion, invalid, required, toU64, u64 } from './runtime.js';
import {
  checkUnique,
  fromWireJson,
  fromWireKey,
  fromWireStamp,
  setOwn,
  sortedNames,
  toWireJson,
  toWireKey,
  toWireStamp,
} from './values.js';

const { OpKind, WriteKind } = pb;

/** An operation; attributes are written sorted by name, a delete carries none. */
export function toWireOp(op: Op, at: string): pb.Op {
  const key = toWireKey(op.key, `${at}.key`);
  if (op.kind === 'delete') return { kind: OpKind.OP_KIND_DELETE, key, attrs: [] };
  if (op.kind !== 'put' && op.kind !== 'patch') invalid(`${at}.kind is ${String((op as Op).kind)}`);
  if (op.attrs === null || typeof op.attrs !== 'object') invalid(`${at}.attrs is missing`);
  const attrs: pb.Attr[] = [];
  for (const name of sortedNames(op.attrs)) {
    attrs.push({
      name,
      json: toWireJson(op.attrs[name] as JsonValue, `${at}.attrs[${JSON.stringify(name)}]`),
    });
  }
  return { kind: op.kind === 'put' ? OpKind.OP_KIND_PUT : OpKind.OP_KIND_PATCH, key, attrs };
}

/** The Op of a decoded Op message. */
export function fromWireOp(op: pb.Op, at: string): Op {
  const key = fromWireKey(op.key, `${at}.key`);
  if (op.kind === OpKind.OP_KIND_DELETE) {
    if (op.attrs.length > 0) bad(`${at}: a delete carries ${op.attrs.length} attributes`);
    return { kind: 'delete', key };
  }
  if (op.kind !== OpKind.OP_KIND_PUT && op.kind !== OpKind.OP_KIND_PATCH)
    bad(`${at}.kind ${op.kind} is unknown`);
  const attrs: Record<string, JsonValue> = {};
  const seen = new Set<string>();
  for (const attr of op.attrs) {
    checkUnique(seen, attr.name, at);
    setOwn(attrs, attr.name, fromWireJson(attr.json, `${at}.attrs[${JSON.stringify(attr.name)}]`));
  }
  return { kind: op.kind === OpKind.OP_KIND_PUT ? 'put' : 'patch', key, attrs };
}

/**
 * A transaction. Inside a batch or page, `inheritTable` is the enclosing table: the transaction's table must
 * equal it and is left out of the bytes.
 */
export function toWireTransaction(tx: Transaction, at: string, inheritTable = ''): pb.Transaction {
  if (tx === null || typeof tx !== 'object') invalid(`${at} is missing`);
  required(tx.table, `${at}.table`, invalid);
  if (inheritTable !== '' && tx.table !== inheritTable) {
    invalid(`${at}.table is ${tx.table}, not the enclosing ${inheritTable}`);
  }
  if (toU64(tx.seq, `${at}.seq`) < 1) invalid(`${at}.seq must be ≥ 1`);
  if (!Array.isArray(tx.ops)) invalid(`${at}.ops must be an array`);
  return {
    protocolVersion: 0,
    table: inheritTable === '' ? tx.table : '',
    stamp: toWireStamp(tx.stamp, `${at}.stamp`),
    seq: tx.seq,
    ops: tx.ops.map((op, i) => toWireOp(op, `${at}.ops[${i}]`)),
  };
}

/** The Transaction of a decoded message; an empty table is `inheritTable`. */
export function fromWireTransaction(tx: pb.Transaction | null, at: string, inheritTable = ''): Transaction {
  if (tx === null || tx === undefined) return bad(`${at} is missing`);
  if (inheritTable !== '') checkNestedVersion(tx.protocolVersion, at);
  if (inheritTable !== '' && tx.table !== '' && tx.table !== inheritTable) {
    bad(`${at}.table is ${tx.table}, not the enclosing ${inheritTable}`);
  }
  const table = required(tx.table === '' ? inheritTable : tx.table, `${at}.table`, bad);
  const seq = u64(tx.seq, `${at}.seq`);
  if (seq < 1) bad(`${at}.seq is missing`);
  return {
    table,
    stamp: fromWireStamp(tx.stamp, `${at}.stamp`),
    seq,
    ops: tx.ops.map((op, i) => fromWireOp(op, `${at}.ops[${i}]`)),
  };
}

/** A record's full merge state (W, A) of I4; attributes are written sorted by name. */
export function toWireRecord(entry: WireRecordEntry, at: string): pb.RecordEntry {
  const { w, attrs } = entry.state;
  if (w !== undefined && w.kind !== 'put' && w.kind !== 'delete')
    invalid(`${at}.w.kind is ${String(w.kind)}`);
  const wireAttrs: pb.StampedAttr[] = [];
  for (const name of sortedNames(attrs)) {
    const attr = attrs[name] as StampedValue;
    const where = `${at}.attrs[${JSON.stringify(name)}]`;
    wireAttrs.push({
      name,
      json: toWireJson(attr.value, where),
      stamp: toWireStamp(attr.stamp, `${where}.stamp`),
    });
  }
  return {
    key: toWireKey(entry.key, `${at}.key`),
    wKind:
      w === undefined
        ? WriteKind.WRITE_KIND_NONE
        : w.kind === 'put'
          ? WriteKind.WRITE_KIND_PUT
          : WriteKind.WRITE_KIND_DELETE,
    wStamp: w === undefined ? null : toWireStamp(w.stamp, `${at}.w.stamp`),
    attrs: wireAttrs,
  };
}

/** The RecordEntry of a decoded message; a W kind needs a W stamp and no kind allows none. */
export function fromWireRecord(entry: pb.RecordEntry, at: string): WireRecordEntry {
  const key = fromWireKey(entry.key, `${at}.key`);
  const attrs: Record<string, StampedValue> = {};
  const seen = new Set<string>();
  for (const attr of entry.attrs) {
    const where = `${at}.attrs[${JSON.stringify(attr.name)}]`;
    checkUnique(seen, attr.name, at);
    setOwn(attrs, attr.name, {
      value: fromWireJson(attr.json, where),
      stamp: fromWireStamp(attr.stamp, `${where}.stamp`),
    });
  }
  if (entry.wKind === WriteKind.WRITE_KIND_NONE) {
    if (entry.wStamp !== null && entry.wStamp !== undefined) bad(`${at}: a W stamp without a W kind`);
    return { key, state: { attrs } };
  }
  if (entry.wKind !== WriteKind.WRITE_KIND_PUT && entry.wKind !== WriteKind.WRITE_KIND_DELETE) {
    bad(`${at}.wKind ${entry.wKind} is unknown`);
  }
  const stamp = fromWireStamp(entry.wStamp, `${at}.wStamp`);
  return {
    key,
    state: { w: { stamp, kind: entry.wKind === WriteKind.WRITE_KIND_PUT ? 'put' : 'delete' }, attrs },
  };
}

/** A feed entry; its transaction's table is the enclosing table. */
export function toWireFeedEntry(entry: WireFeedEntry, at: string, table: string): pb.FeedEntry {
  if (toU64(entry.hubSeq, `${at}.hubSeq`) < 1) invalid(`${at}.hubSeq must be ≥ 1`);
  return { hubSeq: entry.hubSeq, tx: toWireTransaction(entry.tx, `${at}.tx`, table) };
}

/** The FeedEntry of a decoded message. */
export function fromWireFeedEntry(entry: pb.FeedEntry, at: string, table: string): WireFeedEntry {
  const hubSeq = u64(entry.hubSeq, `${at}.hubSeq`);
  if (hubSeq < 1) bad(`${at}.hubSeq is missing`);
  return { hubSeq, tx: fromWireTransaction(entry.tx, `${at}.tx`, table) };
}

/** A table definition; table, primary key and incarnation are required, each index names ≥ 1 attribute. */
export function toWireTableDef(def: WireTableDef, at: string): pb.TableDef {
  if (def === null || typeof def !== 'object') invalid(`${at} is missing`);
  return {
    table: required(def.table, `${at}.table`, invalid),
    primaryKey: required(def.primaryKey, `${at}.primaryKey`, invalid),
    indexes: def.indexes.map((attrs, i) => {
      if (attrs.length === 0) invalid(`${at}.indexes[${i}] names no attribute`);
      return { attrs: [...attrs] };
    }),
    incarnation: required(def.incarnation, `${at}.incarnation`, invalid),
  };
}

/** The TableDef of a decoded message. */
export function fromWireTableDef(def: pb.TableDef | null, at: string): WireTableDef {
  if (def === null || def === undefined) return bad(`${at} is missing`);
  return {
    table: required(def.table, `${at}.table`, bad),
    primaryKey: required(def.primaryKey, `${at}.primaryKey`, bad),
    indexes: def.indexes.map((index, i) => {
      if (index.attrs.length === 0) bad(`${at}.indexes[${i}] names no attribute`);
      return [...index.attrs];
    }),
    incarnation: required(def.incarnation, `${at}.incarnation`, bad),
  };
}

/** A feed cursor. */
export function toWireCursor(cursor: WireCursor, at: string): pb.Cursor {
  return {
    hubEpoch: cursor.hubEpoch,
    incarnation: cursor.incarnation,
    hubSeq: toU64(cursor.hubSeq, `${at}.hubSeq`),
  };
}

/** The Cursor of a decoded message. */
export function fromWireCursor(cursor: pb.Cursor, at: string): WireCursor {
  return {
    hubEpoch: cursor.hubEpoch,
    incarnation: cursor.incarnation,
    hubSeq: u64(cursor.hubSeq, `${at}.hubSeq`),
  };
}
