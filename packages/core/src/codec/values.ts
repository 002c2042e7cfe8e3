/**
 * Converters for the small building blocks: JSON attribute values, primary keys and stamps.
 * `toWireX` validates with TM_INVALID_ARGUMENT, `fromWireX` with TM_BAD_MESSAGE (see runtime.ts).
 */
import { TmError } from '../errors.js';
import type { JsonValue, PrimaryKey, Stamp } from '../types.js';
import type * as pb from './generated/wire.js';
import { bad, invalid, required, toU32, toU64, u64 } from './runtime.js';

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** JSON.stringify silently turns NaN and ±Infinity into null; the wire refuses them instead. */
function finiteOnly(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new TmError('TM_INVALID_VALUE', `${value} is not a JSON number`);
  }
  return value;
}

/** A JSON value as UTF-8 JSON text; numbers keep their exact value (shortest round-trip form). */
export function toWireJson(value: JsonValue, at: string): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, finiteOnly);
  } catch (err) {
    throw new TmError('TM_INVALID_VALUE', `${at}: ${(err as Error).message}`);
  }
  if (text === undefined) throw new TmError('TM_INVALID_VALUE', `${at}: ${typeof value} is not a JSON value`);
  return utf8Encoder.encode(text);
}

function assertFinite(value: unknown, at: string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) bad(`${at}: number out of range`);
  } else if (Array.isArray(value)) {
    for (const item of value) assertFinite(item, at);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) assertFinite(item, at);
  }
}

/** UTF-8 JSON text back to a value; invalid UTF-8, invalid JSON or a number overflowing to ±Infinity is refused. */
export function fromWireJson(bytes: Uint8Array, at: string): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(utf8Decoder.decode(bytes)) as JsonValue;
  } catch (err) {
    return bad(`${at}: not UTF-8 JSON (${(err as Error).message})`);
  }
  assertFinite(value, at);
  return value;
}

/** Sets `obj[name]` as an own data property even for `__proto__` (which plain assignment would not). */
export function setOwn<T>(obj: Record<string, T>, name: string, value: T): void {
  if (name === '__proto__') {
    Object.defineProperty(obj, name, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[name] = value;
  }
}

/** A primary key: a string, or a finite number (-0 is written as 0). */
export function toWireKey(key: PrimaryKey, at: string): pb.Key {
  if (typeof key === 'string') return { str: key };
  if (typeof key === 'number' && Number.isFinite(key)) return { num: key === 0 ? 0 : key };
  throw new TmError('TM_INVALID_KEY', `${at} must be a string or a finite number, got ${String(key)}`);
}

/** The key of a decoded Key message; exactly one member must be set. */
export function fromWireKey(key: pb.Key | null, at: string): PrimaryKey {
  if (key === null || key === undefined) return bad(`${at} is missing`);
  if (key.value === 'str' && typeof key.str === 'string') return key.str;
  if (key.value === 'num' && typeof key.num === 'number') {
    if (!Number.isFinite(key.num)) bad(`${at} is ${key.num}, not a finite number`);
    return key.num;
  }
  return bad(`${at} has neither a string nor a number`);
}

/** A stamp `(hlc, node, epoch)`; wall < 2^53, counter uint32, node and epoch non-empty. */
export function toWireStamp(stamp: Stamp, at: string): pb.Stamp {
  if (stamp === null || typeof stamp !== 'object') invalid(`${at} is missing`);
  return {
    hlc: { wall: toU64(stamp.wall, `${at}.wall`), counter: toU32(stamp.counter, `${at}.counter`) },
    node: required(stamp.node, `${at}.node`, invalid),
    epoch: required(stamp.epoch, `${at}.epoch`, invalid),
  };
}

/** The Stamp of a decoded Stamp message; hlc, node and epoch are required. */
export function fromWireStamp(stamp: pb.Stamp | null, at: string): Stamp {
  if (stamp === null || stamp === undefined) return bad(`${at} is missing`);
  const hlc = stamp.hlc;
  if (hlc === null || hlc === undefined) return bad(`${at}.hlc is missing`);
  return {
    wall: u64(hlc.wall, `${at}.wall`),
    counter: hlc.counter,
    node: required(stamp.node, `${at}.node`, bad),
    epoch: required(stamp.epoch, `${at}.epoch`, bad),
  };
}

/** Attribute names of `attrs`, sorted (UTF-16 order) so equal objects encode to equal bytes. */
export function sortedNames(attrs: object): string[] {
  return Object.keys(attrs).sort();
}

/** Refuses a second attribute of the same name in one op or record (the object form cannot hold both). */
export function checkUnique(seen: Set<string>, name: string, at: string): void {
  if (seen.has(name)) bad(`${at}: attribute ${JSON.stringify(name)} appears twice`);
  seen.add(name);
}
