/**
 * RFC 8785 JSON Canonicalization Scheme (JCS). Used for table digests (SPEC §3) and for the byte-exact encoding of
 * merge state (I4: replicas must be byte-identical).
 */
import { TmError } from './errors.js';
import type { JsonValue } from './types.js';

/**
 * Serializes a JSON value canonically (RFC 8785): object keys sorted by UTF-16 code units, numbers in ECMAScript
 * shortest form (-0 → 0), strings escaped as JSON.stringify does, no whitespace. Throws TM_INVALID_VALUE on
 * anything that is not JSON (undefined, NaN, ±Infinity, functions, symbols, bigint, class instances, cycles).
 */
export function canonicalJson(value: JsonValue): string {
  try {
    return fast(value, 0);
  } catch (err) {
    if (err !== NOT_FAST) throw err;
  }
  // Something is off (or nesting is very deep): the careful writer says exactly where, or handles it.
  const parts: string[] = [];
  write(value, parts, [], '$');
  return parts.join('');
}

const NOT_FAST = Symbol('not fast');
/** Deeper than this the fast path gives up, so a cycle cannot recurse forever; the careful path takes over. */
const FAST_DEPTH = 512;

/** The hot path (merge state, record sizes): no path strings, no ancestor list; any doubt → NOT_FAST. */
function fast(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw NOT_FAST;
      // RFC 8785 §3.2.2.3: the ECMAScript Number-to-String of a finite number (String(-0) is "0", as JSON's);
      // String() is half the cost of JSON.stringify() here, and numbers are most of a merge state.
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (depth > FAST_DEPTH) throw NOT_FAST;
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + fast(value[i], depth + 1);
        return out + ']';
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw NOT_FAST;
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        out += (i > 0 ? ',' : '') + JSON.stringify(key) + ':' + fast(obj[key], depth + 1);
      }
      return out + '}';
    }
    default:
      throw NOT_FAST;
  }
}

function write(value: unknown, out: string[], ancestors: object[], path: string): void {
  switch (typeof value) {
    case 'string':
      // RFC 8785 §3.2.2.2: JSON.stringify escapes exactly as JCS requires (\b \t \n \f \r \" \\, other C0 as \u00xx).
      out.push(JSON.stringify(value));
      return;
    case 'number':
      if (!Number.isFinite(value)) throw invalid(path, `${value} is not a JSON number`);
      // RFC 8785 §3.2.2.3: ECMAScript Number.prototype.toString; JSON.stringify(-0) is "0".
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'object':
      if (value === null) {
        out.push('null');
        return;
      }
      writeContainer(value, out, ancestors, path);
      return;
    default:
      throw invalid(path, `a ${typeof value} is not a JSON value`);
  }
}

function writeContainer(value: object, out: string[], ancestors: object[], path: string): void {
  if (ancestors.includes(value)) throw invalid(path, 'the value contains a cycle');
  ancestors.push(value);
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      write(value[i], out, ancestors, `${path}[${i}]`);
    }
    out.push(']');
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null)
      throw invalid(path, 'only plain objects are JSON objects');
    const obj = value as Record<string, unknown>;
    // RFC 8785 §3.2.3: sort by UTF-16 code units, which is what the default string comparison does.
    const keys = Object.keys(obj).sort();
    out.push('{');
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (i > 0) out.push(',');
      out.push(JSON.stringify(key), ':');
      write(obj[key], out, ancestors, `${path}.${key}`);
    }
    out.push('}');
  }
  ancestors.pop();
}

function invalid(path: string, why: string): TmError {
  return new TmError('TM_INVALID_VALUE', `not canonical JSON at ${path}: ${why}`, { path });
}
