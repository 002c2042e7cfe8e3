/**
 * Bodies of the HarperDB-compatible operations API (SPEC §8): legacy aliases folded into today's names
 * (`schema` → `database`, `hash_values` → `ids`, `hash_attribute` → `primary_key`, `search_attribute` →
 * `attribute`, `search_value` → `value`, `search_type` → `comparator`; `*_schema` operations → `*_database`), then
 * one schema per operation. Unknown keys, wrong types and missing fields are refused with every problem named
 * (TM_INVALID_ARGUMENT, HTTP 400) before anything is read or written.
 */
import { ConfigError, type Infer, parseConfig, type Spec, s } from '../config/schema.js';
import { TmError } from '../errors.js';
import type { JsonValue, PrimaryKey } from '../types.js';
import { assertAttributeName, assertPrimaryKey, NAME_RE, quote } from '../validate.js';

/** Legacy operation names and what they are called now. */
const OPERATION_ALIASES: Readonly<Record<string, string>> = {
  search_by_hash: 'search_by_id',
  describe_schema: 'describe_database',
  create_schema: 'create_database',
  drop_schema: 'drop_database',
};

/** Legacy field names and what they are called now (HarperDB 4.x still accepts them). */
const FIELD_ALIASES: Readonly<Record<string, string>> = {
  schema: 'database',
  hash_values: 'ids',
  hash_attribute: 'primary_key',
  search_attribute: 'attribute',
  search_value: 'value',
  search_type: 'comparator',
};

function isPlain(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Copies an object with aliases renamed; an alias given together with its new name must agree. */
function unalias(obj: Record<string, unknown>, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const from = new Map<string, string>();
  for (const key of Object.keys(obj)) {
    const name = Object.hasOwn(FIELD_ALIASES, key) ? FIELD_ALIASES[key]! : key;
    const earlier = from.get(name);
    if (earlier !== undefined && JSON.stringify(out[name]) !== JSON.stringify(obj[key])) {
      const [alias, current] = earlier === name ? [key, name] : [earlier, key];
      throw new TmError(
        'TM_INVALID_ARGUMENT',
        `${path}${alias} and ${path}${current} are the same field; give one`,
      );
    }
    from.set(name, key);
    // Copy with defineProperty semantics: a `__proto__` key stays an own key and sets no prototype.
    Object.defineProperty(out, name, {
      value: obj[key],
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

const name = (what: string) =>
  s.string({
    pattern: NAME_RE,
    hint: `a ${what} name: 1–64 characters [A-Za-z0-9_], not starting with a digit`,
  });
const database = s.optional(name('database'));
const table = name('table');
const attribute = s.custom<string>('an attribute name', (v) => assertAttributeName(v));
const anyAttribute = s.string({ pattern: /^[\s\S]{1,255}$/, hint: 'an attribute name' });
const key = s.custom<PrimaryKey>('a primary key (string or number)', (v) => assertPrimaryKey(v));
const ids = s.array(key, { minItems: 1 });
const getAttributes = s.optional(s.array(anyAttribute, { minItems: 1 }));
const count = s.optional(s.number({ int: true, min: 0 }));
const jsonValue = s.custom<JsonValue>('a JSON value', (v) => v as JsonValue);

/** A record to write: a plain object (its attributes are checked by the store). */
const record = s.custom<Record<string, JsonValue>>('a record object', (v) => {
  if (!isPlain(v)) throw new Error(`expected a record object, got ${quote(v)}`);
  return v as Record<string, JsonValue>;
});

/** `sort: {attribute, descending?, next?: sort}` (HarperDB 4.x). */
export interface SortSpec {
  readonly attribute: string;
  readonly descending?: boolean;
  readonly next?: SortSpec;
}

function parseSort(v: unknown, path: string, depth = 0): SortSpec {
  if (!isPlain(v)) throw new Error(`${path}: expected {"attribute": …, "descending"?: …, "next"?: …}`);
  const extra = Object.keys(v).filter((k) => !['attribute', 'descending', 'next'].includes(k));
  if (extra.length > 0)
    throw new Error(`${path}: unknown key ${quote(extra[0])} (known: attribute, descending, next)`);
  if (typeof v['attribute'] !== 'string' || v['attribute'] === '')
    throw new Error(`${path}.attribute: expected an attribute name`);
  if (v['descending'] !== undefined && typeof v['descending'] !== 'boolean') {
    throw new Error(`${path}.descending: expected true or false`);
  }
  if (depth > 8) throw new Error(`${path}: at most 8 nested sort levels`);
  return {
    attribute: v['attribute'],
    ...(v['descending'] === true ? { descending: true } : {}),
    ...(v['next'] !== undefined && v['next'] !== null
      ? { next: parseSort(v['next'], `${path}.next`, depth + 1) }
      : {}),
  };
}

/**
 * A spec for nested structures whose parser names full paths itself: its Error message is the problem as is
 * (s.custom would prefix the field's path a second time).
 */
function tree<T>(expected: string, parse: (value: unknown, path: string) => T): Spec<T> {
  return {
    expected,
    parse(value, path, problems) {
      if (value === undefined) {
        problems.push(`${path}: is required (${expected})`);
        return undefined as T;
      }
      try {
        return parse(value, path);
      } catch (err) {
        problems.push((err as Error).message);
        return undefined as T;
      }
    },
  };
}

const sort = s.optional(tree<SortSpec>('a sort object', (v, path) => parseSort(v, path)));

/** The comparators of search_by_conditions (HarperDB 4.x). */
export const HDB_COMPARATORS = [
  'equals',
  'not_equal',
  'contains',
  'starts_with',
  'ends_with',
  'greater_than',
  'greater_than_equal',
  'less_than',
  'less_than_equal',
  'between',
] as const;

/** One comparator of search_by_conditions. */
export type HdbComparator = (typeof HDB_COMPARATORS)[number];

/** A leaf condition or a group of conditions joined by and/or. */
export type ConditionNode =
  | { readonly attribute: string; readonly comparator: HdbComparator; readonly value: JsonValue }
  | { readonly operator: 'and' | 'or'; readonly conditions: readonly ConditionNode[] };

function parseOperator(v: unknown, path: string): 'and' | 'or' {
  if (v === undefined || v === null) return 'and';
  if (v === 'and' || v === 'or' || v === 'AND' || v === 'OR') return v.toLowerCase() as 'and' | 'or';
  throw new Error(`${path}: expected and or or, got ${quote(v)}`);
}

function parseCondition(raw: unknown, path: string, depth: number): ConditionNode {
  if (!isPlain(raw)) throw new Error(`${path}: expected a condition object, got ${quote(raw)}`);
  const v = unalias(raw, `${path}.`);
  if (Object.hasOwn(v, 'conditions')) {
    const extra = Object.keys(v).filter((k) => k !== 'operator' && k !== 'conditions');
    if (extra.length > 0) throw new Error(`${path}: unknown key ${quote(extra[0])} in a condition group`);
    if (depth >= 16) throw new Error(`${path}: condition groups nest at most 16 deep`);
    return {
      operator: parseOperator(v['operator'], `${path}.operator`),
      conditions: parseConditions(v['conditions'], `${path}.conditions`, depth + 1),
    };
  }
  const extra = Object.keys(v).filter((k) => !['attribute', 'comparator', 'value'].includes(k));
  if (extra.length > 0)
    throw new Error(`${path}: unknown key ${quote(extra[0])} (known: attribute, comparator, value)`);
  if (typeof v['attribute'] !== 'string' || v['attribute'] === '')
    throw new Error(`${path}.attribute: expected an attribute name`);
  const comparator = v['comparator'];
  if (typeof comparator !== 'string' || !(HDB_COMPARATORS as readonly string[]).includes(comparator)) {
    throw new Error(
      `${path}.comparator: expected one of ${HDB_COMPARATORS.join(', ')}, got ${quote(comparator)}`,
    );
  }
  const value = v['value'];
  if (value === undefined) throw new Error(`${path}.value: is required`);
  if (comparator === 'between' && (!Array.isArray(value) || value.length !== 2)) {
    throw new Error(`${path}.value: between needs a list of two values [low, high]`);
  }
  if ((comparator === 'starts_with' || comparator === 'ends_with') && typeof value !== 'string') {
    throw new Error(`${path}.value: ${comparator} needs a string`);
  }
  return { attribute: v['attribute'], comparator: comparator as HdbComparator, value: value as JsonValue };
}

function parseConditions(raw: unknown, path: string, depth: number): ConditionNode[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw new Error(`${path}: expected a non-empty list of conditions`);
  return raw.map((c, i) => parseCondition(c, `${path}[${i}]`, depth));
}

const conditions = tree<ConditionNode[]>('a list of conditions', (v, path) => parseConditions(v, path, 0));

/** A subscription of add_node / update_node / set_node_replication. */
export interface SubscriptionInput {
  readonly database?: string;
  readonly table: string;
  readonly subscribe: boolean;
  readonly publish: boolean;
  /** epoch ms, `now` or `beginning` */
  readonly start_time?: number | 'now' | 'beginning';
}

const startTime = s.custom<number | 'now' | 'beginning'>('an ISO time, epoch ms, now or beginning', (v) => {
  if (v === 'now' || v === 'beginning') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  const ms = typeof v === 'string' && /^\d{4}-\d\d-\d\d/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms))
    throw new Error(`expected an ISO time like 2024-01-31T12:00:00.000Z, got ${quote(v)}`);
  return ms;
});

const subscription = s.object({
  database,
  table,
  subscribe: s.boolean(),
  publish: s.boolean(),
  start_time: s.optional(startTime),
});

const subscriptions: Spec<SubscriptionInput[]> = {
  expected: 'a list of subscriptions',
  parse(v, path, problems) {
    if (!Array.isArray(v) || v.length === 0) {
      problems.push(`${path}: expected a non-empty list of {table, subscribe, publish}`);
      return [];
    }
    return v.map((item, i) =>
      subscription.parse(isPlain(item) ? unalias(item, `${path}[${i}].`) : item, `${path}[${i}]`, problems),
    ) as SubscriptionInput[];
  },
};

const nodeName = s.string({
  pattern: /^[^\s\p{Cc}]{1,128}$/u,
  hint: 'a node name (1–128 characters, no spaces)',
});
const op = s.string();

/** One schema per operation. */
export const OPERATION_SCHEMAS = {
  insert: s.object({ operation: op, database, table, records: s.array(record, { minItems: 1 }) }),
  update: s.object({ operation: op, database, table, records: s.array(record, { minItems: 1 }) }),
  upsert: s.object({ operation: op, database, table, records: s.array(record, { minItems: 1 }) }),
  delete: s.object({ operation: op, database, table, ids }),
  search_by_id: s.object({ operation: op, database, table, ids, get_attributes: getAttributes }),
  search_by_value: s.object({
    operation: op,
    database,
    table,
    attribute: anyAttribute,
    value: jsonValue,
    get_attributes: getAttributes,
    limit: count,
    offset: count,
    sort,
  }),
  search_by_conditions: s.object({
    operation: op,
    database,
    table,
    operator: s.optional(s.custom('and or or', (v) => parseOperator(v, 'operator'))),
    conditions,
    get_attributes: getAttributes,
    limit: count,
    offset: count,
    sort,
  }),
  describe_all: s.object({ operation: op, exact_count: s.optional(s.boolean()) }),
  describe_database: s.object({ operation: op, database, exact_count: s.optional(s.boolean()) }),
  describe_table: s.object({ operation: op, database, table, exact_count: s.optional(s.boolean()) }),
  create_database: s.object({ operation: op, database }),
  drop_database: s.object({ operation: op, database: name('database'), replicated: s.optional(s.boolean()) }),
  create_table: s.object({
    operation: op,
    database,
    table,
    primary_key: s.optional(attribute),
    attributes: s.optional(
      s.array(
        s.object({
          name: attribute,
          indexed: s.optional(s.boolean()),
          type: s.optional(s.string()),
          nullable: s.optional(s.boolean()),
        }),
      ),
    ),
    /** tablemesh: compound indexes, each a list of attributes (`[["sensor","ts"]]`) */
    indexes: s.optional(s.array(s.array(attribute, { minItems: 1 }))),
    expiration: s.optional(s.number({ int: true, min: 1 })),
  }),
  create_attribute: s.object({ operation: op, database, table, attribute }),
  drop_table: s.object({ operation: op, database, table, replicated: s.optional(s.boolean()) }),
  add_node: s.object({ operation: op, node_name: nodeName, subscriptions }),
  update_node: s.object({ operation: op, node_name: nodeName, subscriptions }),
  set_node_replication: s.object({ operation: op, node_name: nodeName, subscriptions }),
  remove_node: s.object({ operation: op, node_name: nodeName }),
  cluster_status: s.object({ operation: op }),
} satisfies Record<string, Spec<unknown>>;

/** The operations this API knows. */
export type OperationName = keyof typeof OPERATION_SCHEMAS;

/** The validated body of operation `N`. */
export type OperationBody<N extends OperationName> = Infer<(typeof OPERATION_SCHEMAS)[N]>;

/** A validated request: the operation, its body, and the confirmation fields taken out of it. */
export type ParsedOperation = {
  [N in OperationName]: { readonly name: N; readonly body: OperationBody<N> };
}[OperationName] & { readonly confirm?: unknown; readonly confirm_timeout_ms?: unknown };

/** Parses and validates an operations request body; TM_INVALID_ARGUMENT naming every problem. */
export function parseOperation(raw: unknown): ParsedOperation {
  if (!isPlain(raw)) {
    throw new TmError(
      'TM_INVALID_ARGUMENT',
      'the body must be a JSON object like {"operation": "describe_all"}',
    );
  }
  const operation = raw['operation'];
  if (typeof operation !== 'string' || operation === '') {
    throw new TmError(
      'TM_INVALID_ARGUMENT',
      'the body needs "operation", e.g. {"operation": "describe_all"}',
    );
  }
  const opName = OPERATION_ALIASES[operation] ?? operation;
  if (!Object.hasOwn(OPERATION_SCHEMAS, opName)) {
    throw new TmError('TM_INVALID_ARGUMENT', `Operation ${quote(operation)} not found`);
  }
  const { confirm, confirm_timeout_ms, ...rest } = unalias(raw, '');
  const schema = OPERATION_SCHEMAS[opName as OperationName] as Spec<unknown>;
  let body: unknown;
  try {
    body = parseConfig(schema, rest, opName);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new TmError('TM_INVALID_ARGUMENT', `invalid ${opName} request: ${err.problems.join('; ')}`, {
      problems: [...err.problems],
    });
  }
  return {
    name: opName,
    body,
    ...(confirm !== undefined ? { confirm } : {}),
    ...(confirm_timeout_ms !== undefined ? { confirm_timeout_ms } : {}),
  } as ParsedOperation;
}
