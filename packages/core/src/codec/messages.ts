/**
 * The wire messages of SPEC §6 as the rest of tablemesh sees them: plain, JSON-friendly objects built on the core
 * domain types (Transaction, Stamp, RecordState). 64-bit integers are numbers < 2^53; attribute values are JSON.
 * The protobuf definitions are in proto/tablemesh/v1/*.proto; field comments there say what each field means.
 * Decoding fills every field (proto3 defaults: '' and 0); optional members are omitted, never `undefined`.
 * Names carry a `Wire` prefix (WireReceipt = proto Receipt) so they never clash with the models of ingest, feed,
 * outbox and store that the core index also exports (TableDef, FeedEntry, SkipRange, …).
 */
import type { PrimaryKey, RecordState, Stamp, Transaction } from '../types.js';

/** The protocol major version this node speaks (`tm/v1/...`); every outermost message carries it. */
export const PROTOCOL_VERSION = 1;

/** A range of seqs the edge gave up on (`drop-oldest`, `ttl`; I14). `toSeq` is inclusive. */
export interface WireSkipRange {
  readonly epoch: string;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly reason: string;
}

/** Topic `tm/v1/up/{node}/{db.table}`: transactions and skips of one (origin, epoch, table), seq order. */
export interface WireTransactionBatch {
  readonly origin: string;
  /** `database.table`; every tx's table must equal it */
  readonly table: string;
  readonly epoch: string;
  /** primary key attribute name, so the hub can create the table (SPEC §5) */
  readonly primaryKey: string;
  readonly txs: readonly Transaction[];
  readonly skips: readonly WireSkipRange[];
}

/** One refused transaction: `poison` ones are consumed and quarantined, others are held (I11). */
export interface WireTxError {
  readonly seq: number;
  readonly code: string;
  readonly message: string;
  readonly poison: boolean;
}

/** What stopped the hub from applying the rest of a batch (`none`: everything through appliedThrough is done). */
export type WireReceiptErrorKind = 'none' | 'transient' | 'gap' | 'epoch-conflict';

/** Topic `tm/v1/receipt/{node}`: the hub's durable answer to a batch (I7, I8, I9, I11). */
export interface WireReceipt {
  readonly table: string;
  /** the batch's publish epoch; '' when the batch could not be read (TM_BAD_MESSAGE) */
  readonly epoch: string;
  /** the hub's applied mark for (origin, epoch, table), poison transactions and skips included */
  readonly appliedThrough: number;
  readonly errors: readonly WireTxError[];
  readonly errorKind: WireReceiptErrorKind;
  /** TM_* code of errorKind ('' for none) */
  readonly code: string;
  readonly message: string;
  /** gap: the seq to send next (I8) */
  readonly resumeFrom: number;
  /** transient: wait at least this long; 0 = edge default */
  readonly retryAfterMs: number;
  readonly hubEpoch: string;
}

/** An edge's position in a table's feed: (hubEpoch, tableIncarnation, hubSeq) (SPEC §5). */
export interface WireCursor {
  readonly hubEpoch: string;
  readonly incarnation: string;
  readonly hubSeq: number;
}

/** What the edge has published of one table and holds receipts for (I9). */
export interface WirePublishState {
  readonly table: string;
  readonly epoch: string;
  readonly receiptedThrough: number;
}

/** One subscribed table; `cursor` is absent until the first page was applied. */
export interface WireSubscriptionState {
  readonly table: string;
  readonly cursor?: WireCursor;
}

/** First message of every session, edge → hub. */
export interface WireHello {
  readonly node: string;
  readonly storeEpoch: string;
  /** '' on first contact */
  readonly lastHubEpoch: string;
  readonly publishes: readonly WirePublishState[];
  readonly subs: readonly WireSubscriptionState[];
  readonly version: string;
}

/** What a node may do with one table (I15). */
export interface WireGrant {
  readonly table: string;
  readonly publish: boolean;
  readonly subscribe: boolean;
}

/** The hub's answer to Hello. */
export interface WireWelcome {
  readonly hubTimeMs: number;
  readonly hubEpoch: string;
  readonly grants: readonly WireGrant[];
  readonly maxClockSkewMs: number;
}

/** Where a subscription without a cursor starts (SPEC §5 "Start points"). */
export type WireStartPoint =
  | { readonly kind: 'now' }
  | { readonly kind: 'beginning' }
  | { readonly kind: 'timestamp'; readonly ms: number };

/** A pull for the next catch-up or snapshot page of one table. */
export interface WireSyncRequest {
  readonly requestId: string;
  readonly table: string;
  /** absent: start from `start` */
  readonly cursor?: WireCursor;
  readonly start: WireStartPoint;
  /** SnapshotPage.resumeAfter of the previous page; '' when not in a snapshot */
  readonly snapshotResumeAfter: string;
  /** 0 = hub default */
  readonly maxEntries: number;
  /** 0 = hub default */
  readonly maxBytes: number;
}

/** One table's cursor in a CursorReport. */
export interface WireTableCursor {
  readonly table: string;
  readonly cursor: WireCursor;
}

/** Cursors the edge has durably applied through, for tombstone GC (I5). */
export interface WireCursorReport {
  readonly node: string;
  readonly cursors: readonly WireTableCursor[];
}

/** Topic `tm/v1/sync/{node}`. */
export type WireSyncMessage =
  | { readonly kind: 'hello'; readonly hello: WireHello }
  | { readonly kind: 'syncRequest'; readonly syncRequest: WireSyncRequest }
  | { readonly kind: 'cursorReport'; readonly cursorReport: WireCursorReport };

/** A table definition, owned by the hub. `indexes` lists each index's attributes, e.g. `[['sensor', 'ts']]`. */
export interface WireTableDef {
  readonly table: string;
  readonly primaryKey: string;
  readonly indexes: readonly (readonly string[])[];
  readonly incarnation: string;
}

/** One applied transaction in a table's feed. */
export interface WireFeedEntry {
  readonly hubSeq: number;
  readonly tx: Transaction;
}

/** The full merge state of one record (I4), as carried by snapshots (I13). */
export interface WireRecordEntry {
  readonly key: PrimaryKey;
  readonly state: RecordState;
}

/** A page of the feed answering a SyncRequest. */
export interface WireCatchupPage {
  readonly requestId: string;
  readonly def: WireTableDef;
  readonly hubEpoch: string;
  readonly entries: readonly WireFeedEntry[];
  readonly headSeq: number;
  readonly headReached: boolean;
}

/** A page of a snapshot (I13). */
export interface WireSnapshotPage {
  readonly requestId: string;
  readonly def: WireTableDef;
  readonly hubEpoch: string;
  readonly records: readonly WireRecordEntry[];
  /** G of I5; absent while nothing was ever collected */
  readonly gcHorizon?: Stamp;
  readonly asOfHubSeq: number;
  readonly last: boolean;
  /** token for SyncRequest.snapshotResumeAfter; '' on the last page */
  readonly resumeAfter: string;
}

/** A refused SyncRequest. */
export interface WireSyncError {
  readonly requestId: string;
  readonly table: string;
  readonly code: string;
  readonly message: string;
  /** 0 = do not retry on a timer */
  readonly retryAfterMs: number;
}

/** Topic `tm/v1/catchup/{node}`. */
export type WireCatchupMessage =
  | { readonly kind: 'welcome'; readonly welcome: WireWelcome }
  | { readonly kind: 'catchupPage'; readonly catchupPage: WireCatchupPage }
  | { readonly kind: 'snapshotPage'; readonly snapshotPage: WireSnapshotPage }
  | { readonly kind: 'error'; readonly error: WireSyncError };

/** Live feed entries of one table, contiguous and ascending in hubSeq. */
export interface WireFeedBatch {
  readonly table: string;
  readonly hubEpoch: string;
  readonly incarnation: string;
  readonly entries: readonly WireFeedEntry[];
}

/** The table's latest hub seq, sent every 5 s. */
export interface WireHeadHeartbeat {
  readonly table: string;
  readonly hubEpoch: string;
  readonly incarnation: string;
  readonly headSeq: number;
  readonly hubTimeMs: number;
}

/** Topic `tm/v1/feed/{db.table}`. */
export type WireFeedMessage =
  | { readonly kind: 'batch'; readonly batch: WireFeedBatch }
  | { readonly kind: 'heartbeat'; readonly heartbeat: WireHeadHeartbeat };

/** Topic `tm/v1/presence/{node}`, retained; the offline form is also the MQTT will. */
export interface WirePresence {
  readonly node: string;
  readonly online: boolean;
  readonly version: string;
  readonly sinceMs: number;
}
