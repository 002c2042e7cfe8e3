/**
 * Topic `tm/v1/sync/{node}` (edge → hub): Hello, SyncRequest and CursorReport, carried in one SyncMessage
 * envelope so the topic has a single decodable type (SPEC §6).
 */
import type * as pb from './generated/wire.js';
import type {
  WireCursor,
  WireCursorReport,
  WireHello,
  WireStartPoint,
  WireSubscriptionState,
  WireSyncMessage,
  WireSyncRequest,
} from './messages.js';
import {
  bad,
  checkNestedVersion,
  decodeWire,
  encodeWire,
  invalid,
  required,
  toU32,
  toU64,
  u64,
} from './runtime.js';
import { fromWireCursor, toWireCursor } from './transaction.js';

function optionalCursor(cursor: pb.Cursor | null | undefined, at: string): { cursor?: WireCursor } {
  return cursor === null || cursor === undefined ? {} : { cursor: fromWireCursor(cursor, at) };
}

function helloToWire(hello: WireHello): pb.Hello {
  const at = 'Hello';
  return {
    protocolVersion: 0,
    node: required(hello.node, `${at}.node`, invalid),
    storeEpoch: required(hello.storeEpoch, `${at}.storeEpoch`, invalid),
    lastHubEpoch: hello.lastHubEpoch,
    publishes: hello.publishes.map((p, i) => ({
      table: required(p.table, `${at}.publishes[${i}].table`, invalid),
      epoch: required(p.epoch, `${at}.publishes[${i}].epoch`, invalid),
      receiptedThrough: toU64(p.receiptedThrough, `${at}.publishes[${i}].receiptedThrough`),
    })),
    subs: hello.subs.map((s, i) => ({
      table: required(s.table, `${at}.subs[${i}].table`, invalid),
      cursor: s.cursor === undefined ? null : toWireCursor(s.cursor, `${at}.subs[${i}].cursor`),
    })),
    version: hello.version,
  };
}

function helloFromWire(msg: pb.Hello, at: string): WireHello {
  checkNestedVersion(msg.protocolVersion, at);
  return {
    node: required(msg.node, `${at}.node`, bad),
    storeEpoch: required(msg.storeEpoch, `${at}.storeEpoch`, bad),
    lastHubEpoch: msg.lastHubEpoch,
    publishes: msg.publishes.map((p, i) => ({
      table: required(p.table, `${at}.publishes[${i}].table`, bad),
      epoch: required(p.epoch, `${at}.publishes[${i}].epoch`, bad),
      receiptedThrough: u64(p.receiptedThrough, `${at}.publishes[${i}].receiptedThrough`),
    })),
    subs: msg.subs.map(
      (s, i): WireSubscriptionState => ({
        table: required(s.table, `${at}.subs[${i}].table`, bad),
        ...optionalCursor(s.cursor, `${at}.subs[${i}].cursor`),
      }),
    ),
    version: msg.version,
  };
}

function startToWire(start: WireStartPoint, at: string): pb.StartPoint {
  switch (start.kind) {
    case 'now':
      return { now: {} };
    case 'beginning':
      return { beginning: {} };
    case 'timestamp':
      return { timestampMs: toU64(start.ms, `${at}.ms`) };
    default:
      return invalid(`${at}.kind is ${String((start as { kind: unknown }).kind)}`);
  }
}

/** An absent or empty start point means "now" (SPEC §5: the default start). */
function startFromWire(start: pb.StartPoint | null, at: string): WireStartPoint {
  if (start === null || start === undefined) return { kind: 'now' };
  if (start.point === 'beginning') return { kind: 'beginning' };
  if (start.point === 'timestampMs')
    return { kind: 'timestamp', ms: u64(start.timestampMs ?? 0, `${at}.ms`) };
  return { kind: 'now' };
}

function syncRequestToWire(req: WireSyncRequest): pb.SyncRequest {
  const at = 'SyncRequest';
  return {
    protocolVersion: 0,
    requestId: required(req.requestId, `${at}.requestId`, invalid),
    table: required(req.table, `${at}.table`, invalid),
    cursor: req.cursor === undefined ? null : toWireCursor(req.cursor, `${at}.cursor`),
    start: startToWire(req.start, `${at}.start`),
    snapshotResumeAfter: req.snapshotResumeAfter,
    maxEntries: toU32(req.maxEntries, `${at}.maxEntries`),
    maxBytes: toU32(req.maxBytes, `${at}.maxBytes`),
  };
}

function syncRequestFromWire(msg: pb.SyncRequest, at: string): WireSyncRequest {
  checkNestedVersion(msg.protocolVersion, at);
  return {
    requestId: required(msg.requestId, `${at}.requestId`, bad),
    table: required(msg.table, `${at}.table`, bad),
    ...optionalCursor(msg.cursor, `${at}.cursor`),
    start: startFromWire(msg.start, `${at}.start`),
    snapshotResumeAfter: msg.snapshotResumeAfter,
    maxEntries: msg.maxEntries,
    maxBytes: msg.maxBytes,
  };
}

function cursorReportToWire(report: WireCursorReport): pb.CursorReport {
  const at = 'CursorReport';
  return {
    protocolVersion: 0,
    node: required(report.node, `${at}.node`, invalid),
    cursors: report.cursors.map((c, i) => ({
      table: required(c.table, `${at}.cursors[${i}].table`, invalid),
      cursor: toWireCursor(c.cursor, `${at}.cursors[${i}].cursor`),
    })),
  };
}

function cursorReportFromWire(msg: pb.CursorReport, at: string): WireCursorReport {
  checkNestedVersion(msg.protocolVersion, at);
  return {
    node: required(msg.node, `${at}.node`, bad),
    cursors: msg.cursors.map((c, i) => {
      const where = `${at}.cursors[${i}]`;
      if (c.cursor === null || c.cursor === undefined) return bad(`${where}.cursor is missing`);
      return {
        table: required(c.table, `${where}.table`, bad),
        cursor: fromWireCursor(c.cursor, `${where}.cursor`),
      };
    }),
  };
}

/** Encodes a Hello on its own (the sync topic carries it inside a SyncMessage). */
export function encodeHello(hello: WireHello): Uint8Array {
  return encodeWire('Hello', helloToWire(hello));
}

/** Decodes a Hello; node and store epoch are required. */
export function decodeHello(bytes: Uint8Array): WireHello {
  return decodeWire('Hello', bytes, (msg) => helloFromWire(msg, 'Hello'));
}

/** Encodes a SyncRequest on its own. */
export function encodeSyncRequest(req: WireSyncRequest): Uint8Array {
  return encodeWire('SyncRequest', syncRequestToWire(req));
}

/** Decodes a SyncRequest; request id and table are required, an absent start point is `now`. */
export function decodeSyncRequest(bytes: Uint8Array): WireSyncRequest {
  return decodeWire('SyncRequest', bytes, (msg) => syncRequestFromWire(msg, 'SyncRequest'));
}

/** Encodes a CursorReport on its own. */
export function encodeCursorReport(report: WireCursorReport): Uint8Array {
  return encodeWire('CursorReport', cursorReportToWire(report));
}

/** Decodes a CursorReport; every entry needs a table and a cursor. */
export function decodeCursorReport(bytes: Uint8Array): WireCursorReport {
  return decodeWire('CursorReport', bytes, (msg) => cursorReportFromWire(msg, 'CursorReport'));
}

/** Encodes the payload of `tm/v1/sync/{node}`. */
export function encodeSyncMessage(msg: WireSyncMessage): Uint8Array {
  switch (msg.kind) {
    case 'hello':
      return encodeWire('SyncMessage', { protocolVersion: 0, hello: helloToWire(msg.hello) });
    case 'syncRequest':
      return encodeWire('SyncMessage', {
        protocolVersion: 0,
        syncRequest: syncRequestToWire(msg.syncRequest),
      });
    case 'cursorReport':
      return encodeWire('SyncMessage', {
        protocolVersion: 0,
        cursorReport: cursorReportToWire(msg.cursorReport),
      });
    default:
      return invalid(`SyncMessage.kind is ${String((msg as { kind: unknown }).kind)}`);
  }
}

/** Decodes the payload of `tm/v1/sync/{node}`; an envelope with no body is refused. */
export function decodeSyncMessage(bytes: Uint8Array): WireSyncMessage {
  return decodeWire('SyncMessage', bytes, (msg): WireSyncMessage => {
    if (msg.body === 'hello' && msg.hello) return { kind: 'hello', hello: helloFromWire(msg.hello, 'hello') };
    if (msg.body === 'syncRequest' && msg.syncRequest) {
      return { kind: 'syncRequest', syncRequest: syncRequestFromWire(msg.syncRequest, 'syncRequest') };
    }
    if (msg.body === 'cursorReport' && msg.cursorReport) {
      return { kind: 'cursorReport', cursorReport: cursorReportFromWire(msg.cursorReport, 'cursorReport') };
    }
    return bad('the envelope has no body');
  });
}
