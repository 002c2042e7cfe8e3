/**
 * protobufjs plumbing of the codec: the reflected types, raw encode/decode, and the checks shared by every
 * converter. Errors: bad input to an encoder is TM_INVALID_ARGUMENT (a caller's bug); anything wrong with bytes
 * being decoded is TM_BAD_MESSAGE, and decoding never throws anything else (SPEC §7: bad input, clear error).
 */
import protobuf from 'protobufjs/light.js';
import { TmError } from '../errors.js';
import { descriptor } from './generated/descriptor.js';
import { type Messages, PACKAGE, type Uint64 } from './generated/wire.js';
import { PROTOCOL_VERSION } from './messages.js';

const root = protobuf.Root.fromJSON(descriptor);
const types = new Map<keyof Messages, protobuf.Type>();

function typeOf(name: keyof Messages): protobuf.Type {
  let type = types.get(name);
  if (type === undefined) {
    type = root.lookupType(`${PACKAGE}.${name}`);
    types.set(name, type);
  }
  return type;
}

/** Throws TM_BAD_MESSAGE: the bytes being decoded are unusable. */
export function bad(message: string): never {
  throw new TmError('TM_BAD_MESSAGE', message);
}

/** Throws TM_INVALID_ARGUMENT: an encoder was given something the wire cannot carry. */
export function invalid(message: string): never {
  throw new TmError('TM_INVALID_ARGUMENT', message);
}

/** Encodes a wire message, stamping the outermost message with the current protocol version. */
export function encodeWire<K extends keyof Messages>(
  name: K,
  msg: Messages[K] & { protocolVersion: number },
): Uint8Array {
  msg.protocolVersion = PROTOCOL_VERSION;
  return typeOf(name).encode(msg).finish();
}

/**
 * Decodes an outermost wire message and converts it with `convert`. Any failure — truncated or random bytes,
 * a wrong version, a missing field, a converter surprised by garbage — becomes TM_BAD_MESSAGE naming `name`.
 */
export function decodeWire<K extends keyof Messages, T>(
  name: K,
  bytes: Uint8Array,
  convert: (msg: Messages[K]) => T,
): T {
  if (!(bytes instanceof Uint8Array)) bad(`cannot decode ${name}: expected bytes, got ${typeof bytes}`);
  let msg: Messages[K] & { protocolVersion: number };
  try {
    msg = typeOf(name).decode(bytes) as unknown as Messages[K] & { protocolVersion: number };
  } catch (err) {
    return bad(`cannot decode ${name} (${bytes.length} bytes): ${(err as Error).message}`);
  }
  if (msg.protocolVersion !== PROTOCOL_VERSION) {
    bad(
      `cannot decode ${name}: protocol version ${msg.protocolVersion}, this node speaks ${PROTOCOL_VERSION}`,
    );
  }
  try {
    return convert(msg);
  } catch (err) {
    if (err instanceof TmError) {
      throw new TmError('TM_BAD_MESSAGE', `invalid ${name}: ${err.message}`, err.details);
    }
    return bad(`invalid ${name}: ${(err as Error).message}`);
  }
}

/** A nested message's version: 0 (inherits the outer one) or the current major. */
export function checkNestedVersion(version: number, at: string): void {
  if (version !== 0 && version !== PROTOCOL_VERSION) bad(`${at}: protocol version ${version}`);
}

const TWO_POW_32 = 0x1_0000_0000;
/** high word of 2^53: a uint64 whose high word is above this is not a safe integer */
const MAX_SAFE_HIGH = 0x1f_ffff;

/** A decoded uint64 as a number, refusing values ≥ 2^53 (they would lose precision). */
export function u64(value: Uint64, at: string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    return bad(`${at} is ${value}, not an integer in [0, 2^53)`);
  }
  const high = value.high >>> 0;
  const low = value.low >>> 0;
  if (high > MAX_SAFE_HIGH) bad(`${at} is ≥ 2^53 (high word ${high})`);
  return high * TWO_POW_32 + low;
}

/** A number to be encoded as uint64: an integer in [0, 2^53). */
export function toU64(value: number, at: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    invalid(`${at} must be an integer in [0, 2^53), got ${String(value)}`);
  }
  return value;
}

/** A number to be encoded as uint32. */
export function toU32(value: number, at: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    invalid(`${at} must be an integer in [0, 2^32), got ${String(value)}`);
  }
  return value;
}

/** A string field that must not be empty, on either side of the wire. */
export function required(value: string, at: string, fail: (message: string) => never): string {
  if (typeof value !== 'string' || value.length === 0) fail(`${at} is missing`);
  return value;
}
