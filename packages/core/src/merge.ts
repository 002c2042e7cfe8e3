/**
 * Per-attribute last-writer-wins merge of record state `(W, A)` (I4) and tombstone helpers (I5). Pure functions:
 * no I/O, no failpoints; `joinStates` is commutative, associative and idempotent, so replicas that merge the same
 * set of transactions in any order, with duplicates, hold byte-identical `encodeState` output.
 */
import { canonicalJson } from './canonical-json.js';
import { TmError } from './errors.js';
import { assertHlc, compareStamp } from './hlc.js';
import type { JsonValue, Op, PrimaryKey, RecordState, Stamp, StampedValue } from './types.js';
import { assertAttributeName, assertJsonValue } from './validate.js';

type W = NonNullable<RecordState['w']>;

const EMPTY_ATTRS: Readonly<Record<string, StampedValue>> = Object.freeze({});

const EMPTY_STATE: RecordState = Object.freeze({ attrs: EMPTY_ATTRS });

/** The state of a key nothing was ever written to (one shared, frozen object). */
export function emptyState(): RecordState {
  return EMPTY_STATE;
}

/** The state a single op at `stamp` produces on its own (I4). */
export function stateOfOp(op: Op, stamp: Stamp): RecordState {
  switch (op.kind) {
    case 'put':
      // I4: a put at s sets W = s (put) and its attributes at s.
      return { w: { stamp, kind: 'put' }, attrs: stampAll(op.attrs, stamp) };
    case 'patch':
      // I4: a patch at s sets its attributes at s.
      return { attrs: stampAll(op.attrs, stamp) };
    case 'delete':
      // I4: a delete at s sets W = s (delete).
      return { w: { stamp, kind: 'delete' }, attrs: EMPTY_ATTRS };
  }
}

/**
 * An object's own names in UTF-16 code unit order (the order canonical JSON writes them). Object.keys lists them
 * in insertion order — already sorted for states this module builds or decodes — except that names that look
 * like array indexes come first. This runs on every write: a record's few names are put in order in place (an
 * insertion sort, no allocation; nothing moves when they are in order already), many by Array.prototype.sort.
 */
function sortedNames(obj: object): string[] {
  const names = Object.keys(obj);
  if (names.length > 16) return names.sort();
  for (let i = 1; i < names.length; i++) {
    const name = names[i]!;
    let j = i - 1;
    if (names[j]! < name) continue;
    while (j >= 0 && names[j]! > name) {
      names[j + 1] = names[j]!;
      j--;
    }
    names[j + 1] = name;
  }
  return names;
}

/** The attributes at `stamp`, in sorted name order (the order joinStates produces, so a first write is kept as is). */
function stampAll(attrs: Readonly<Record<string, JsonValue>>, stamp: Stamp): Record<string, StampedValue> {
  const names = sortedNames(attrs);
  const out: Record<string, StampedValue> = {};
  for (const name of names) {
    // An assignment to `__proto__` would set the prototype; such a name takes the slow, exact path.
    if (name === '__proto__') return Object.fromEntries(names.map((n) => [n, { value: attrs[n]!, stamp }]));
    out[name] = { value: attrs[name]!, stamp };
  }
  return out;
}

/** Applies one op at `stamp` to a state: `joinStates(state, stateOfOp(op, stamp))` (I4). */
export function applyOp(state: RecordState, op: Op, stamp: Stamp): RecordState {
  return joinStates(state, stateOfOp(op, stamp));
}

/**
 * Joins two states (I4): max on W, max per attribute, then drop attributes W supersedes. Commutative,
 * associative and idempotent; every tie is broken deterministically.
 */
export function joinStates(a: RecordState, b: RecordState): RecordState {
  const aNames = Object.keys(a.attrs);
  const bNames = Object.keys(b.attrs);
  // The first write to a key joins into nothing: `b` is the result when it is already normal (every attribute
  // survives its W, names sorted) — which the state of a single op is.
  if (a.w === undefined && aNames.length === 0 && isNormal(b, bNames)) return b;
  const w = maxW(a.w, b.w);
  const names =
    aNames.length === 0 ? bNames : bNames.length === 0 ? aNames : [...new Set([...aNames, ...bNames])];
  const entries: [string, StampedValue][] = [];
  for (const name of names.sort()) {
    // Own attributes only: `constructor`, `toString` … are ordinary attribute names (SPEC §3).
    const best = maxAttr(ownAttr(a.attrs, name), ownAttr(b.attrs, name));
    if (survives(best.stamp, w)) entries.push([name, best]);
  }
  const attrs = entries.length === 0 ? EMPTY_ATTRS : Object.fromEntries(entries);
  return w === undefined ? { attrs } : { w, attrs };
}

/** True when every attribute of `state` survives its W and `names` (its attribute names) are sorted. */
function isNormal(state: RecordState, names: readonly string[]): boolean {
  for (let i = 0; i < names.length; i++) {
    if (i > 0 && names[i - 1]! >= names[i]!) return false;
    if (!survives(state.attrs[names[i]!]!.stamp, state.w)) return false;
  }
  return true;
}

function ownAttr(attrs: RecordState['attrs'], name: string): StampedValue | undefined {
  return Object.hasOwn(attrs, name) ? attrs[name] : undefined;
}

function maxW(a: W | undefined, b: W | undefined): W | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const c = compareStamp(a.stamp, b.stamp);
  if (c !== 0) return c > 0 ? a : b;
  // One origin never stamps a put and a delete alike; if it happens anyway, delete wins so the join stays a join.
  return a.kind === 'delete' ? a : b;
}

function maxAttr(a: StampedValue | undefined, b: StampedValue | undefined): StampedValue {
  if (a === undefined) return b!;
  if (b === undefined) return a;
  const c = compareStamp(a.stamp, b.stamp);
  if (c !== 0) return c > 0 ? a : b;
  // Equal stamps with different values cannot come from one origin; pick the larger canonical JSON anyway.
  return canonicalJson(a.value) >= canonicalJson(b.value) ? a : b;
}

/**
 * I4 "drop attributes whose stamp ≤ W's": an attribute older than W is dropped; one at exactly W's stamp survives
 * only under a put, because that is the put's own attribute (a put at s sets its attributes at s). Under a delete
 * at s it is dropped. The predicate only shrinks as W grows, which keeps the join associative.
 */
function survives(stamp: Stamp, w: W | undefined): boolean {
  if (w === undefined) return true;
  const c = compareStamp(stamp, w.stamp);
  return c > 0 || (c === 0 && w.kind === 'put');
}

/** I4: a record exists iff it has an attribute or its W is a put. */
export function recordExists(state: RecordState): boolean {
  return state.w?.kind === 'put' || Object.keys(state.attrs).length > 0;
}

/**
 * The user-visible record: attributes, the primary key, `__createdtime__` (W's wall if W is a put, else the
 * smallest attribute stamp's wall) and `__updatedtime__` (the largest live stamp's wall) (SPEC §3).
 * undefined if the record does not exist (I4).
 */
export function liveRecord(
  state: RecordState,
  pkAttr: string,
  key: PrimaryKey,
): Record<string, JsonValue> | undefined {
  if (!recordExists(state)) return undefined;
  const putStamp = state.w?.kind === 'put' ? state.w.stamp : undefined;
  let oldest: Stamp | undefined = putStamp;
  let newest: Stamp | undefined = putStamp;
  const entries: [string, JsonValue][] = [[pkAttr, key]];
  for (const name of Object.keys(state.attrs)) {
    const { value, stamp } = state.attrs[name]!;
    if (name !== pkAttr) entries.push([name, value]);
    if (putStamp === undefined && (oldest === undefined || compareStamp(stamp, oldest) < 0)) oldest = stamp;
    if (newest === undefined || compareStamp(stamp, newest) > 0) newest = stamp;
  }
  entries.push(['__createdtime__', oldest!.wall], ['__updatedtime__', newest!.wall]);
  return Object.fromEntries(entries);
}

/**
 * Folds several writes to one key within one transaction into one op per key (SPEC §4), equal to applying them
 * in order at one stamp. Keys compare with their type (`"1"` ≠ `1`); output keeps first-appearance order.
 */
export function foldOps(ops: readonly Op[]): Op[] {
  // A Map compares keys by SameValueZero: "1" and 1 stay apart.
  const byKey = new Map<PrimaryKey, Op>();
  for (const op of ops) {
    const prev = byKey.get(op.key);
    byKey.set(op.key, prev === undefined ? op : foldTwo(prev, op));
  }
  return [...byKey.values()];
}

function foldTwo(prev: Op, next: Op): Op {
  if (next.kind !== 'patch') return next; // x,put → put; x,delete → delete
  switch (prev.kind) {
    case 'put':
      return { kind: 'put', key: next.key, attrs: { ...prev.attrs, ...next.attrs } };
    case 'patch':
      return { kind: 'patch', key: next.key, attrs: { ...prev.attrs, ...next.attrs } };
    case 'delete':
      // delete then patch leaves exactly the patched attributes: that is a put of them.
      return { kind: 'put', key: next.key, attrs: { ...next.attrs } };
  }
}

/**
 * Canonical serialization of the full merge state (W and per-attribute stamps), RFC 8785, so replicas can be
 * compared byte for byte (I4): `{"a":{name:[value,wall,counter,node,epoch]},"w":[kind,wall,counter,node,epoch]}`.
 */
export function encodeState(state: RecordState): string {
  // Written directly rather than through an intermediate document: this runs once per write. Each piece is
  // what canonicalJson would produce — names sorted by UTF-16 code units ("a" < "w"), values canonical.
  const names = sortedNames(state.attrs);
  let out = '{"a":{';
  // The attributes of one write share one stamp object: serialize it once.
  let lastStamp: Stamp | undefined;
  let lastStampText = '';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const { value, stamp } = state.attrs[name]!;
    if (stamp !== lastStamp) {
      lastStamp = stamp;
      lastStampText = stampText(stamp);
    }
    out += `${i > 0 ? ',' : ''}${JSON.stringify(name)}:[${canonicalValue(value)},${lastStampText}]`;
  }
  out += '}';
  if (state.w !== undefined) out += `,"w":[${JSON.stringify(state.w.kind)},${stampText(state.w.stamp)}]`;
  return flatten(`${out}}`);
}

/**
 * Returns `text` flattened. A string built by concatenation is a tree of its pieces — about 4× its size for an
 * encoded state — until something reads it as a whole; a state is kept until its group is durable, so the tree
 * would be copied by every young-generation collection meanwhile. Reading a character makes V8 flatten it.
 */
function flatten(text: string): string {
  text.charCodeAt(0);
  return text;
}

/**
 * `encodeState(stateOfOp(op, stamp))`, written from the op without building the state: what a local write that
 * joins nothing is stored as (its stamp passes every stored one, so the I4 join is the op's own state).
 */
export function encodeOpState(op: Op, stamp: Stamp): string {
  const st = stampText(stamp);
  if (op.kind === 'delete') return `{"a":{},"w":["delete",${st}]}`;
  const names = sortedNames(op.attrs);
  let out = '{"a":{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    out += `${i > 0 ? ',' : ''}${JSON.stringify(name)}:[${canonicalValue(op.attrs[name]!)},${st}]`;
  }
  return flatten(op.kind === 'put' ? `${out}},"w":["put",${st}]}` : `${out}}}`);
}

/**
 * The UTF-8 size of the canonical JSON of a put's attributes (recordBytes), read off `encoded` — encodeOpState of
 * that put at `stamp` — without serializing them again: the encoding is that JSON with `[`, `,` + the stamp and `]`
 * around each of the n values and the W part added, all ASCII but the stamp. Property-tested against recordBytes.
 */
export function putAttrBytes(
  encoded: string,
  attrs: Readonly<Record<string, JsonValue>>,
  stamp: Stamp,
): number {
  let n = 0;
  for (const _ in attrs) n++;
  const stampBytes = Buffer.byteLength(stampText(stamp), 'utf8');
  // {"a":{ … },"w":["put",S]} is 21 + S bytes around the attributes; each adds [ ,S ] (3 + S) to name:value.
  return Buffer.byteLength(encoded, 'utf8') - 19 - 3 * n - (n + 1) * stampBytes;
}

/** `wall,counter,"node","epoch"` of a stamp, canonical (integers print as themselves). */
function stampText(stamp: Stamp): string {
  return `${canonicalValue(stamp.wall)},${canonicalValue(stamp.counter)},${JSON.stringify(stamp.node)},${JSON.stringify(stamp.epoch)}`;
}

function canonicalValue(value: JsonValue): string {
  // Strings and numbers are most attribute values. JSON.stringify escapes strings exactly as RFC 8785 does;
  // a finite number prints as ECMAScript's Number-to-String (String(-0) is "0"). Anything else: canonicalJson.
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return canonicalJson(value);
}

/** Parses `encodeState` output back into a state, validating every part; TM_INVALID_VALUE if malformed. */
export function decodeState(text: string): RecordState {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformed('not JSON');
  }
  return decodeStateDoc(doc);
}

/** decodeState of an already parsed document (e.g. a state embedded in a change-log entry). */
export function decodeStateDoc(doc: unknown): RecordState {
  if (!isPlainObject(doc) || !isPlainObject(doc['a'])) throw malformed('expected {"a":{…},"w"?:[…]}');
  for (const k of Object.keys(doc)) if (k !== 'a' && k !== 'w') throw malformed(`unexpected field ${k}`);
  let w: W | undefined;
  if (doc['w'] !== undefined) {
    const tuple = doc['w'];
    if (!Array.isArray(tuple) || tuple.length !== 5 || (tuple[0] !== 'put' && tuple[0] !== 'delete')) {
      throw malformed('w must be [kind, wall, counter, node, epoch]');
    }
    w = { kind: tuple[0], stamp: decodeStamp(tuple, undefined, 'w') };
  }
  const src = doc['a'];
  const entries: [string, StampedValue][] = [];
  // The attributes of one write share one stamp: decode equal stamps to one object, as the write made them
  // (encodeState then serializes each stamp once).
  let previous = w?.stamp;
  for (const name of Object.keys(src)) {
    const tuple = src[name];
    if (!Array.isArray(tuple) || tuple.length !== 5) throw malformed(`attribute ${name} must be a 5-tuple`);
    let value: JsonValue;
    try {
      value = assertJsonValue(tuple[0], assertAttributeName(name));
    } catch (err) {
      throw malformed(`attribute ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    const stamp = decodeStamp(tuple, previous, name);
    previous = stamp;
    // I4: a stored state never holds an attribute its W supersedes.
    if (!survives(stamp, w)) throw malformed(`attribute ${name} is not newer than W`);
    entries.push([name, { value, stamp }]);
  }
  const attrs = entries.length === 0 ? EMPTY_ATTRS : Object.fromEntries(entries);
  return w === undefined ? { attrs } : { w, attrs };
}

/** The stamp in tuple[1..4] (`[_, wall, counter, node, epoch]`); `same` when equal to it. */
function decodeStamp(tuple: readonly unknown[], same: Stamp | undefined, where: string): Stamp {
  const [, wall, counter, node, epoch] = tuple;
  if (typeof node !== 'string' || typeof epoch !== 'string')
    throw malformed(`stamp of ${where}: bad node/epoch`);
  if (same && same.wall === wall && same.counter === counter && same.node === node && same.epoch === epoch) {
    return same; // already validated
  }
  try {
    const hlc = assertHlc({ wall, counter }, `stamp of ${where}`);
    return { wall: hlc.wall, counter: hlc.counter, node, epoch };
  } catch (err) {
    throw malformed((err as Error).message);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function malformed(why: string): TmError {
  return new TmError('TM_INVALID_VALUE', `malformed record state: ${why}`, { why });
}

/** The largest stamp anywhere in the state (W or an attribute), for GC and snapshot pruning (I5, I13). */
export function maxStamp(state: RecordState): Stamp | undefined {
  let max = state.w?.stamp;
  for (const name of Object.keys(state.attrs)) {
    const s = state.attrs[name]!.stamp;
    if (max === undefined || compareStamp(s, max) > 0) max = s;
  }
  return max;
}

/** I5: a tombstone may be collected when W is a delete, no attribute outlives it and W ≤ the horizon. */
export function isCollectableTombstone(state: RecordState, horizonStamp: Stamp): boolean {
  return (
    state.w?.kind === 'delete' &&
    Object.keys(state.attrs).length === 0 &&
    compareStamp(state.w.stamp, horizonStamp) <= 0
  );
}
