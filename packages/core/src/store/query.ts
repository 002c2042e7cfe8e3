/**
 * Record queries: conditions, comparison, and the choice of key range to scan.
 * A query uses the primary key or the declared index with the longest run of equality conditions followed by
 * at most one range condition, so "rows of sensor S in the last 60 s" on index (sensor, ts) reads only those rows.
 * Every condition is re-checked on each fetched record; the plan only narrows what is read.
 */
import { canonicalJson } from '../canonical-json.js';
import { TmError } from '../errors.js';
import type { JsonValue } from '../types.js';
import { type BinKey, encodeKey, encodePart, type KeyPart, prefixEnd } from './keys.js';
import type { KvRange } from './kv.js';

/** Comparators of a condition (HarperDB's search_by_conditions maps onto these). */
export type Comparator = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'between' | 'prefix';

/** One condition on one top-level attribute (or the primary key attribute). */
export interface Condition {
  readonly attr: string;
  readonly op: Comparator;
  readonly value: JsonValue;
  /** upper bound of `between` (inclusive) */
  readonly value2?: JsonValue;
}

/** A query on one table; conditions are ANDed. */
export interface Query {
  readonly conditions?: readonly Condition[];
  readonly limit?: number;
  readonly offset?: number;
  readonly sort?: { readonly attr: string; readonly descending?: boolean };
  /** attributes to return; all when absent */
  readonly select?: readonly string[];
}

const COMPARATORS = new Set<Comparator>(['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'between', 'prefix']);

/** Validates a query's shape; throws TM_INVALID_ARGUMENT naming the problem. */
export function assertQuery(query: Query): void {
  for (const c of query.conditions ?? []) {
    if (typeof c.attr !== 'string' || c.attr.length === 0) {
      throw new TmError('TM_INVALID_ARGUMENT', 'condition attribute must be a non-empty string');
    }
    if (!COMPARATORS.has(c.op))
      throw new TmError('TM_INVALID_ARGUMENT', `unknown comparator '${String(c.op)}'`);
    if (c.op === 'between' && c.value2 === undefined) {
      throw new TmError('TM_INVALID_ARGUMENT', `'between' on '${c.attr}' needs two values`);
    }
    if (c.op === 'prefix' && typeof c.value !== 'string') {
      throw new TmError('TM_INVALID_ARGUMENT', `'prefix' on '${c.attr}' needs a string`);
    }
  }
  for (const [name, n] of [
    ['limit', query.limit],
    ['offset', query.offset],
  ] as const) {
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 0)) {
      throw new TmError('TM_INVALID_ARGUMENT', `${name} must be a non-negative integer`);
    }
  }
}

/** Rank of a JSON value's type in the key order: null < false/true < numbers < strings < other. */
function typeRank(v: JsonValue | undefined): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  if (typeof v === 'string') return 3;
  return 4;
}

/** Total order on JSON values, consistent with the key encoding. */
export function compareValues(a: JsonValue | undefined, b: JsonValue | undefined): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return 0;
  if (ra === 1 || ra === 2) return Number(a) - Number(b);
  if (ra === 3) return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  const ca = canonicalJson(a as JsonValue);
  const cb = canonicalJson(b as JsonValue);
  return ca < cb ? -1 : ca > cb ? 1 : 0;
}

/** True when `record` satisfies the condition. Range comparators only match values of the same type. */
export function matches(record: Readonly<Record<string, JsonValue>>, c: Condition): boolean {
  // Own attributes only: a record without `constructor` has no such attribute.
  const v = Object.hasOwn(record, c.attr) ? record[c.attr] : undefined;
  switch (c.op) {
    case 'eq':
      return v !== undefined && compareValues(v, c.value) === 0;
    case 'ne':
      return v === undefined || compareValues(v, c.value) !== 0;
    case 'prefix':
      return typeof v === 'string' && v.startsWith(c.value as string);
    default: {
      if (v === undefined || typeRank(v) !== typeRank(c.value)) return false;
      const cmp = compareValues(v, c.value);
      if (c.op === 'gt') return cmp > 0;
      if (c.op === 'ge') return cmp >= 0;
      if (c.op === 'lt') return cmp < 0;
      if (c.op === 'le') return cmp <= 0;
      return cmp >= 0 && typeRank(v) === typeRank(c.value2) && compareValues(v, c.value2) <= 0;
    }
  }
}

/** A JSON value as a key part (objects and arrays by their canonical JSON). */
export function toKeyPart(v: JsonValue | undefined): KeyPart {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  return { json: canonicalJson(v) };
}

const isScalar = (v: JsonValue): boolean => v === null || typeof v !== 'object';

/** The key range within `prefix` (a tuple prefix) that holds values satisfying a range condition. */
function rangeWithin(prefix: BinKey, c: Condition): KvRange {
  const at = (v: JsonValue): BinKey => prefix + encodePart(toKeyPart(v));
  const tag = encodePart(toKeyPart(c.value)).charCodeAt(0);
  const typeLow = prefix + String.fromCharCode(tag);
  const typeHigh = prefix + String.fromCharCode(tag + 1);
  switch (c.op) {
    case 'gt':
      return { gt: prefixEnd(at(c.value)), lt: typeHigh };
    case 'ge':
      return { gte: at(c.value), lt: typeHigh };
    case 'lt':
      return { gte: typeLow, lt: at(c.value) };
    case 'le':
      return { gte: typeLow, lt: prefixEnd(at(c.value)) };
    case 'between':
      return { gte: at(c.value), lt: prefixEnd(at(c.value2 as JsonValue)) };
    case 'prefix': {
      // Strings with this prefix: the encoded string without its terminator is a byte prefix of theirs.
      const enc = encodePart(c.value as string);
      return { gte: prefix + enc.slice(0, -1), lt: prefix + enc.slice(0, -1) + '\xff' };
    }
    default:
      return { gte: prefix, lt: prefixEnd(prefix) };
  }
}

const RANGE_OPS = new Set<Comparator>(['gt', 'ge', 'lt', 'le', 'between', 'prefix']);

/** How a query reads its rows. */
export type Plan =
  | { readonly kind: 'key'; readonly key: JsonValue }
  | { readonly kind: 'records'; readonly range: KvRange }
  | { readonly kind: 'index'; readonly index: readonly string[]; readonly range: KvRange };

/** Picks the narrowest scan for the conditions: primary key, then the best declared index, else all records. */
export function planQuery(
  table: string,
  primaryKey: string,
  indexes: readonly (readonly string[])[],
  conditions: readonly Condition[],
): Plan {
  const eqOn = (attr: string): Condition | undefined =>
    conditions.find((c) => c.attr === attr && c.op === 'eq' && isScalar(c.value));
  const rangeOn = (attr: string): Condition | undefined =>
    conditions.find((c) => c.attr === attr && RANGE_OPS.has(c.op) && isScalar(c.value));

  const pkEq = eqOn(primaryKey);
  if (pkEq && (typeof pkEq.value === 'string' || typeof pkEq.value === 'number')) {
    return { kind: 'key', key: pkEq.value };
  }
  const recordsPrefix = encodeKey(['r', table]);
  const pkRange = rangeOn(primaryKey);

  let best: { index: readonly string[]; score: number; range: KvRange } | undefined;
  for (const index of indexes) {
    const prefixParts: KeyPart[] = ['i', table, index.join(',')];
    let score = 0;
    for (const attr of index) {
      const eq = eqOn(attr);
      if (!eq) break;
      prefixParts.push(toKeyPart(eq.value));
      score += 2;
    }
    const prefix = encodeKey(prefixParts);
    const next = index[score / 2];
    const range = next === undefined ? undefined : rangeOn(next);
    const total = score + (range ? 1 : 0);
    if (total > 0 && (!best || total > best.score)) {
      best = {
        index,
        score: total,
        range: range ? rangeWithin(prefix, range) : { gte: prefix, lt: prefixEnd(prefix) },
      };
    }
  }
  if (best && (!pkRange || best.score > 1)) return { kind: 'index', index: best.index, range: best.range };
  if (pkRange) return { kind: 'records', range: rangeWithin(recordsPrefix, pkRange) };
  return { kind: 'records', range: { gte: recordsPrefix, lt: prefixEnd(recordsPrefix) } };
}
