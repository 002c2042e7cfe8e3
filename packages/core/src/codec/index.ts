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
  CatchupMessage,
  CatchupPage,
  Cursor,
  CursorReport,
  FeedBatch,
  FeedEntry,
  FeedMessage,
  Grant,
  HeadHeartbeat,
  Hello,
  Presence,
  PublishState,
  Receipt,
  ReceiptErrorKind,
  RecordEntry,
  SkipRange,
  SnapshotPage,
  StartPoint,
  SubscriptionState,
  SyncError,
  SyncMessage,
  SyncRequest,
  TableCursor,
  TableDef,
  TransactionBatch,
  TxError,
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
