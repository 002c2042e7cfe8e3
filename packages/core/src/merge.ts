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
 * compared byte for byte (I4): `{"a":{name:[value,i]},"s":[[wall,counter,node,epoch],…],"w":[kind,i]}`. Each
 * distinct stamp is written once in `s` and referred to by its index: W's first, then the attributes' in name
 * order, each where it first appears — so equal states give equal text. The attributes of one write share one
 * stamp: a record written whole is its values and one stamp (a 5-tuple per attribute more than doubled it,
 * and every byte is copied into the batch, written and fsync'd twice — record and change log).
 */
export function encodeState(state: RecordState): string {
  // Written directly rather than through an intermediate document: this runs once per write. Each piece is
  // what canonicalJson would produce — names sorted by UTF-16 code units ("a" < "s" < "w"), values canonical.
  const stamps = new StampTable();
  const w =
    state.w === undefined ? '' : `,"w":[${JSON.stringify(state.w.kind)},${stamps.indexOf(state.w.stamp)}]`;
  const names = sortedNames(state.attrs);
  let out = '{"a":{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const { value, stamp } = state.attrs[name]!;
    out += `${i > 0 ? ',' : ''}${JSON.stringify(name)}:[${canonicalValue(value)},${stamps.indexOf(stamp)}]`;
  }
  return flatten(`${out}},"s":[${stamps.text()}]${w}}`);
}

/** The distinct stamps of a state in order of first appearance, equal stamps (by value) at one index. */
class StampTable {
  private readonly stamps: Stamp[] = [];
  private readonly texts: string[] = [];
  /** text → index, once the table is long enough that a scan would cost more */
  private byText: Map<string, number> | undefined;
  private last: Stamp | undefined;
  private lastIndex = 0;

  indexOf(stamp: Stamp): number {
    // The attributes of one write share one stamp object: most lookups end here.
    if (stamp !== this.last) {
      this.last = stamp;
      this.lastIndex = this.byText === undefined ? this.scan(stamp) : -1;
      if (this.lastIndex < 0) this.lastIndex = this.byTextOrAdd(stamp, stampText(stamp));
    }
    return this.lastIndex;
  }

  /** The index of a stamp equal to `stamp`, -1 if none: a scan while the table is short. */
  private scan(stamp: Stamp): number {
    return this.stamps.findIndex(
      (s) =>
        s === stamp ||
        (s.wall === stamp.wall &&
          s.counter === stamp.counter &&
          s.node === stamp.node &&
          s.epoch === stamp.epoch),
    );
  }

  /** The index of the stamp printed as `text` (`stamp`'s), added at the end if new. */
  private byTextOrAdd(stamp: Stamp, text: string): number {
    const known = this.byText?.get(text);
    if (known !== undefined) return known;
    const index = this.texts.length;
    this.stamps.push(stamp);
    this.texts.push(text);
    if (this.byText !== undefined) this.byText.set(text, index);
    else if (this.texts.length > 16) this.byText = new Map(this.texts.map((t, i) => [t, i]));
    return index;
  }

  /** `[wall,counter,node,epoch],…` in index order. */
  text(): string {
    let out = '';
    for (let i = 0; i < this.texts.length; i++) out += `${i > 0 ? ',' : ''}[${this.texts[i]}]`;
    return out;
  }
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
 * joins nothing is stored as (its stamp passes every stored one, so the I4 join is the op's own state). Every
 * attribute and W refer to the op's one stamp, index 0.
 */
export function encodeOpState(op: Op, stamp: Stamp): string {
  const stamps = `"s":[[${stampText(stamp)}]]`;
  if (op.kind === 'delete') return `{"a":{},${stamps},"w":["delete",0]}`;
  const names = sortedNames(op.attrs);
  if (names.length === 0 && op.kind === 'patch') return '{"a":{},"s":[]}';
  let out = '{"a":{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    out += `${i > 0 ? ',' : ''}${JSON.stringify(name)}:[${canonicalValue(op.attrs[name]!)},0]`;
  }
  return flatten(op.kind === 'put' ? `${out}},${stamps},"w":["put",0]}` : `${out}},${stamps}}`);
}

/**
 * The UTF-8 size of the canonical JSON of a put's attributes (recordBytes), read off `encoded` — encodeOpState of
 * that put at `stamp` — without serializing them again: the encoding is that JSON with `[` and `,0]` around each
 * of the n values, and the stamp table and W after it, all ASCII but the stamp. Property-tested against recordBytes.
 */
export function putAttrBytes(
  encoded: string,
  attrs: Readonly<Record<string, JsonValue>>,
  stamp: Stamp,
): number {
  let n = 0;
  for (const _ in attrs) n++;
  const stampBytes = Buffer.byteLength(stampText(stamp), 'utf8');
  // {"a":{ … },"s":[[S]],"w":["put",0]} is 29 + S bytes around the attributes' {…}; each adds [ and ,0] (4).
  return Buffer.byteLength(encoded, 'utf8') - 29 - 4 * n - stampBytes;
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
  if (!isPlainObject(doc) || !isPlainObject(doc['a']) || !Array.isArray(doc['s'])) {
    throw malformed('expected {"a":{…},"s":[…],"w"?:[…]}');
  }
  for (const k of Object.keys(doc))
    if (k !== 'a' && k !== 's' && k !== 'w') throw malformed(`unexpected field ${k}`);
  // Stamps referred to by index decode to one object each: the attributes of one write share it, as the write
  // made them (encodeState then finds each by identity).
  const stamps = doc['s'].map((tuple, i) => decodeStamp(tuple, `stamp ${i}`));
  const stampAt = (index: unknown, where: string): Stamp => {
    const stamp = Number.isInteger(index) ? stamps[index as number] : undefined;
    if (stamp === undefined) throw malformed(`${where}: no stamp ${JSON.stringify(index)}`);
    return stamp;
  };
  let w: W | undefined;
  if (doc['w'] !== undefined) {
    const tuple = doc['w'];
    if (!Array.isArray(tuple) || tuple.length !== 2 || (tuple[0] !== 'put' && tuple[0] !== 'delete')) {
      throw malformed('w must be [kind, stamp index]');
    }
    w = { kind: tuple[0], stamp: stampAt(tuple[1], 'w') };
  }
  const src = doc['a'];
  const entries: [string, StampedValue][] = [];
  for (const name of Object.keys(src)) {
    const tuple = src[name];
    if (!Array.isArray(tuple) || tuple.length !== 2)
      throw malformed(`attribute ${name} must be [value, stamp index]`);
    let value: JsonValue;
    try {
      value = assertJsonValue(tuple[0], assertAttributeName(name));
    } catch (err) {
      throw malformed(`attribute ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    const stamp = stampAt(tuple[1], `attribute ${name}`);
    // I4: a stored state never holds an attribute its W supersedes.
    if (!survives(stamp, w)) throw malformed(`attribute ${name} is not newer than W`);
    entries.push([name, { value, stamp }]);
  }
  const attrs = entries.length === 0 ? EMPTY_ATTRS : Object.fromEntries(entries);
  return w === undefined ? { attrs } : { w, attrs };
}

/** A stamp `[wall, counter, node, epoch]`, validated. */
function decodeStamp(tuple: unknown, where: string): Stamp {
  if (!Array.isArray(tuple) || tuple.length !== 4)
    throw malformed(`${where} must be [wall, counter, node, epoch]`);
  const [wall, counter, node, epoch] = tuple;
  if (typeof node !== 'string' || typeof epoch !== 'string') throw malformed(`${where}: bad node/epoch`);
  try {
    const hlc = assertHlc({ wall, counter }, where);
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
