/**
 * Edge → hub publishing (SPEC §5, I7–I11): a lone Transaction, TransactionBatch on `tm/v1/up/{node}/{db.table}`
 * and Receipt on `tm/v1/receipt/{node}`. The batch's origin/topic/identity agreement (I15) is the hub's check,
 * not the codec's: the codec only refuses what cannot be read.
 */
import type { Transaction } from '../types.js';
import * as pb from './generated/wire.js';
import type {
  WireReceipt,
  WireReceiptErrorKind,
  WireSkipRange,
  WireTransactionBatch,
  WireTxError,
} from './messages.js';
import { bad, decodeWire, encodeWire, invalid, required, toU64, u64 } from './runtime.js';
import { fromWireTransaction, toWireTransaction } from './transaction.js';
import { readTransactionBatch } from './tx-reader.js';
import { writeTransactionBatch } from './tx-writer.js';

const { ErrorKind } = pb;

/** Encodes one transaction on its own (its table is required). */
export function encodeTransaction(tx: Transaction): Uint8Array {
  return encodeWire('Transaction', toWireTransaction(tx, 'Transaction'));
}

/** Decodes one transaction; stamp, table and seq ≥ 1 are required. */
export function decodeTransaction(bytes: Uint8Array): Transaction {
  return decodeWire('Transaction', bytes, (msg) => fromWireTransaction(msg, 'Transaction'));
}

function toWireSkip(skip: WireSkipRange, at: string): pb.SkipRange {
  const fromSeq = toU64(skip.fromSeq, `${at}.fromSeq`);
  const toSeq = toU64(skip.toSeq, `${at}.toSeq`);
  if (fromSeq < 1 || toSeq < fromSeq) invalid(`${at} is [${fromSeq}, ${toSeq}], not a range of seqs ≥ 1`);
  return { epoch: required(skip.epoch, `${at}.epoch`, invalid), fromSeq, toSeq, reason: skip.reason };
}

function fromWireSkip(skip: pb.SkipRange, at: string): WireSkipRange {
  const fromSeq = u64(skip.fromSeq, `${at}.fromSeq`);
  const toSeq = u64(skip.toSeq, `${at}.toSeq`);
  if (fromSeq < 1 || toSeq < fromSeq) bad(`${at} is [${fromSeq}, ${toSeq}], not a range of seqs ≥ 1`);
  return { epoch: required(skip.epoch, `${at}.epoch`, bad), fromSeq, toSeq, reason: skip.reason };
}

/** Encodes a batch; every transaction's table must be the batch's (it is left out of the bytes). */
export function encodeTransactionBatch(batch: WireTransactionBatch): Uint8Array {
  return writeTransactionBatch(batch, () => encodeTransactionBatchReference(batch));
}

/** encodeTransactionBatch through protobufjs: the reference the direct writer is tested against. */
export function encodeTransactionBatchReference(batch: WireTransactionBatch): Uint8Array {
  const at = 'TransactionBatch';
  const table = required(batch.table, `${at}.table`, invalid);
  return encodeWire('TransactionBatch', {
    protocolVersion: 0,
    origin: required(batch.origin, `${at}.origin`, invalid),
    table,
    epoch: required(batch.epoch, `${at}.epoch`, invalid),
    primaryKey: required(batch.primaryKey, `${at}.primaryKey`, invalid),
    txs: batch.txs.map((tx, i) => toWireTransaction(tx, `${at}.txs[${i}]`, table)),
    skips: batch.skips.map((skip, i) => toWireSkip(skip, `${at}.skips[${i}]`)),
  });
}

/** Decodes a batch; origin, table, epoch and primary key are required. */
export function decodeTransactionBatch(bytes: Uint8Array): WireTransactionBatch {
  // The direct reader (tx-reader.ts) accepts what it understands; everything else is protobufjs's to answer.
  return readTransactionBatch(bytes) ?? decodeTransactionBatchReference(bytes);
}

/** decodeTransactionBatch through protobufjs: the one answer for what the direct reader leaves. */
export function decodeTransactionBatchReference(bytes: Uint8Array): WireTransactionBatch {
  return decodeWire('TransactionBatch', bytes, (msg) => {
    const at = 'TransactionBatch';
    const table = required(msg.table, `${at}.table`, bad);
    return {
      origin: required(msg.origin, `${at}.origin`, bad),
      table,
      epoch: required(msg.epoch, `${at}.epoch`, bad),
      primaryKey: required(msg.primaryKey, `${at}.primaryKey`, bad),
      txs: msg.txs.map((tx, i) => fromWireTransaction(tx, `${at}.txs[${i}]`, table)),
      skips: msg.skips.map((skip, i) => fromWireSkip(skip, `${at}.skips[${i}]`)),
    };
  });
}

const ERROR_KINDS: readonly WireReceiptErrorKind[] = ['none', 'transient', 'gap', 'epoch-conflict'];
const ERROR_KIND_IDS: Readonly<Record<WireReceiptErrorKind, number>> = {
  none: ErrorKind.ERROR_KIND_NONE,
  transient: ErrorKind.ERROR_KIND_TRANSIENT,
  gap: ErrorKind.ERROR_KIND_GAP,
  'epoch-conflict': ErrorKind.ERROR_KIND_EPOCH_CONFLICT,
};

function toWireTxError(error: WireTxError, at: string): pb.TxError {
  return {
    seq: toU64(error.seq, `${at}.seq`),
    code: required(error.code, `${at}.code`, invalid),
    message: error.message,
    poison: error.poison,
  };
}

function fromWireTxError(error: pb.TxError, at: string): WireTxError {
  return {
    seq: u64(error.seq, `${at}.seq`),
    code: required(error.code, `${at}.code`, bad),
    message: error.message,
    poison: error.poison,
  };
}

/** Encodes a receipt; a non-`none` error kind needs a code. */
export function encodeReceipt(receipt: WireReceipt): Uint8Array {
  const at = 'Receipt';
  const errorKind = ERROR_KIND_IDS[receipt.errorKind];
  if (errorKind === undefined) invalid(`${at}.errorKind is ${String(receipt.errorKind)}`);
  if (receipt.errorKind !== 'none' && receipt.code === '')
    invalid(`${at}.code is missing for ${receipt.errorKind}`);
  return encodeWire('Receipt', {
    protocolVersion: 0,
    table: required(receipt.table, `${at}.table`, invalid),
    epoch: receipt.epoch,
    appliedThrough: toU64(receipt.appliedThrough, `${at}.appliedThrough`),
    errors: receipt.errors.map((error, i) => toWireTxError(error, `${at}.errors[${i}]`)),
    errorKind,
    code: receipt.code,
    message: receipt.message,
    resumeFrom: toU64(receipt.resumeFrom, `${at}.resumeFrom`),
    retryAfterMs: toU64(receipt.retryAfterMs, `${at}.retryAfterMs`),
    hubEpoch: receipt.hubEpoch,
  });
}

/** Decodes a receipt; an unknown error kind or a kind without a code is refused. */
export function decodeReceipt(bytes: Uint8Array): WireReceipt {
  return decodeWire('Receipt', bytes, (msg) => {
    const at = 'Receipt';
    const errorKind = ERROR_KINDS[msg.errorKind];
    if (errorKind === undefined) return bad(`${at}.errorKind ${msg.errorKind} is unknown`);
    if (errorKind !== 'none' && msg.code === '') bad(`${at}.code is missing for ${errorKind}`);
    return {
      table: required(msg.table, `${at}.table`, bad),
      epoch: msg.epoch,
      appliedThrough: u64(msg.appliedThrough, `${at}.appliedThrough`),
      errors: msg.errors.map((error, i) => fromWireTxError(error, `${at}.errors[${i}]`)),
      errorKind,
      code: msg.code,
      message: msg.message,
      resumeFrom: u64(msg.resumeFrom, `${at}.resumeFrom`),
      retryAfterMs: u64(msg.retryAfterMs, `${at}.retryAfterMs`),
      hubEpoch: msg.hubEpoch,
    };
  });
}
