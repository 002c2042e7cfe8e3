/**
 * Snapshots of a table on the hub (I13): every record with its full merge state (live records and tombstones,
 * W and per-attribute stamps, I4), in key order, in pages, with G (I5) and the hub seq the snapshot is
 * consistent with. Pages are read from durable data; writes between pages are caught by the feed after
 * `asOfHubSeq` (the head before the first page), and merging twice is harmless (I4).
 */
import { TmError } from '../errors.js';
import { decodeState, maxStamp } from '../merge.js';
import { decodeKey, encodeKey, prefixEnd } from '../store/keys.js';
import { recordKey } from '../store/store.js';
import type { PrimaryKey } from '../types.js';
import type { Feed } from './feed.js';
import type { SnapshotPage, SnapshotRecord } from './types.js';

/** Page limits and the timestamp start point of a snapshot. */
export interface SnapshotOptions {
  /** default 500 */
  readonly maxRecords?: number;
  /** default 256 KiB (of encoded merge state) */
  readonly maxBytes?: number;
  /** only records with a stamp at or after this wall time (SPEC §5 start point t); the snapshot is partial */
  readonly minStampWall?: number;
}

/** Position of a snapshot in progress, carried by the opaque resumeAfter token. */
interface Position {
  /** last key returned or scanned */
  readonly k: PrimaryKey;
  /** asOfHubSeq fixed by the first page */
  readonly s: number;
  /** minStampWall of the first page */
  readonly t?: number;
}

function encodeToken(pos: Position): string {
  return Buffer.from(JSON.stringify(pos), 'utf8').toString('base64url');
}

function decodeToken(token: string): Position {
  try {
    const pos = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Position;
    const keyOk = typeof pos.k === 'string' || (typeof pos.k === 'number' && Number.isFinite(pos.k));
    if (keyOk && Number.isSafeInteger(pos.s) && pos.s >= 0) return pos;
  } catch {
    // fall through
  }
  throw new TmError('TM_INVALID_ARGUMENT', 'snapshot resume token is malformed');
}

/** Reads one snapshot page of `table` after the position in `after` (undefined: first page). */
export async function readSnapshotPage(
  feed: Feed,
  table: string,
  after: string | undefined,
  options: SnapshotOptions = {},
): Promise<SnapshotPage> {
  const def = feed.store.requireTable(table);
  const maxRecords = options.maxRecords ?? 500;
  const maxBytes = options.maxBytes ?? 256 * 1024;
  const pos = after === undefined || after === '' ? undefined : decodeToken(after);
  // The head before reading anything: every record read later reflects at least the entries up to it.
  const asOfHubSeq = pos?.s ?? feed.head(def.name);
  const minWall = pos ? pos.t : options.minStampWall;
  const gcHorizon = feed.gcHorizon(def.name);
  const prefix = encodeKey(['r', def.name]);
  const range =
    pos === undefined
      ? { gte: prefix, lt: prefixEnd(prefix) }
      : { gt: recordKey(def.name, pos.k), lt: prefixEnd(prefix) };
  const records: SnapshotRecord[] = [];
  let bytes = 0;
  let lastKey: PrimaryKey | undefined;
  let last = true;
  for await (const [key, value] of feed.store.kv.iterate(range)) {
    if (records.length >= maxRecords || (records.length > 0 && bytes + value.length > maxBytes)) {
      last = false;
      break;
    }
    const pk = decodeKey(key)[2] as PrimaryKey;
    lastKey = pk;
    const state = decodeState(value.toString('utf8'));
    if (minWall !== undefined && (maxStamp(state)?.wall ?? -1) < minWall) continue;
    records.push({ key: pk, state });
    bytes += value.length;
  }
  const next: Position | undefined =
    lastKey === undefined
      ? undefined
      : { k: lastKey, s: asOfHubSeq, ...(minWall === undefined ? {} : { t: minWall }) };
  return {
    table: def.name,
    hubEpoch: feed.store.epoch,
    incarnation: def.incarnation,
    records,
    gcHorizon,
    asOfHubSeq,
    last,
    resumeAfter: last || next === undefined ? '' : encodeToken(next),
    partial: minWall !== undefined,
  };
}
