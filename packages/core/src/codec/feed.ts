/**
 * Topic `tm/v1/feed/{db.table}` (hub → edges): FeedBatch and HeadHeartbeat in one FeedMessage envelope, and
 * `tm/v1/presence/{node}`: Presence (SPEC §6).
 */
import type * as pb from './generated/wire.js';
import type { WireFeedBatch, WireFeedMessage, WireHeadHeartbeat, WirePresence } from './messages.js';
import { bad, checkNestedVersion, decodeWire, encodeWire, invalid, required, toU64, u64 } from './runtime.js';
import { fromWireFeedEntry, toWireFeedEntry } from './transaction.js';
import { readFeedBatchMessage } from './tx-reader.js';
import { writeFeedBatchMessage } from './tx-writer.js';

function feedBatchToWire(batch: WireFeedBatch): pb.FeedBatch {
  const at = 'FeedBatch';
  const table = required(batch.table, `${at}.table`, invalid);
  return {
    protocolVersion: 0,
    table,
    hubEpoch: required(batch.hubEpoch, `${at}.hubEpoch`, invalid),
    incarnation: required(batch.incarnation, `${at}.incarnation`, invalid),
    entries: batch.entries.map((e, i) => toWireFeedEntry(e, `${at}.entries[${i}]`, table)),
  };
}

function feedBatchFromWire(msg: pb.FeedBatch, at: string): WireFeedBatch {
  checkNestedVersion(msg.protocolVersion, at);
  const table = required(msg.table, `${at}.table`, bad);
  return {
    table,
    hubEpoch: required(msg.hubEpoch, `${at}.hubEpoch`, bad),
    incarnation: required(msg.incarnation, `${at}.incarnation`, bad),
    entries: msg.entries.map((e, i) => fromWireFeedEntry(e, `${at}.entries[${i}]`, table)),
  };
}

function heartbeatToWire(beat: WireHeadHeartbeat): pb.HeadHeartbeat {
  const at = 'HeadHeartbeat';
  return {
    protocolVersion: 0,
    table: required(beat.table, `${at}.table`, invalid),
    hubEpoch: required(beat.hubEpoch, `${at}.hubEpoch`, invalid),
    incarnation: required(beat.incarnation, `${at}.incarnation`, invalid),
    headSeq: toU64(beat.headSeq, `${at}.headSeq`),
    hubTimeMs: toU64(beat.hubTimeMs, `${at}.hubTimeMs`),
  };
}

function heartbeatFromWire(msg: pb.HeadHeartbeat, at: string): WireHeadHeartbeat {
  checkNestedVersion(msg.protocolVersion, at);
  return {
    table: required(msg.table, `${at}.table`, bad),
    hubEpoch: required(msg.hubEpoch, `${at}.hubEpoch`, bad),
    incarnation: required(msg.incarnation, `${at}.incarnation`, bad),
    headSeq: u64(msg.headSeq, `${at}.headSeq`),
    hubTimeMs: u64(msg.hubTimeMs, `${at}.hubTimeMs`),
  };
}

/** Encodes a FeedBatch on its own (the feed topic carries it inside a FeedMessage). */
export function encodeFeedBatch(batch: WireFeedBatch): Uint8Array {
  return encodeWire('FeedBatch', feedBatchToWire(batch));
}

/** Decodes a FeedBatch; table, hub epoch and incarnation are required. */
export function decodeFeedBatch(bytes: Uint8Array): WireFeedBatch {
  return decodeWire('FeedBatch', bytes, (msg) => feedBatchFromWire(msg, 'FeedBatch'));
}

/** Encodes a HeadHeartbeat on its own. */
export function encodeHeadHeartbeat(beat: WireHeadHeartbeat): Uint8Array {
  return encodeWire('HeadHeartbeat', heartbeatToWire(beat));
}

/** Decodes a HeadHeartbeat; table, hub epoch and incarnation are required. */
export function decodeHeadHeartbeat(bytes: Uint8Array): WireHeadHeartbeat {
  return decodeWire('HeadHeartbeat', bytes, (msg) => heartbeatFromWire(msg, 'HeadHeartbeat'));
}

/** Encodes the payload of `tm/v1/feed/{db.table}`. */
export function encodeFeedMessage(msg: WireFeedMessage): Uint8Array {
  // The live feed's bulk path: written directly (tx-writer.ts), same bytes as encodeFeedMessageReference.
  if (msg.kind === 'batch') return writeFeedBatchMessage(msg.batch, () => encodeFeedMessageReference(msg));
  return encodeFeedMessageReference(msg);
}

/** encodeFeedMessage through protobufjs: the reference the direct writer is tested against. */
export function encodeFeedMessageReference(msg: WireFeedMessage): Uint8Array {
  switch (msg.kind) {
    case 'batch':
      return encodeWire('FeedMessage', { protocolVersion: 0, batch: feedBatchToWire(msg.batch) });
    case 'heartbeat':
      return encodeWire('FeedMessage', { protocolVersion: 0, heartbeat: heartbeatToWire(msg.heartbeat) });
    default:
      return invalid(`FeedMessage.kind is ${String((msg as { kind: unknown }).kind)}`);
  }
}

/** Decodes the payload of `tm/v1/feed/{db.table}`; an envelope with no body is refused. */
export function decodeFeedMessage(bytes: Uint8Array): WireFeedMessage {
  // The direct reader (tx-reader.ts) takes live batches it understands; everything else is protobufjs's.
  return readFeedBatchMessage(bytes) ?? decodeFeedMessageReference(bytes);
}

/** decodeFeedMessage through protobufjs: the one answer for what the direct reader leaves. */
export function decodeFeedMessageReference(bytes: Uint8Array): WireFeedMessage {
  return decodeWire('FeedMessage', bytes, (msg): WireFeedMessage => {
    if (msg.body === 'batch' && msg.batch)
      return { kind: 'batch', batch: feedBatchFromWire(msg.batch, 'batch') };
    if (msg.body === 'heartbeat' && msg.heartbeat) {
      return { kind: 'heartbeat', heartbeat: heartbeatFromWire(msg.heartbeat, 'heartbeat') };
    }
    return bad('the envelope has no body');
  });
}

/** Encodes the retained payload of `tm/v1/presence/{node}` (also used as the MQTT will). */
export function encodePresence(presence: WirePresence): Uint8Array {
  return encodeWire('Presence', {
    protocolVersion: 0,
    node: required(presence.node, 'Presence.node', invalid),
    online: presence.online,
    version: presence.version,
    sinceMs: toU64(presence.sinceMs, 'Presence.sinceMs'),
  });
}

/** Decodes a Presence; the node is required. */
export function decodePresence(bytes: Uint8Array): WirePresence {
  return decodeWire('Presence', bytes, (msg) => ({
    node: required(msg.node, 'Presence.node', bad),
    online: msg.online,
    version: msg.version,
    sinceMs: u64(msg.sinceMs, 'Presence.sinceMs'),
  }));
}
