/**
 * Order-preserving tuple encoding of storage keys (in the spirit of FoundationDB's tuple layer).
 * Keys are compared bytewise by LevelDB; this encoding makes that order equal to the order of the tuples:
 * null < false < true < numbers (numeric order) < strings (code-point order of UTF-8) < other JSON.
 * Internally a key is a latin1 "binary string" (one char per byte), so JS string comparison is byte order
 * and a key can be a Map key; backends convert to Buffers at the edge.
 */
import { TmError } from '../errors.js';

/** One element of a key tuple. */
export type KeyPart = null | boolean | number | string | { readonly json: string };

const TAG_NULL = 0x05;
const TAG_FALSE = 0x06;
const TAG_TRUE = 0x07;
const TAG_NUMBER = 0x10;
const TAG_STRING = 0x20;
const TAG_JSON = 0x30;
/** Greater than every tag: `prefix + END` bounds every key that extends `prefix`. */
const END = '\xff';

/** A binary key as a latin1 string; compare with `<`. */
export type BinKey = string;

/** Printable ASCII and the other 7-bit characters except NUL: one byte per char, nothing to escape. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is the one ASCII char that needs escaping in a key
const PLAIN_ASCII = /^[\x01-\x7f]*$/;

function encodeString(tag: number, text: string): string {
  // Most keys are ASCII ids: their UTF-8 bytes are their chars, so the Buffer round trip is skipped (write path).
  if (PLAIN_ASCII.test(text)) return String.fromCharCode(tag) + text + '\x00';
  // 0x00 inside the string becomes 0x00 0xff; 0x00 0x00 would be ambiguous, so the terminator is a lone 0x00.
  const bytes = Buffer.from(text, 'utf8').toString('latin1');
  return String.fromCharCode(tag) + bytes.replaceAll('\x00', '\x00\xff') + '\x00';
}

/** Scratch space of encodeNumber: keys are built one at a time, synchronously. */
const numberScratch = new DataView(new ArrayBuffer(8));

function encodeNumber(n: number): string {
  numberScratch.setFloat64(0, n === 0 ? 0 : n); // big-endian; -0 and 0 are one key
  // Negative: flip all bits; positive: flip the sign bit — byte order then equals numeric order.
  const negative = (numberScratch.getUint8(0) & 0x80) !== 0;
  let out = String.fromCharCode(TAG_NUMBER);
  for (let i = 0; i < 8; i++) {
    const b = numberScratch.getUint8(i);
    out += String.fromCharCode(negative ? ~b & 0xff : i === 0 ? b | 0x80 : b);
  }
  return out;
}

/** Encodes one tuple element. */
export function encodePart(part: KeyPart): BinKey {
  if (part === null) return String.fromCharCode(TAG_NULL);
  if (part === false) return String.fromCharCode(TAG_FALSE);
  if (part === true) return String.fromCharCode(TAG_TRUE);
  if (typeof part === 'number') {
    if (!Number.isFinite(part)) throw new TmError('TM_INVALID_VALUE', `cannot encode ${part} in a key`);
    return encodeNumber(part);
  }
  if (typeof part === 'string') return encodeString(TAG_STRING, part);
  return encodeString(TAG_JSON, part.json);
}

/** Encodes a tuple as a binary key. */
export function encodeKey(parts: readonly KeyPart[]): BinKey {
  let out = '';
  for (const part of parts) out += encodePart(part);
  return out;
}

/** The smallest key greater than every key that starts with `prefix`. */
export function prefixEnd(prefix: BinKey): BinKey {
  return prefix + END;
}

/** Decodes a binary key back into its tuple; throws TM_INVALID_ARGUMENT on malformed keys. */
export function decodeKey(key: BinKey): KeyPart[] {
  const parts: KeyPart[] = [];
  let i = 0;
  while (i < key.length) {
    const tag = key.charCodeAt(i++);
    if (tag === TAG_NULL) parts.push(null);
    else if (tag === TAG_FALSE) parts.push(false);
    else if (tag === TAG_TRUE) parts.push(true);
    else if (tag === TAG_NUMBER) {
      if (i + 8 > key.length) throw new TmError('TM_INVALID_ARGUMENT', 'truncated number in key');
      const buf = Buffer.from(key.slice(i, i + 8), 'latin1');
      if (buf[0]! & 0x80) buf[0] = buf[0]! & 0x7f;
      else for (let j = 0; j < 8; j++) buf[j] = ~buf[j]! & 0xff;
      parts.push(buf.readDoubleBE(0));
      i += 8;
    } else if (tag === TAG_STRING || tag === TAG_JSON) {
      let raw = '';
      for (;;) {
        if (i >= key.length) throw new TmError('TM_INVALID_ARGUMENT', 'unterminated string in key');
        const c = key[i++]!;
        if (c !== '\x00') raw += c;
        else if (key[i] === '\xff') {
          raw += '\x00';
          i++;
        } else break;
      }
      const text = Buffer.from(raw, 'latin1').toString('utf8');
      parts.push(tag === TAG_STRING ? text : { json: text });
    } else {
      throw new TmError('TM_INVALID_ARGUMENT', `unknown key tag 0x${tag.toString(16)}`);
    }
  }
  return parts;
}
