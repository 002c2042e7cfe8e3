/**
 * Topic `tm/v1/catchup/{node}` (hub → edge): Welcome, CatchupPage, SnapshotPage and SyncError, carried in one
 * CatchupMessage envelope (SPEC §6). Every page starts with the table definition (SPEC §5).
 */
import type * as pb from './generated/wire.js';
import type {
  WireCatchupMessage,
  WireCatchupPage,
  WireSnapshotPage,
  WireSyncError,
  WireWelcome,
} from './messages.js';
import { bad, checkNestedVersion, decodeWire, encodeWire, invalid, required, toU64, u64 } from './runtime.js';
import {
  fromWireFeedEntry,
  fromWireRecord,
  fromWireTableDef,
  toWireFeedEntry,
  toWireRecord,
  toWireTableDef,
} from './transaction.js';
import { fromWireStamp, toWireStamp } from './values.js';

function welcomeToWire(welcome: WireWelcome): pb.Welcome {
  const at = 'Welcome';
  return {
    protocolVersion: 0,
    hubTimeMs: toU64(welcome.hubTimeMs, `${at}.hubTimeMs`),
    hubEpoch: required(welcome.hubEpoch, `${at}.hubEpoch`, invalid),
    grants: welcome.grants.map((g, i) => ({
      table: required(g.table, `${at}.grants[${i}].table`, invalid),
      publish: g.publish,
      subscribe: g.subscribe,
    })),
    maxClockSkewMs: toU64(welcome.maxClockSkewMs, `${at}.maxClockSkewMs`),
  };
}

function welcomeFromWire(msg: pb.Welcome, at: string): WireWelcome {
  checkNestedVersion(msg.protocolVersion, at);
  return {
    hubTimeMs: u64(msg.hubTimeMs, `${at}.hubTimeMs`),
    hubEpoch: required(msg.hubEpoch, `${at}.hubEpoch`, bad),
    grants: msg.grants.map((g, i) => ({
      table: required(g.table, `${at}.grants[${i}].table`, bad),
      publish: g.publish,
      subscribe: g.subscribe,
    })),
    maxClockSkewMs: u64(msg.maxClockSkewMs, `${at}.maxClockSkewMs`),
  };
}

function catchupPageToWire(page: WireCatchupPage): pb.CatchupPage {
  const at = 'CatchupPage';
  const def = toWireTableDef(page.def, `${at}.def`);
  return {
    protocolVersion: 0,
    requestId: page.requestId,
    def,
    hubEpoch: required(page.hubEpoch, `${at}.hubEpoch`, invalid),
    entries: page.entries.map((e, i) => toWireFeedEntry(e, `${at}.entries[${i}]`, def.table)),
    headSeq: toU64(page.headSeq, `${at}.headSeq`),
    headReached: page.headReached,
  };
}

function catchupPageFromWire(msg: pb.CatchupPage, at: string): WireCatchupPage {
  checkNestedVersion(msg.protocolVersion, at);
  const def = fromWireTableDef(msg.def, `${at}.def`);
  return {
    requestId: msg.requestId,
    def,
    hubEpoch: required(msg.hubEpoch, `${at}.hubEpoch`, bad),
    entries: msg.entries.map((e, i) => fromWireFeedEntry(e, `${at}.entries[${i}]`, def.table)),
    headSeq: u64(msg.headSeq, `${at}.headSeq`),
    headReached: msg.headReached,
  };
}

function snapshotPageToWire(page: WireSnapshotPage): pb.SnapshotPage {
  const at = 'SnapshotPage';
  return {
    protocolVersion: 0,
    requestId: page.requestId,
    def: toWireTableDef(page.def, `${at}.def`),
    hubEpoch: required(page.hubEpoch, `${at}.hubEpoch`, invalid),
    records: page.records.map((r, i) => toWireRecord(r, `${at}.records[${i}]`)),
    gcHorizon: page.gcHorizon === undefined ? null : toWireStamp(page.gcHorizon, `${at}.gcHorizon`),
    asOfHubSeq: toU64(page.asOfHubSeq, `${at}.asOfHubSeq`),
    last: page.last,
    resumeAfter: page.resumeAfter,
  };
}

function snapshotPageFromWire(msg: pb.SnapshotPage, at: string): WireSnapshotPage {
  checkNestedVersion(msg.protocolVersion, at);
  const horizon = msg.gcHorizon;
  return {
    requestId: msg.requestId,
    def: fromWireTableDef(msg.def, `${at}.def`),
    hubEpoch: required(msg.hubEpoch, `${at}.hubEpoch`, bad),
    records: msg.records.map((r, i) => fromWireRecord(r, `${at}.records[${i}]`)),
    ...(horizon === null || horizon === undefined
      ? {}
      : { gcHorizon: fromWireStamp(horizon, `${at}.gcHorizon`) }),
    asOfHubSeq: u64(msg.asOfHubSeq, `${at}.asOfHubSeq`),
    last: msg.last,
    resumeAfter: msg.resumeAfter,
  };
}

function syncErrorToWire(error: WireSyncError): pb.SyncError {
  const at = 'SyncError';
  return {
    protocolVersion: 0,
    requestId: error.requestId,
    table: error.table,
    code: required(error.code, `${at}.code`, invalid),
    message: error.message,
    retryAfterMs: toU64(error.retryAfterMs, `${at}.retryAfterMs`),
  };
}

function syncErrorFromWire(msg: pb.SyncError, at: string): WireSyncError {
  checkNestedVersion(msg.protocolVersion, at);
  return {
    requestId: msg.requestId,
    table: msg.table,
    code: required(msg.code, `${at}.code`, bad),
    message: msg.message,
    retryAfterMs: u64(msg.retryAfterMs, `${at}.retryAfterMs`),
  };
}

/** Encodes a Welcome on its own (the catch-up topic carries it inside a CatchupMessage). */
export function encodeWelcome(welcome: WireWelcome): Uint8Array {
  return encodeWire('Welcome', welcomeToWire(welcome));
}

/** Decodes a Welcome; the hub epoch is required. */
export function decodeWelcome(bytes: Uint8Array): WireWelcome {
  return decodeWire('Welcome', bytes, (msg) => welcomeFromWire(msg, 'Welcome'));
}

/** Encodes a CatchupPage on its own; entries' transactions must be of `def.table`. */
export function encodeCatchupPage(page: WireCatchupPage): Uint8Array {
  return encodeWire('CatchupPage', catchupPageToWire(page));
}

/** Decodes a CatchupPage; the table definition and hub epoch are required. */
export function decodeCatchupPage(bytes: Uint8Array): WireCatchupPage {
  return decodeWire('CatchupPage', bytes, (msg) => catchupPageFromWire(msg, 'CatchupPage'));
}

/** Encodes a SnapshotPage on its own. */
export function encodeSnapshotPage(page: WireSnapshotPage): Uint8Array {
  return encodeWire('SnapshotPage', snapshotPageToWire(page));
}

/** Decodes a SnapshotPage; the table definition and hub epoch are required. */
export function decodeSnapshotPage(bytes: Uint8Array): WireSnapshotPage {
  return decodeWire('SnapshotPage', bytes, (msg) => snapshotPageFromWire(msg, 'SnapshotPage'));
}

/** Encodes a SyncError on its own. */
export function encodeSyncError(error: WireSyncError): Uint8Array {
  return encodeWire('SyncError', syncErrorToWire(error));
}

/** Decodes a SyncError; the code is required. */
export function decodeSyncError(bytes: Uint8Array): WireSyncError {
  return decodeWire('SyncError', bytes, (msg) => syncErrorFromWire(msg, 'SyncError'));
}

/** Encodes the payload of `tm/v1/catchup/{node}`. */
export function encodeCatchupMessage(msg: WireCatchupMessage): Uint8Array {
  const v = { protocolVersion: 0 };
  switch (msg.kind) {
    case 'welcome':
      return encodeWire('CatchupMessage', { ...v, welcome: welcomeToWire(msg.welcome) });
    case 'catchupPage':
      return encodeWire('CatchupMessage', { ...v, catchupPage: catchupPageToWire(msg.catchupPage) });
    case 'snapshotPage':
      return encodeWire('CatchupMessage', { ...v, snapshotPage: snapshotPageToWire(msg.snapshotPage) });
    case 'error':
      return encodeWire('CatchupMessage', { ...v, error: syncErrorToWire(msg.error) });
    default:
      return invalid(`CatchupMessage.kind is ${String((msg as { kind: unknown }).kind)}`);
  }
}

/** Decodes the payload of `tm/v1/catchup/{node}`; an envelope with no body is refused. */
export function decodeCatchupMessage(bytes: Uint8Array): WireCatchupMessage {
  return decodeWire('CatchupMessage', bytes, (msg): WireCatchupMessage => {
    if (msg.body === 'welcome' && msg.welcome) {
      return { kind: 'welcome', welcome: welcomeFromWire(msg.welcome, 'welcome') };
    }
    if (msg.body === 'catchupPage' && msg.catchupPage) {
      return { kind: 'catchupPage', catchupPage: catchupPageFromWire(msg.catchupPage, 'catchupPage') };
    }
    if (msg.body === 'snapshotPage' && msg.snapshotPage) {
      return { kind: 'snapshotPage', snapshotPage: snapshotPageFromWire(msg.snapshotPage, 'snapshotPage') };
    }
    if (msg.body === 'error' && msg.error)
      return { kind: 'error', error: syncErrorFromWire(msg.error, 'error') };
    return bad('the envelope has no body');
  });
}
