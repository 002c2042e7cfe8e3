/**
 * search_by_id, search_by_value and search_by_conditions (HarperDB 4.x) on top of the store's query planner.
 * A search is split in two: the conditions the store can plan with (top-level `and` of equals, starts_with and
 * range comparators — so an indexed search reads only the matching rows) and the full condition tree, checked on
 * every fetched record. Then sort (with `next` tie-breakers), offset, limit and `get_attributes`.
 */
import type { Condition, Query } from '../store/query.js';
import { compareValues, matches } from '../store/query.js';
import type { LiveRecord, Store } from '../store/store.js';
import type { TableDef } from '../store/tables.js';
import type { JsonValue, PrimaryKey } from '../types.js';
import type { HdbComparator, SortSpec } from './operations-body.js';

/** The store methods searches use. */
export type SearchStore = Pick<Store, 'get' | 'query'>;

/** Records found, and how many the store fetched to find them. */
export interface SearchResult {
  readonly records: LiveRecord[];
  readonly recordsRead: number;
}

/** What to return: all attributes (`*` or absent) or the listed ones a record has. */
export function projectAttributes(
  records: readonly LiveRecord[],
  attrs: readonly string[] | undefined,
): LiveRecord[] {
  if (!attrs || attrs.includes('*')) return [...records];
  return records.map((r) =>
    Object.fromEntries(attrs.filter((a) => Object.hasOwn(r, a)).map((a) => [a, r[a]!])),
  );
}

const own = (r: LiveRecord, attr: string): JsonValue | undefined =>
  Object.hasOwn(r, attr) ? r[attr] : undefined;

/** HarperDB's comparators plus search_by_value's wildcard pattern (`like`) and `*` alone (`exists`). */
export type SearchComparator = HdbComparator | 'like' | 'exists';

/** A condition tree as searched: HarperDB's nodes, whose leaves may also be `like` or `exists`. */
export type SearchNode =
  | { readonly attribute: string; readonly comparator: SearchComparator; readonly value: JsonValue }
  | { readonly operator: 'and' | 'or'; readonly conditions: readonly SearchNode[] };

/** Evaluates one comparator on a record (types compare strictly: `"5"` is not `5`, SPEC §3). */
export function testComparator(
  record: LiveRecord,
  attr: string,
  comparator: SearchComparator,
  value: JsonValue,
): boolean {
  const v = own(record, attr);
  switch (comparator) {
    case 'exists':
      return v !== undefined;
    case 'like':
      return typeof v === 'string' && wildcardMatch(value as string, v);
    case 'equals':
      return matches(record, { attr, op: 'eq', value });
    case 'not_equal':
      return matches(record, { attr, op: 'ne', value });
    case 'contains':
      if (typeof v === 'string') return typeof value === 'string' && v.includes(value);
      return Array.isArray(v) && v.some((x) => compareValues(x, value) === 0);
    case 'starts_with':
      return typeof v === 'string' && v.startsWith(value as string);
    case 'ends_with':
      return typeof v === 'string' && v.endsWith(value as string);
    case 'greater_than':
      return matches(record, { attr, op: 'gt', value });
    case 'greater_than_equal':
      return matches(record, { attr, op: 'ge', value });
    case 'less_than':
      return matches(record, { attr, op: 'lt', value });
    case 'less_than_equal':
      return matches(record, { attr, op: 'le', value });
    case 'between': {
      const [lo, hi] = value as JsonValue[];
      return matches(record, { attr, op: 'between', value: lo!, value2: hi! });
    }
  }
}

/** True when the record satisfies the node. */
export function evaluateCondition(record: LiveRecord, node: SearchNode): boolean {
  if ('conditions' in node) {
    return node.operator === 'or'
      ? node.conditions.some((c) => evaluateCondition(record, c))
      : node.conditions.every((c) => evaluateCondition(record, c));
  }
  return testComparator(record, node.attribute, node.comparator, node.value);
}

const isScalar = (v: JsonValue): boolean => v === null || typeof v !== 'object';

/** The store condition equal to a leaf, when there is one (the store re-checks it with the same semantics). */
function storeCondition(node: SearchNode): Condition | undefined {
  if ('conditions' in node) return undefined;
  const { attribute: attr, comparator, value } = node;
  switch (comparator) {
    case 'equals':
      return isScalar(value) ? { attr, op: 'eq', value } : undefined;
    case 'starts_with':
      return { attr, op: 'prefix', value };
    case 'greater_than':
      return { attr, op: 'gt', value };
    case 'greater_than_equal':
      return { attr, op: 'ge', value };
    case 'less_than':
      return { attr, op: 'lt', value };
    case 'less_than_equal':
      return { attr, op: 'le', value };
    case 'between': {
      const [lo, hi] = value as JsonValue[];
      return { attr, op: 'between', value: lo!, value2: hi! };
    }
    default:
      return undefined;
  }
}

/** Compares two records by a sort chain. */
function compareBy(a: LiveRecord, b: LiveRecord, sort: SortSpec): number {
  const c = compareValues(own(a, sort.attribute), own(b, sort.attribute));
  if (c !== 0) return sort.descending ? -c : c;
  return sort.next ? compareBy(a, b, sort.next) : 0;
}

/** A search over one table. */
export interface SearchSpec {
  readonly root: SearchNode;
  readonly limit?: number | undefined;
  readonly offset?: number | undefined;
  readonly sort?: SortSpec | undefined;
  readonly getAttributes?: readonly string[] | undefined;
}

/** Runs a search: plan with the store, filter by the tree, sort, page, project. */
export async function searchTable(
  store: SearchStore,
  def: TableDef,
  spec: SearchSpec,
): Promise<SearchResult> {
  const counter = { recordsRead: 0 };
  const leaves =
    'conditions' in spec.root && spec.root.operator === 'and' ? spec.root.conditions : [spec.root];
  const conditions = leaves.map(storeCondition).filter((c): c is Condition => c !== undefined);
  // When the store's conditions are the whole search and nothing is sorted, the store pages too.
  const exact =
    conditions.length === leaves.length && ('conditions' in spec.root ? spec.root.operator === 'and' : true);
  const pushPaging = exact && !spec.sort;
  const query: Query = {
    conditions,
    ...(pushPaging && spec.limit !== undefined ? { limit: spec.limit } : {}),
    ...(pushPaging && spec.offset !== undefined ? { offset: spec.offset } : {}),
  };
  let records = await store.query(def.name, query, counter);
  if (!exact) records = records.filter((r) => evaluateCondition(r, spec.root));
  if (spec.sort) {
    const sort = spec.sort;
    records.sort((a, b) => compareBy(a, b, sort));
  }
  if (!pushPaging) {
    const offset = spec.offset ?? 0;
    records = records.slice(offset, spec.limit === undefined ? undefined : offset + spec.limit);
  }
  return { records: projectAttributes(records, spec.getAttributes), recordsRead: counter.recordsRead };
}

/** search_by_id: the live records of the ids, in the order asked, missing ones left out. */
export async function searchById(
  store: SearchStore,
  def: TableDef,
  ids: readonly PrimaryKey[],
  getAttributes: readonly string[] | undefined,
): Promise<LiveRecord[]> {
  const found: LiveRecord[] = [];
  for (const id of ids) {
    const record = await store.get(def.name, id);
    if (record) found.push(record);
  }
  return projectAttributes(found, getAttributes);
}

/**
 * search_by_value's condition: a string with `*` wildcards matches by pattern (`abc*` is starts_with and uses an
 * index; `*` alone matches every record that has the attribute); any other value is equals.
 */
export function valueCondition(attribute: string, value: JsonValue): SearchNode {
  if (typeof value !== 'string' || !value.includes('*')) return { attribute, comparator: 'equals', value };
  if (/^\*+$/.test(value)) return { attribute, comparator: 'exists', value };
  const parts = value.split('*');
  if (parts.length === 2 && parts[1] === '' && parts[0] !== '') {
    return { attribute, comparator: 'starts_with', value: parts[0]! };
  }
  if (parts.length === 2 && parts[0] === '' && parts[1] !== '') {
    return { attribute, comparator: 'ends_with', value: parts[1]! };
  }
  if (parts.length === 3 && parts[0] === '' && parts[2] === '' && parts[1] !== '') {
    return { attribute, comparator: 'contains', value: parts[1]! };
  }
  return { attribute, comparator: 'like', value };
}

/** Matches a wildcard pattern (`*` = any run of characters) against a string. */
export function wildcardMatch(pattern: string, s: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('[\\s\\S]*')}$`,
  );
  return re.test(s);
}
