/**
 * The ordered key-value backend under the store: LevelDB on disk, or memory for unit tests.
 * Both run the same conformance suite (test/store-suite.ts). Keys are latin1 binary strings (keys.ts).
 */
import type { BinKey } from './keys.js';

/**
 * A value to store: bytes, or text, stored as its UTF-8 bytes (reads return Buffers). Text saves the write path a
 * Buffer per value: the LevelDB binding encodes it while copying it into the batch, as it must copy a Buffer.
 */
export type KvValue = Buffer | string;

/** One write of a batch: a put, or a delete when `value` is undefined. */
export interface KvWrite {
  readonly key: BinKey;
  readonly value: KvValue | undefined;
}

/** The bytes of a value as a read returns them. */
export function valueBytes(value: KvValue): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}

/** Bounds of a range read; all optional. */
export interface KvRange {
  readonly gte?: BinKey;
  readonly gt?: BinKey;
  readonly lte?: BinKey;
  readonly lt?: BinKey;
  readonly reverse?: boolean;
  readonly limit?: number;
}

/** An ordered key-value store with atomic batches. */
export interface KvBackend {
  /** Opens the backend; a LevelDB directory may be opened by one process only. */
  open(): Promise<void>;
  close(): Promise<void>;
  get(key: BinKey): Promise<Buffer | undefined>;
  /** Reads several keys at once (one round trip to the LevelDB thread pool). */
  getMany(keys: readonly BinKey[]): Promise<(Buffer | undefined)[]>;
  /** Iterates entries in key order (or reverse), within the range. */
  iterate(range: KvRange): AsyncIterable<[BinKey, Buffer]>;
  /** Writes all entries atomically; with `sync` the write is fsync'd before the promise resolves (I6). */
  write(batch: readonly KvWrite[], sync: boolean): Promise<void>;
}

/** True when `key` lies inside `range` (ignoring reverse/limit). */
export function inRange(key: BinKey, range: KvRange): boolean {
  if (range.gte !== undefined && key < range.gte) return false;
  if (range.gt !== undefined && key <= range.gt) return false;
  if (range.lte !== undefined && key > range.lte) return false;
  if (range.lt !== undefined && key >= range.lt) return false;
  return true;
}
