/**
 * Store-and-forward limits of published tables (SPEC §5 "Store-and-forward limits"): one defaults object with
 * units, one validator, frozen results.
 */
import { TmError } from '../errors.js';
import { tableRef } from '../store/tables.js';

/** What happens when a table's outbox quota is full (SPEC §5). */
export type OnFull = 'reject' | 'drop-oldest' | 'coalesce';

/** Why a range of seqs was given up (SkipRange.reason on the wire). */
export type SkipReason = 'drop-oldest' | 'ttl' | 'coalesced';

/** Every skip reason, in a fixed order (stats, metrics). */
export const SKIP_REASONS: readonly SkipReason[] = ['drop-oldest', 'ttl', 'coalesced'];

/** Per-table outbox configuration as a caller gives it. */
export interface OutboxTableConfig {
  /** `database.table` or a bare table name (database `data`) */
  readonly table: string;
  /** bytes of queued transactions (canonical JSON) allowed; default 256 MiB */
  readonly quotaBytes?: number;
  /** default 'reject' (HTTP 507, nothing acknowledged is ever dropped) */
  readonly onFull?: OnFull;
  /** unsent entries older than this (by their stamp's wall ms) are skipped; must be ≤ tombstoneRetentionMs */
  readonly ttlMs?: number;
  /** weight in the round-robin: up to `priority` batches per round; default 1 */
  readonly priority?: number;
}

/** A validated table configuration. */
export interface ResolvedTableConfig {
  readonly table: string;
  readonly quotaBytes: number;
  readonly onFull: OnFull;
  readonly ttlMs: number | undefined;
  readonly priority: number;
}

/** Options of Outbox.open. */
export interface OutboxOptions {
  /** the published tables */
  readonly tables?: readonly OutboxTableConfig[];
  /** the hub's tombstone retention; ttl must not exceed it (I14); default 30 d */
  readonly tombstoneRetentionMs?: number;
}

/** Defaults (SPEC §7). */
export const OUTBOX_DEFAULTS = Object.freeze({
  quotaBytes: 256 * 1024 * 1024, // 256 MiB per table
  onFull: 'reject' as OnFull,
  priority: 1, // batches per round
  maxPriority: 1000,
  tombstoneRetentionMs: 30 * 24 * 3600 * 1000, // 30 d
});

const ON_FULL: readonly OnFull[] = ['reject', 'drop-oldest', 'coalesce'];

function bad(message: string): TmError {
  return new TmError('TM_INVALID_ARGUMENT', message);
}

function positiveInt(value: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw bad(`${what} must be a whole number from 1 to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validates the tombstone retention used to bound ttl. */
export function resolveRetention(value: unknown): number {
  if (value === undefined) return OUTBOX_DEFAULTS.tombstoneRetentionMs;
  return positiveInt(value, 'tombstoneRetentionMs');
}

/** Validates one table's configuration; TM_INVALID_ARGUMENT (or TM_INVALID_NAME) names the key and the problem. */
export function resolveTableConfig(
  input: OutboxTableConfig,
  tombstoneRetentionMs: number,
): ResolvedTableConfig {
  if (typeof input !== 'object' || input === null) throw bad('an outbox table config must be an object');
  const table = tableRef(input.table);
  const at = `outbox config of ${table}:`;
  const quotaBytes =
    input.quotaBytes === undefined
      ? OUTBOX_DEFAULTS.quotaBytes
      : positiveInt(input.quotaBytes, `${at} quotaBytes`);
  const onFull = input.onFull ?? OUTBOX_DEFAULTS.onFull;
  if (!ON_FULL.includes(onFull)) {
    throw bad(`${at} onFull must be one of ${ON_FULL.join(', ')}, got ${JSON.stringify(onFull)}`);
  }
  let ttlMs: number | undefined;
  if (input.ttlMs !== undefined) {
    ttlMs = positiveInt(input.ttlMs, `${at} ttlMs`);
    // I14: ttl must be ≤ tombstoneRetentionMs
    if (ttlMs > tombstoneRetentionMs) {
      throw bad(`${at} ttlMs ${ttlMs} exceeds tombstoneRetentionMs ${tombstoneRetentionMs} (I14)`);
    }
  }
  const priority =
    input.priority === undefined
      ? OUTBOX_DEFAULTS.priority
      : positiveInt(input.priority, `${at} priority`, OUTBOX_DEFAULTS.maxPriority);
  return Object.freeze({ table, quotaBytes, onFull, ttlMs, priority });
}
