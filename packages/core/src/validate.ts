/**
 * Input validation for names, keys, values and records (SPEC §3, §7: bad input gets a clear error and changes
 * nothing). Every refusal is a TmError with a stable code; messages quote the bad input safely.
 */
import { TmError } from './errors.js';
import type { JsonValue, Op, PrimaryKey } from './types.js';

/** Database, table and node names (SPEC §3); topics never carry `/ + # $` or NUL from user input. */
export const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Longest attribute name in UTF-8 bytes (SPEC §3). */
export const MAX_ATTRIBUTE_NAME_BYTES = 255;

/** Longest string primary key in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Deepest nesting of arrays and objects inside one attribute value. */
export const MAX_VALUE_DEPTH = 64;

/** The derived timestamp attributes (SPEC §3): computed from the merge state, writes to them are ignored. */
export const DERIVED_ATTRIBUTES: readonly string[] = ['__createdtime__', '__updatedtime__'];

/** What a name names, for error messages. */
export type NameKind = 'database' | 'table' | 'node' | 'attribute' | 'index';

// A lone surrogate cannot be encoded as UTF-8; in `u` mode paired surrogates are one code point and do not match.
const LONE_SURROGATE_RE = /[\uD800-\uDFFF]/u;

/** Quotes any input for an error message: JSON escapes (a NUL shows as \u0000), long strings cut. */
export function quote(value: unknown): string {
  if (typeof value === 'string') {
    const cut = value.length > 80 ? `${value.slice(0, 80)}…` : value;
    return JSON.stringify(cut);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  return `a ${Array.isArray(value) ? 'array' : typeof value}`;
}

/** Returns `name` if it matches NAME_RE (attributes named this way also may not start with `__`); else TM_INVALID_NAME. */
export function assertName(kind: NameKind, name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || (kind === 'attribute' && name.startsWith('__'))) {
    throw new TmError(
      'TM_INVALID_NAME',
      `invalid ${kind} name ${quote(name)}: use 1–64 characters [A-Za-z0-9_], not starting with a digit` +
        (kind === 'attribute' ? ' or __' : ''),
      { kind, name: quote(name) },
    );
  }
  return name;
}

/** Splits a `database.table` reference into its two validated names; TM_INVALID_NAME otherwise. */
export function parseTableRef(ref: string): { database: string; table: string } {
  const parts = typeof ref === 'string' ? ref.split('.') : [];
  if (parts.length !== 2) {
    throw new TmError('TM_INVALID_NAME', `invalid table reference ${quote(ref)}: expected database.table`, {
      kind: 'table',
      name: quote(ref),
    });
  }
  return { database: assertName('database', parts[0]), table: assertName('table', parts[1]) };
}

/** Returns `name` if it is a valid attribute name: non-empty UTF-8 of ≤255 bytes, not starting with `__`. */
export function assertAttributeName(name: unknown): string {
  let why: string | undefined;
  if (typeof name !== 'string') why = 'it is not a string';
  else if (name.length === 0) why = 'it is empty';
  else if (name.startsWith('__')) why = 'names starting with __ are reserved';
  else if (LONE_SURROGATE_RE.test(name)) why = 'it is not valid UTF-8 (lone surrogate)';
  else if (Buffer.byteLength(name, 'utf8') > MAX_ATTRIBUTE_NAME_BYTES) why = 'it is longer than 255 bytes';
  if (why !== undefined) {
    throw new TmError('TM_INVALID_NAME', `invalid attribute name ${quote(name)}: ${why}`, {
      kind: 'attribute',
      name: quote(name),
    });
  }
  return name as string;
}

/**
 * Returns a valid primary key: a non-empty string of ≤1024 UTF-8 bytes, or a finite number that is a safe
 * integer or not an integer at all (`"1"` ≠ `1`, SPEC §3); -0 is returned as 0. TM_INVALID_KEY otherwise.
 */
export function assertPrimaryKey(key: unknown): PrimaryKey {
  let why: string | undefined;
  if (typeof key === 'string') {
    if (key.length === 0) why = 'it is empty';
    else if (LONE_SURROGATE_RE.test(key)) why = 'it is not valid UTF-8 (lone surrogate)';
    else if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) why = `it is longer than ${MAX_KEY_BYTES} bytes`;
  } else if (typeof key === 'number') {
    if (!Number.isFinite(key)) why = 'it is not a finite number';
    else if (Number.isInteger(key) && !Number.isSafeInteger(key)) why = 'integers beyond ±2^53 are refused';
    // -0 and 0 are one key: they print the same in canonical JSON and on the wire.
    else if (Object.is(key, -0)) return 0;
  } else {
    why = 'a primary key must be a string or a number';
  }
  if (why !== undefined) {
    throw new TmError('TM_INVALID_KEY', `invalid primary key ${quote(key)}: ${why}`, { key: quote(key) });
  }
  return key as PrimaryKey;
}

/**
 * Returns `value` if it is storable JSON: null, booleans, strings (valid UTF-8), finite numbers with integers
 * within ±2^53, arrays and plain objects nested at most 64 deep. TM_INVALID_VALUE naming `path` otherwise.
 */
export function assertJsonValue(value: unknown, path: string): JsonValue {
  checkValue(value, path, 0);
  return value as JsonValue;
}

function checkValue(value: unknown, path: string, depth: number): void {
  switch (typeof value) {
    case 'boolean':
      return;
    case 'string':
      if (LONE_SURROGATE_RE.test(value))
        throw invalidValue(path, 'a string is not valid UTF-8 (lone surrogate)');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw invalidValue(path, `${value} is not a JSON number`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        throw invalidValue(path, `the integer ${value} is beyond ±2^53 and would lose precision`);
      }
      return;
    case 'object':
      if (value === null) return;
      if (depth >= MAX_VALUE_DEPTH) throw invalidValue(path, `nested deeper than ${MAX_VALUE_DEPTH} levels`);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) checkValue(value[i], `${path}[${i}]`, depth + 1);
        return;
      }
      checkObject(value, path, depth);
      return;
    default:
      throw invalidValue(path, `a ${typeof value} is not a JSON value`);
  }
}

function checkObject(value: object, path: string, depth: number): void {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null)
    throw invalidValue(path, 'only plain objects are JSON objects');
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (LONE_SURROGATE_RE.test(key)) throw invalidValue(path, `the key ${quote(key)} is not valid UTF-8`);
    checkValue(obj[key], `${path}.${key}`, depth + 1);
  }
}

function invalidValue(path: string, why: string): TmError {
  return new TmError('TM_INVALID_VALUE', `invalid value at ${quote(path)}: ${why}`, { path });
}

/**
 * Validates a client's record body and returns its storable attributes: an object is required; the derived
 * `__createdtime__`/`__updatedtime__` are dropped silently (SPEC §3), other `__` names are refused, and the
 * primary key attribute `pkAttr` is removed (the caller passes the key separately).
 */
export function validateRecordAttrs(attrs: unknown, pkAttr: string): Record<string, JsonValue> {
  if (typeof attrs !== 'object' || attrs === null || Array.isArray(attrs)) {
    throw new TmError('TM_INVALID_VALUE', `a record must be a JSON object, got ${quote(attrs)}`, {
      path: '',
    });
  }
  const proto: unknown = Object.getPrototypeOf(attrs);
  if (proto !== Object.prototype && proto !== null) throw invalidValue('', 'a record must be a plain object');
  const src = attrs as Record<string, unknown>;
  const out: Record<string, JsonValue> = {};
  for (const name of Object.keys(src)) {
    if (name === pkAttr || DERIVED_ATTRIBUTES.includes(name)) continue;
    // Names are checked before use as keys: `__proto__` and the like never get here.
    out[assertAttributeName(name)] = assertJsonValue(src[name], name);
  }
  return out;
}

/**
 * Size of a record's attributes: UTF-8 bytes of their canonical JSON (RFC 8785), for attributes that passed
 * validateRecordAttrs. For such values JSON.stringify writes the same characters in another key order (numbers
 * and strings print alike, no toJSON can exist), so its length is the canonical length at a fraction of the cost.
 */
export function recordBytes(attrs: Readonly<Record<string, JsonValue>>): number {
  return Buffer.byteLength(JSON.stringify(attrs), 'utf8');
}

/** Returns the record's size in bytes if it is at most `maxRecordBytes`; TM_RECORD_TOO_LARGE otherwise. */
export function assertRecordSize(attrs: Readonly<Record<string, JsonValue>>, maxRecordBytes: number): number {
  return assertRecordBytes(recordBytes(attrs), maxRecordBytes);
}

/** assertRecordSize for a record whose size (`bytes`, as recordBytes measures it) is already known. */
export function assertRecordBytes(bytes: number, maxRecordBytes: number): number {
  if (bytes > maxRecordBytes) {
    throw new TmError(
      'TM_RECORD_TOO_LARGE',
      `record is ${bytes} bytes, more than maxRecordBytes ${maxRecordBytes}`,
      { bytes, maxRecordBytes },
    );
  }
  return bytes;
}

/**
 * UTF-8 bytes of the canonical JSON (RFC 8785) of a checked op, `{"attrs":…,"key":…,"kind":"put"}`, given the
 * canonical size of its attributes (recordBytes). Keys print as JSON.stringify prints them (RFC 8785 uses
 * ECMAScript's string and number forms). In a list, ops add one comma each and the brackets. The edge (before it
 * commits) and the hub (at ingest) measure a transaction with it alike, so what one accepts the other accepts.
 */
export function opJsonBytes(op: Op, attrBytes: number): number {
  const key = Buffer.byteLength(JSON.stringify(op.key), 'utf8');
  if (op.kind === 'delete') return 24 + key; // {"key":K,"kind":"delete"}
  return (op.kind === 'put' ? 30 : 32) + key + attrBytes; // {"attrs":A,"key":K,"kind":"put"|"patch"}
}
