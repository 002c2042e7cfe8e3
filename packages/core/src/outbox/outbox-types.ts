/** Public shapes of the outbox API: receipts, batches, stats (SPEC §5, §8 status). */
import type { Transaction } from '../types.js';
import type { SkipReason } from './config.js';
import type { SkipRange } from './rewrite.js';
import type { Hold } from './table-state.js';

/** Codes of transient refusals (I11): the outbox holds, nothing is quarantined. */
export const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'TM_NOT_GRANTED',
  'TM_CLOCK_AHEAD',
  'TM_SCHEMA_MISMATCH',
]);

/** One refused transaction of a receipt (proto TxError). `poison` defaults to "code is not transient". */
export interface ReceiptError {
  readonly seq: number;
  readonly code: string;
  readonly message: string;
  readonly poison?: boolean;
}

/** What a receipt did. */
export interface ReceiptOutcome {
  /** true when the receipt named another epoch than the current one (stale) and was ignored */
  readonly ignored: boolean;
  /** queued transactions removed (receipted or quarantined) */
  readonly truncated: number;
  /** ids of the transactions moved to quarantine */
  readonly quarantined: readonly string[];
  readonly held: Hold | null;
}

/** Entries for one MQTT batch: transactions and SKIP ranges of one epoch, contiguous from fromSeq to toSeq. */
export interface OutboxBatch {
  readonly table: string;
  readonly epoch: string;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly txs: readonly Transaction[];
  readonly skips: readonly SkipRange[];
  /** canonical JSON bytes of txs */
  readonly bytes: number;
}

/** Limits of one batch. */
export interface BatchLimits {
  /** transactions per batch (skips are not counted); default 100 */
  readonly maxTxs?: number;
  /** bytes of transactions per batch; at least one transaction is always returned; default 256 KiB */
  readonly maxBytes?: number;
  /** mark the returned entries in flight (default true) */
  readonly mark?: boolean;
}

/** Status of one table's outbox (SPEC §8 status, metrics). */
export interface OutboxStats {
  readonly table: string;
  readonly epoch: string;
  readonly nextSeq: number;
  readonly backlogCount: number;
  readonly backlogBytes: number;
  readonly quotaBytes: number;
  /** age of the oldest queued transaction not in flight, by its stamp; null when none */
  readonly oldestUnsentAgeMs: number | null;
  /** seqs sent and not receipted */
  readonly inFlight: number;
  readonly sentThrough: number;
  readonly receiptedThrough: number;
  readonly skipped: Readonly<Record<SkipReason, number>>;
  readonly skippedTotal: number;
  readonly quarantined: number;
  readonly held: Hold | null;
}
