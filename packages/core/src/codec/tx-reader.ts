/**
 * A direct protobuf reader for the two bulk messages, TransactionBatch (at the hub) and FeedMessage (at edges):
 * it builds the decoded transactions in one pass over the bytes, without protobufjs's intermediate objects,
 * a TextDecoder call per attribute or eager error texts. It only ever *accepts*: anything it does not expect
 * — an unknown or repeated field, a wrong wire type, invalid UTF-8, a BOM, a value out of range, a failed
 * check — makes it return undefined, and the caller decodes with protobufjs (publish.ts, feed.ts), which gives
 * the one answer (value or TM_BAD_MESSAGE). So for any bytes the result equals protobufjs's (tested with random
 * and mutated messages in codec-reader.test.ts).
 */
import { isUtf8 } from 'node:buffer';
import type { JsonValue, Op, PrimaryKey, Stamp, Transaction } from '../types.js';
import type { WireFeedBatch, WireSkipRange, WireTransactionBatch } from './messages.js';
import { PROTOCOL_VERSION } from './messages.js';

/** Thrown inside the reader: leave this message to protobufjs. Never escapes. */
class Unexpected extends Error {}
const UNEXPECTED = new Unexpected();
const no = (): never => {
  throw UNEXPECTED;
};

/** Buffer's own slicers (no range object per call, unlike toString). */
interface Slicers {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
}

/** The UTF-8 text of buf[start, end); invalid UTF-8 is left to protobufjs. ASCII (the usual case) is copied. */
function text(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      if (!isUtf8(buf.subarray(start, end))) no();
      return (buf as unknown as Slicers).utf8Slice(start, end);
    }
  }
  return (buf as unknown as Slicers).latin1Slice(start, end);
}

class In {
  pos: number;

  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** A varint below 2^53 (larger ones are left to protobufjs). */
  varint(): number {
    const buf = this.buf;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) no();
      const byte = buf[this.pos++]!;
      result += (byte & 127) * scale;
      if (byte < 128) {
        if (result > Number.MAX_SAFE_INTEGER) no();
        return result;
      }
      scale *= 128;
    }
    return no();
  }

  uint32(): number {
    const n = this.varint();
    return n > 0xffff_ffff ? no() : n;
  }

  /** The bounds of a length-delimited field's body; the position moves past it. */
  span(): number {
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start) no();
    this.pos = start + len;
    return start;
  }

  string(): string {
    const start = this.span();
    return start === this.pos ? '' : text(this.buf, start, this.pos);
  }

  double(): number {
    if (this.end - this.pos < 8) no();
    const n = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return n;
  }
}

/** Reads `field` tags of a message body until its end; `on` handles each, returning false for an unknown one. */
function fields(r: In, end: number, on: (field: number, wireType: number) => boolean): void {
  while (r.pos < end) {
    const key = r.varint();
    if (!on(key >>> 3, key & 7)) no();
  }
  if (r.pos !== end) no();
}

/** Field numbers seen so far (bit n = field n, n < 31); a second occurrence is left to protobufjs. */
function once(seen: number, field: number): number {
  if (field > 30) return no();
  const bit = 1 << field;
  return seen & bit ? no() : seen | bit;
}

const nonEmpty = (s: string): string => (s.length === 0 ? no() : s);

function readStamp(r: In, end: number): Stamp {
  let wall = 0;
  let counter = 0;
  let node = '';
  let epoch = '';
  let hlc = false;
  let seen = 0;
  fields(r, end, (field, type) => {
    seen = once(seen, field);
    if (field === 1 && type === 2) {
      hlc = true;
      const start = r.span();
      const hlcEnd = r.pos;
      r.pos = start;
      let inner = 0;
      fields(r, hlcEnd, (f, t) => {
        inner = once(inner, f);
        if (f === 1 && t === 0) wall = r.varint();
        else if (f === 2 && t === 0) counter = r.uint32();
        else return false;
        return true;
      });
    } else if (field === 2 && type === 2) node = r.string();
    else if (field === 3 && type === 2) epoch = r.string();
    else return false;
    return true;
  });
  if (!hlc) no();
  return { wall, counter, node: nonEmpty(node), epoch: nonEmpty(epoch) };
}

function readKey(r: In, end: number): PrimaryKey {
  let key: PrimaryKey | undefined;
  fields(r, end, (field, type) => {
    if (key !== undefined) no(); // a second member: protobufjs's oneof rules
    if (field === 1 && type === 2) key = r.string();
    else if (field === 2 && type === 1) {
      const num = r.double();
      key = Number.isFinite(num) ? num : no();
    } else return false;
    return true;
  });
  return key === undefined ? no() : key;
}

function assertFinite(value: unknown): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) no();
  } else if (Array.isArray(value)) {
    for (const item of value) assertFinite(item);
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) assertFinite(item);
  }
}

/** An attribute's JSON text: UTF-8 without a BOM (TextDecoder would strip it), parsed, finite. */
function readJson(r: In): JsonValue {
  const start = r.span();
  const end = r.pos;
  const buf = r.buf;
  if (end === start || (buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf)) no();
  const json = text(buf, start, end);
  let value: JsonValue;
  try {
    value = JSON.parse(json) as JsonValue;
  } catch {
    return no();
  }
  assertFinite(value);
  return value;
}

function readOp(r: In, end: number): Op {
  let kind = 0;
  let key: PrimaryKey | undefined;
  const attrs: Record<string, JsonValue> = {};
  let count = 0;
  let seen = 0;
  fields(r, end, (field, type) => {
    if (field === 3 && type === 2) {
      const start = r.span();
      const attrEnd = r.pos;
      r.pos = start;
      let name = '';
      let value: JsonValue | undefined;
      let inner = 0;
      fields(r, attrEnd, (f, t) => {
        inner = once(inner, f);
        if (f === 1 && t === 2) name = r.string();
        else if (f === 2 && t === 2) value = readJson(r);
        else return false;
        return true;
      });
      // no JSON field = empty bytes, which protobufjs's path refuses; a repeated name too
      if (value === undefined || name === '__proto__' || Object.hasOwn(attrs, name)) no();
      attrs[name] = value as JsonValue;
      count++;
      return true;
    }
    seen = once(seen, field);
    if (field === 1 && type === 0) kind = r.uint32();
    else if (field === 2 && type === 2) {
      const start = r.span();
      const keyEnd = r.pos;
      r.pos = start;
      key = readKey(r, keyEnd);
    } else return false;
    return true;
  });
  if (key === undefined) return no();
  if (kind === 2) return count > 0 ? no() : { kind: 'delete', key };
  if (kind !== 0 && kind !== 1) no();
  return { kind: kind === 0 ? 'put' : 'patch', key, attrs };
}

/** A Transaction nested in a batch or feed entry, whose table is `table`. */
function readTx(r: In, end: number, table: string): Transaction {
  let stamp: Stamp | undefined;
  let seq = 0;
  const ops: Op[] = [];
  let seen = 0;
  fields(r, end, (field, type) => {
    if (field === 5 && type === 2) {
      const start = r.span();
      const opEnd = r.pos;
      r.pos = start;
      ops.push(readOp(r, opEnd));
      return true;
    }
    seen = once(seen, field);
    if (field === 1 && type === 0) {
      const version = r.uint32();
      if (version !== 0 && version !== PROTOCOL_VERSION) no();
    } else if (field === 2 && type === 2) {
      const own = r.string();
      if (own !== '' && own !== table) no();
    } else if (field === 3 && type === 2) {
      const start = r.span();
      const stampEnd = r.pos;
      r.pos = start;
      stamp = readStamp(r, stampEnd);
    } else if (field === 4 && type === 0) seq = r.varint();
    else return false;
    return true;
  });
  if (seq < 1 || stamp === undefined) no();
  return { table, stamp: stamp as Stamp, seq, ops };
}

/** Runs `read` over `bytes`; undefined when the message is left to protobufjs. */
function attempt<T>(bytes: Uint8Array, read: (r: In) => T): T | undefined {
  if (!Buffer.isBuffer(bytes)) return undefined; // protobufjs reads strings of other arrays its own way
  try {
    return read(new In(bytes, 0, bytes.length));
  } catch (err) {
    if (err instanceof Unexpected || err instanceof RangeError) return undefined;
    throw err;
  }
}

/** A TransactionBatch as decodeTransactionBatch returns it, or undefined: use protobufjs. */
export function readTransactionBatch(bytes: Uint8Array): WireTransactionBatch | undefined {
  return attempt(bytes, (r) => {
    const head = ['', '', '', ''];
    let version = 0;
    const spans: [number, number][] = [];
    const skips: WireSkipRange[] = [];
    let seen = 0;
    fields(r, r.end, (field, type) => {
      if (field === 6 && type === 2) {
        const start = r.span();
        spans.push([start, r.pos]); // read once the table is known (it may come after)
        return true;
      }
      if (field === 7 && type === 2) {
        const start = r.span();
        const skipEnd = r.pos;
        r.pos = start;
        skips.push(readSkip(r, skipEnd));
        return true;
      }
      seen = once(seen, field);
      if (field === 1 && type === 0) version = r.uint32();
      else if (field >= 2 && field <= 5 && type === 2) head[field - 2] = r.string();
      else return false;
      return true;
    });
    if (version !== PROTOCOL_VERSION) no();
    const [origin, table, epoch, primaryKey] = head.map(nonEmpty) as [string, string, string, string];
    const txs = spans.map(([start, end]) => {
      r.pos = start;
      return readTx(r, end, table);
    });
    return { origin, table, epoch, primaryKey, txs, skips };
  });
}

function readSkip(r: In, end: number): WireSkipRange {
  let epoch = '';
  let fromSeq = 0;
  let toSeq = 0;
  let reason = '';
  let seen = 0;
  fields(r, end, (field, type) => {
    seen = once(seen, field);
    if (field === 1 && type === 2) epoch = r.string();
    else if (field === 2 && type === 0) fromSeq = r.varint();
    else if (field === 3 && type === 0) toSeq = r.varint();
    else if (field === 4 && type === 2) reason = r.string();
    else return false;
    return true;
  });
  if (fromSeq < 1 || toSeq < fromSeq) no();
  return { epoch: nonEmpty(epoch), fromSeq, toSeq, reason };
}

/** A FeedMessage carrying a batch, as decodeFeedMessage returns it, or undefined: use protobufjs. */
export function readFeedBatchMessage(bytes: Uint8Array): { kind: 'batch'; batch: WireFeedBatch } | undefined {
  return attempt(bytes, (r) => {
    let version = 0;
    let batch: WireFeedBatch | undefined;
    let seen = 0;
    fields(r, r.end, (field, type) => {
      seen = once(seen, field);
      if (field === 1 && type === 0) version = r.uint32();
      else if (field === 2 && type === 2) {
        const start = r.span();
        const end = r.pos;
        r.pos = start;
        batch = readFeedBatch(r, end);
      } else return false;
      return true;
    });
    if (version !== PROTOCOL_VERSION || batch === undefined) no();
    return { kind: 'batch', batch: batch as WireFeedBatch };
  });
}

function readFeedBatch(r: In, end: number): WireFeedBatch {
  const head = ['', '', ''];
  const spans: [number, number][] = [];
  let seen = 0;
  fields(r, end, (field, type) => {
    if (field === 5 && type === 2) {
      const start = r.span();
      spans.push([start, r.pos]);
      return true;
    }
    seen = once(seen, field);
    if (field === 1 && type === 0) {
      const version = r.uint32();
      if (version !== 0 && version !== PROTOCOL_VERSION) no();
    } else if (field >= 2 && field <= 4 && type === 2) head[field - 2] = r.string();
    else return false;
    return true;
  });
  const after = r.pos;
  const [table, hubEpoch, incarnation] = head.map(nonEmpty) as [string, string, string];
  const entries = spans.map(([start, entryEnd]) => {
    r.pos = start;
    let hubSeq = 0;
    let tx: Transaction | undefined;
    let inner = 0;
    fields(r, entryEnd, (f, t) => {
      inner = once(inner, f);
      if (f === 1 && t === 0) hubSeq = r.varint();
      else if (f === 2 && t === 2) {
        const txStart = r.span();
        const txEnd = r.pos;
        r.pos = txStart;
        tx = readTx(r, txEnd, table);
      } else return false;
      return true;
    });
    if (hubSeq < 1 || tx === undefined) no();
    return { hubSeq, tx: tx as Transaction };
  });
  r.pos = after;
  return { table, hubEpoch, incarnation, entries };
}
