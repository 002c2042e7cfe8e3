/**
 * A direct protobuf writer for the two messages that carry bulk data: TransactionBatch (edge → hub) and the
 * FeedMessage of a live feed batch (hub → edges). protobufjs builds an object tree per operation and a
 * Uint8Array per attribute, then walks it again; here each transaction is sized once (JSON texts computed once)
 * and written into one Buffer. The bytes are those protobufjs writes for the same message (tested byte for byte
 * in codec-writer.test.ts): fields in number order, proto3 defaults left out except oneof members, messages
 * written when present. The checks and error codes are those of transaction.ts.
 */
import { TmError } from '../errors.js';
import type { JsonValue, Op, Transaction } from '../types.js';
import type { WireFeedBatch, WireSkipRange, WireTransactionBatch } from './messages.js';
import { PROTOCOL_VERSION } from './messages.js';
import { invalid, required, toU64 } from './runtime.js';
import { toWireKey, toWireStamp } from './values.js';

/**
 * protobufjs writes a lone surrogate as its 3-byte CESU form, Buffer as U+FFFD: a message with any surrogate in
 * a name, key or header string (rare: emoji in attribute names or keys) is left to protobufjs. JSON texts
 * never hold one (JSON.stringify escapes lone surrogates).
 */
const SURROGATE = /[\uD800-\uDFFF]/;
class UseReference extends Error {}

/** UTF-8 length of a name, key or header string; refers the message to protobufjs for surrogates. */
function utf8Len(s: string): number {
  const len = Buffer.byteLength(s, 'utf8');
  if (len !== s.length && SURROGATE.test(s)) throw new UseReference();
  return len;
}

/** Runs the direct writer, or `reference` (protobufjs) when the message holds a surrogate. */
function orReference(direct: () => Uint8Array, reference: () => Uint8Array): Uint8Array {
  try {
    return direct();
  } catch (err) {
    if (err instanceof UseReference) return reference();
    throw err;
  }
}

// wire types: 0 varint, 1 fixed64, 2 length-delimited
const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** Bytes of `n` (an integer in [0, 2^53)) as a varint. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Size of a length-delimited field (tag < 128) whose body is `len` bytes. */
const fieldSize = (len: number): number => 1 + varintSize(len) + len;
/** Size of a varint field (tag < 128), 0 when `n` is the default 0 (proto3 leaves it out). */
const varintFieldSize = (n: number): number => (n === 0 ? 0 : 1 + varintSize(n));
/** Size of a string field, 0 when empty. */
const stringFieldSize = (len: number): number => (len === 0 ? 0 : fieldSize(len));

/** The JSON text of an attribute value; NaN and ±Infinity are refused (JSON.stringify would write null). */
function jsonText(value: JsonValue, at: () => string): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new TmError('TM_INVALID_VALUE', `${at()}: ${value} is not a JSON number`);
  } else if (typeof value === 'object' && value !== null) {
    assertFiniteDeep(value, at);
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new TmError('TM_INVALID_VALUE', `${at()}: ${(err as Error).message}`);
  }
  if (text === undefined)
    throw new TmError('TM_INVALID_VALUE', `${at()}: ${typeof value} is not a JSON value`);
  return text;
}

function assertFiniteDeep(value: unknown, at: () => string): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new TmError('TM_INVALID_VALUE', `${at()}: ${value} is not a JSON number`);
  } else if (Array.isArray(value)) {
    for (const item of value) assertFiniteDeep(item, at);
  } else if (typeof value === 'object' && value !== null) {
    const json = (value as { toJSON?: unknown }).toJSON;
    if (typeof json === 'function') return; // e.g. a Date: written as what toJSON returns
    for (const key in value) {
      if (Object.hasOwn(value, key)) assertFiniteDeep((value as Record<string, unknown>)[key], at);
    }
  }
}

/** A sized operation: its JSON texts are computed once, for the size and for the write. */
interface OpPlan {
  readonly kind: number;
  readonly key: string | number;
  readonly keyLen: number;
  readonly names: readonly string[];
  readonly texts: readonly string[];
  readonly lens: readonly number[];
  /** body size of the Op message */
  readonly size: number;
}

interface TxPlan {
  readonly table: string;
  readonly tableLen: number;
  readonly wall: number;
  readonly counter: number;
  readonly node: string;
  readonly nodeLen: number;
  readonly epoch: string;
  readonly epochLen: number;
  readonly hlcSize: number;
  readonly stampSize: number;
  readonly seq: number;
  readonly ops: readonly OpPlan[];
  /** body size of the Transaction message */
  readonly size: number;
}

const OP_KIND: Readonly<Record<string, number>> = { put: 0, patch: 1, delete: 2 };

function planOp(op: Op, at: () => string): OpPlan {
  if (op === null || typeof op !== 'object') invalid(`${at()} is missing`);
  const key = op.key;
  if (typeof key !== 'string' && !(typeof key === 'number' && Number.isFinite(key))) {
    toWireKey(key, `${at()}.key`); // throws TM_INVALID_KEY
  }
  const keyLen = typeof key === 'string' ? utf8Len(key) : 8;
  const keySize = fieldSize(typeof key === 'string' ? fieldSize(keyLen) : 9);
  if (op.kind === 'delete') {
    return { kind: 2, key, keyLen, names: [], texts: [], lens: [], size: 2 + keySize };
  }
  if (op.kind !== 'put' && op.kind !== 'patch') invalid(`${at()}.kind is ${String((op as Op).kind)}`);
  const attrs = op.attrs;
  if (attrs === null || typeof attrs !== 'object') invalid(`${at()}.attrs is missing`);
  const names = Object.keys(attrs).sort();
  const texts: string[] = new Array(names.length);
  const lens: number[] = new Array(names.length * 2);
  let size = (op.kind === 'put' ? 0 : 2) + keySize;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const text = jsonText(attrs[name] as JsonValue, () => `${at()}.attrs[${JSON.stringify(name)}]`);
    texts[i] = text;
    const nameLen = utf8Len(name);
    const textLen = Buffer.byteLength(text, 'utf8');
    lens[2 * i] = nameLen;
    lens[2 * i + 1] = textLen;
    size += fieldSize(stringFieldSize(nameLen) + fieldSize(textLen));
  }
  return { kind: OP_KIND[op.kind]!, key, keyLen, names, texts, lens, size };
}

/** Sizes a transaction; `inheritTable` as in toWireTransaction (the enclosing table, left out of the bytes). */
function planTx(tx: Transaction, at: () => string, inheritTable: string): TxPlan {
  if (tx === null || typeof tx !== 'object') invalid(`${at()} is missing`);
  required(tx.table, `${at()}.table`, invalid);
  if (inheritTable !== '' && tx.table !== inheritTable) {
    invalid(`${at()}.table is ${tx.table}, not the enclosing ${inheritTable}`);
  }
  const seq = toU64(tx.seq, `${at()}.seq`);
  if (seq < 1) invalid(`${at()}.seq must be ≥ 1`);
  if (!Array.isArray(tx.ops)) invalid(`${at()}.ops must be an array`);
  const stamp = toWireStamp(tx.stamp, `${at()}.stamp`);
  const wall = stamp.hlc!.wall as number;
  const counter = stamp.hlc!.counter;
  const hlcSize = varintFieldSize(wall) + varintFieldSize(counter);
  const nodeLen = utf8Len(stamp.node);
  const epochLen = utf8Len(stamp.epoch);
  const stampSize = fieldSize(hlcSize) + stringFieldSize(nodeLen) + stringFieldSize(epochLen);
  const table = inheritTable === '' ? tx.table : '';
  const tableLen = utf8Len(table);
  const ops: OpPlan[] = new Array(tx.ops.length);
  let size = stringFieldSize(tableLen) + fieldSize(stampSize) + varintFieldSize(seq);
  for (let i = 0; i < tx.ops.length; i++) {
    const op = planOp(tx.ops[i]!, () => `${at()}.ops[${i}]`);
    ops[i] = op;
    size += fieldSize(op.size);
  }
  return {
    table,
    tableLen,
    wall,
    counter,
    node: stamp.node,
    nodeLen,
    epoch: stamp.epoch,
    epochLen,
    hlcSize,
    stampSize,
    seq,
    ops,
    size,
  };
}

/** Writes into one preallocated Buffer. */
class Out {
  readonly buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  varint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (n >= 128) {
      buf[pos++] = (n & 127) | 128;
      n = Math.floor(n / 128);
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** A varint field, left out when 0. */
  varintField(field: number, n: number): void {
    if (n === 0) return;
    this.buf[this.pos++] = tag(field, 0);
    this.varint(n);
  }

  /** The header of a length-delimited field. */
  open(field: number, len: number): void {
    this.buf[this.pos++] = tag(field, 2);
    this.varint(len);
  }

  /** A string field of known UTF-8 length; `always` writes it even when empty (oneof member). */
  string(field: number, s: string, len: number, always = false): void {
    if (len === 0 && !always) return;
    this.open(field, len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  double(field: number, n: number): void {
    this.buf[this.pos++] = tag(field, 1);
    this.pos = this.buf.writeDoubleLE(n, this.pos);
  }
}

function writeTx(out: Out, plan: TxPlan): void {
  out.string(2, plan.table, plan.tableLen);
  out.open(3, plan.stampSize);
  out.open(1, plan.hlcSize);
  out.varintField(1, plan.wall);
  out.varintField(2, plan.counter);
  out.string(2, plan.node, plan.nodeLen);
  out.string(3, plan.epoch, plan.epochLen);
  out.varintField(4, plan.seq);
  for (const op of plan.ops) {
    out.open(5, op.size);
    out.varintField(1, op.kind);
    if (typeof op.key === 'string') {
      out.open(2, fieldSize(op.keyLen));
      out.string(1, op.key, op.keyLen, true);
    } else {
      out.open(2, 9);
      out.double(2, op.key === 0 ? 0 : op.key); // -0 is written as 0
    }
    for (let i = 0; i < op.names.length; i++) {
      const nameLen = op.lens[2 * i]!;
      const textLen = op.lens[2 * i + 1]!;
      out.open(3, stringFieldSize(nameLen) + fieldSize(textLen));
      out.string(1, op.names[i]!, nameLen);
      out.string(2, op.texts[i]!, textLen, true);
    }
  }
}

interface SkipPlan {
  readonly epoch: string;
  readonly epochLen: number;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
  readonly reasonLen: number;
  readonly size: number;
}

function planSkip(skip: WireSkipRange, at: string): SkipPlan {
  const from = toU64(skip.fromSeq, `${at}.fromSeq`);
  const to = toU64(skip.toSeq, `${at}.toSeq`);
  if (from < 1 || to < from) invalid(`${at} is [${from}, ${to}], not a range of seqs ≥ 1`);
  const epoch = required(skip.epoch, `${at}.epoch`, invalid);
  const reason = skip.reason ?? '';
  const epochLen = utf8Len(epoch);
  const reasonLen = utf8Len(reason);
  const size =
    stringFieldSize(epochLen) + varintFieldSize(from) + varintFieldSize(to) + stringFieldSize(reasonLen);
  return { epoch, epochLen, from, to, reason, reasonLen, size };
}

/**
 * Encodes a TransactionBatch: the bytes `reference` (protobufjs, publish.ts) writes, which it is left to when
 * the batch holds a surrogate.
 */
export function writeTransactionBatch(batch: WireTransactionBatch, reference: () => Uint8Array): Uint8Array {
  return orReference(() => writeBatch(batch), reference);
}

function writeBatch(batch: WireTransactionBatch): Uint8Array {
  const at = 'TransactionBatch';
  const table = required(batch.table, `${at}.table`, invalid);
  const head = [
    required(batch.origin, `${at}.origin`, invalid),
    table,
    required(batch.epoch, `${at}.epoch`, invalid),
    required(batch.primaryKey, `${at}.primaryKey`, invalid),
  ];
  const headLens = head.map(utf8Len);
  const txs = batch.txs.map((tx, i) => planTx(tx, () => `${at}.txs[${i}]`, table));
  const skips = batch.skips.map((skip, i) => planSkip(skip, `${at}.skips[${i}]`));
  let size = varintFieldSize(PROTOCOL_VERSION);
  for (const len of headLens) size += stringFieldSize(len);
  for (const tx of txs) size += fieldSize(tx.size);
  for (const skip of skips) size += fieldSize(skip.size);
  const out = new Out(size);
  out.varintField(1, PROTOCOL_VERSION);
  for (let i = 0; i < head.length; i++) out.string(2 + i, head[i]!, headLens[i]!);
  for (const tx of txs) {
    out.open(6, tx.size);
    writeTx(out, tx);
  }
  for (const skip of skips) {
    out.open(7, skip.size);
    out.string(1, skip.epoch, skip.epochLen);
    out.varintField(2, skip.from);
    out.varintField(3, skip.to);
    out.string(4, skip.reason, skip.reasonLen);
  }
  return finish(out, size);
}

/**
 * Encodes a FeedMessage carrying a live FeedBatch: the bytes `reference` (protobufjs, feed.ts) writes, which it
 * is left to when the batch holds a surrogate.
 */
export function writeFeedBatchMessage(batch: WireFeedBatch, reference: () => Uint8Array): Uint8Array {
  return orReference(() => writeFeed(batch), reference);
}

function writeFeed(batch: WireFeedBatch): Uint8Array {
  const at = 'FeedBatch';
  const table = required(batch.table, `${at}.table`, invalid);
  const head = [
    table,
    required(batch.hubEpoch, `${at}.hubEpoch`, invalid),
    required(batch.incarnation, `${at}.incarnation`, invalid),
  ];
  const headLens = head.map(utf8Len);
  const entries = batch.entries.map((e, i) => {
    const where = () => `${at}.entries[${i}]`;
    const hubSeq = toU64(e.hubSeq, `${where()}.hubSeq`);
    if (hubSeq < 1) invalid(`${where()}.hubSeq must be ≥ 1`);
    const tx = planTx(e.tx, () => `${where()}.tx`, table);
    return { hubSeq, tx, size: varintFieldSize(hubSeq) + fieldSize(tx.size) };
  });
  let batchSize = 0;
  for (const len of headLens) batchSize += stringFieldSize(len);
  for (const e of entries) batchSize += fieldSize(e.size);
  const size = varintFieldSize(PROTOCOL_VERSION) + fieldSize(batchSize);
  const out = new Out(size);
  out.varintField(1, PROTOCOL_VERSION);
  out.open(2, batchSize);
  for (let i = 0; i < head.length; i++) out.string(2 + i, head[i]!, headLens[i]!);
  for (const e of entries) {
    out.open(5, e.size);
    out.varintField(1, e.hubSeq);
    out.open(2, e.tx.size);
    writeTx(out, e.tx);
  }
  return finish(out, size);
}

function finish(out: Out, size: number): Uint8Array {
  if (out.pos !== size) throw new Error(`tx-writer: wrote ${out.pos} bytes, sized ${size}`);
  return out.buf;
}
