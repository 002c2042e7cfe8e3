/** The edge's durable outbox (SPEC §5 "Edge → hub", "Store-and-forward limits"; I6–I11, I14). */
export { planCoalesce } from './coalesce.js';
export {
  type OnFull,
  OUTBOX_DEFAULTS,
  type OutboxOptions,
  type OutboxTableConfig,
  type ResolvedTableConfig,
  resolveTableConfig,
  SKIP_REASONS,
  type SkipReason,
} from './config.js';
export { Outbox } from './outbox.js';
export {
  type BatchLimits,
  type OutboxBatch,
  type OutboxStats,
  type ReceiptError,
  type ReceiptOutcome,
  TRANSIENT_CODES,
} from './outbox-types.js';
export type { QuarantinedTx } from './quarantine.js';
export { type StampGroup, StateSplitter } from './reupload.js';
export type { SkipRange } from './rewrite.js';
export type { Hold, OutboxMeta } from './table-state.js';
