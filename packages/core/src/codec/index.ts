/**
 * The wire codec (SPEC §6): typed `encodeX(msg): Uint8Array` / `decodeX(bytes): X` for every top-level message of
 * proto/tablemesh/v1, on the core domain types. Decoding anything unusable throws TmError TM_BAD_MESSAGE and
 * nothing else; encoding something the wire cannot carry throws TM_INVALID_ARGUMENT (TM_INVALID_KEY,
 * TM_INVALID_VALUE for keys and values). Which message goes on which topic: see messages.ts and the .proto files.
 */
export {
  decodeCatchupMessage,
  decodeCatchupPage,
  decodeSnapshotPage,
  decodeSyncError,
  decodeWelcome,
  encodeCatchupMessage,
  encodeCatchupPage,
  encodeSnapshotPage,
  encodeSyncError,
  encodeWelcome,
} from './catchup.js';
export {
  decodeFeedBatch,
  decodeFeedMessage,
  decodeHeadHeartbeat,
  decodePresence,
  encodeFeedBatch,
  encodeFeedMessage,
  encodeHeadHeartbeat,
  encodePresence,
} from './feed.js';
export type {
  WireCatchupMessage,
  WireCatchupPage,
  WireCursor,
  WireCursorReport,
  WireFeedBatch,
  WireFeedEntry,
  WireFeedMessage,
  WireGrant,
  WireHeadHeartbeat,
  WireHello,
  WirePresence,
  WirePublishState,
  WireReceipt,
  WireReceiptErrorKind,
  WireRecordEntry,
  WireSkipRange,
  WireSnapshotPage,
  WireStartPoint,
  WireSubscriptionState,
  WireSyncError,
  WireSyncMessage,
  WireSyncRequest,
  WireTableCursor,
  WireTableDef,
  WireTransactionBatch,
  WireTxError,
  WireWelcome,
} from './messages.js';
export { PROTOCOL_VERSION } from './messages.js';
export {
  decodeReceipt,
  decodeTransaction,
  decodeTransactionBatch,
  encodeReceipt,
  encodeTransaction,
  encodeTransactionBatch,
} from './publish.js';
export {
  decodeCursorReport,
  decodeHello,
  decodeSyncMessage,
  decodeSyncRequest,
  encodeCursorReport,
  encodeHello,
  encodeSyncMessage,
  encodeSyncRequest,
} from './sync.js';
