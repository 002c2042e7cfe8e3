/**
 * ## handleSync — `tm/v1/sync/{node}`
 * hello → epoch-conflict receipts for claims beyond the hub's marks (I9), then the welcome (hub time, hub epoch,
 * grants); sync request → one catch-up page or snapshot page on the node's own catch-up topic (pulled: the edge
 * asks for the next page after applying one, I13); cursor report → tombstone GC bookkeeping (I5).
 * Every answer starts with the table's current definition and incarnation (SPEC §5).
 */
import {
  decodeSyncMessage,
  encodeCatchupMessage,
  encodeReceipt,
  type Feed,
  helloCheck,
  isTmError,
  type Store,
  type TableDef,
  topics,
  type WireCatchupMessage,
  type WireHello,
  type WireSyncRequest,
  type WireTableDef,
} from '@tablemesh/core';
import type { Grants } from '../grants.js';

/** What the sync handler needs. */
export interface SyncDeps {
  readonly store: Store;
  readonly feed: Feed;
  readonly grants: Grants;
  readonly maxClockSkewMs: number;
  readonly page: { readonly entries: number; readonly bytes: number };
  readonly now: () => number;
  publish(topic: string, payload: Uint8Array): Promise<void>;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** a node said hello (for presence and metrics) */
  onHello?(node: string, hello: WireHello): void;
}

const wireDef = (def: TableDef): WireTableDef => ({
  table: def.name,
  primaryKey: def.primaryKey,
  indexes: def.indexes.map((i) => [...i]),
  incarnation: def.incarnation,
});

/** Builds the handler; returns a function taking (node, payload). */
export function makeSyncHandler(deps: SyncDeps) {
  const answer = (node: string, msg: WireCatchupMessage): Promise<void> =>
    deps.publish(topics.catchup(node), encodeCatchupMessage(msg));

  const syncError = (
    node: string,
    req: WireSyncRequest,
    code: string,
    message: string,
    retryAfterMs: number,
  ) =>
    answer(node, {
      kind: 'error',
      error: { requestId: req.requestId, table: req.table, code, message, retryAfterMs },
    });

  async function hello(node: string, msg: WireHello): Promise<void> {
    deps.onHello?.(node, msg);
    const claims = msg.publishes.map((p) => ({
      table: p.table,
      epoch: p.epoch,
      receiptedThrough: p.receiptedThrough,
    }));
    for (const conflict of await helloCheck(deps.store, node, claims)) {
      // I9: the edge claims receipts the hub never gave: a restored or cloned store. It must rotate its epoch.
      deps.log.warn({ node, ...conflict }, 'hello claims receipts beyond the hub mark: TM_EPOCH_CONFLICT');
      await deps.publish(
        topics.receipt(node),
        encodeReceipt({
          table: conflict.table,
          epoch: conflict.epoch,
          appliedThrough: conflict.mark,
          errors: [],
          errorKind: 'epoch-conflict',
          code: 'TM_EPOCH_CONFLICT',
          message: `receipts claimed through ${conflict.receiptedThrough}, the hub applied ${conflict.mark}`,
          resumeFrom: 0,
          retryAfterMs: 0,
          hubEpoch: deps.store.epoch,
        }),
      );
    }
    await answer(node, {
      kind: 'welcome',
      welcome: {
        hubTimeMs: deps.now(),
        hubEpoch: deps.store.epoch,
        grants: deps.grants.grantsOf(node),
        maxClockSkewMs: deps.maxClockSkewMs,
      },
    });
  }

  async function syncRequest(node: string, req: WireSyncRequest): Promise<void> {
    if (!deps.grants.canSubscribe(node, req.table)) {
      return syncError(node, req, 'TM_NOT_GRANTED', `node '${node}' may not subscribe '${req.table}'`, 5_000);
    }
    const def = deps.store.getTable(req.table);
    if (!def) return syncError(node, req, 'TM_UNKNOWN_TABLE', `table '${req.table}' does not exist`, 5_000);
    const limits = {
      maxEntries: Math.min(req.maxEntries || deps.page.entries, deps.page.entries),
      maxBytes: Math.min(req.maxBytes || deps.page.bytes, deps.page.bytes),
    };
    let snapshotFrom: number | undefined;
    let afterHubSeq: number | undefined;
    if (req.snapshotResumeAfter) {
      snapshotFrom = 0;
    } else if (req.cursor) {
      const status = deps.feed.cursorStatus(def.name, req.cursor);
      if (status.status === 'ok') afterHubSeq = req.cursor.hubSeq;
      else snapshotFrom = 0; // I13: re-baseline
    } else {
      const start = req.start.kind === 'timestamp' ? { timeMs: req.start.ms } : req.start.kind;
      const plan = await deps.feed.startPoint(def.name, start);
      if (plan.kind === 'feed') afterHubSeq = plan.afterHubSeq;
      else snapshotFrom = plan.minStampWall ?? 0;
    }
    if (afterHubSeq !== undefined) {
      const page = await deps.feed.readPage(def.name, afterHubSeq, limits);
      return answer(node, {
        kind: 'catchupPage',
        catchupPage: {
          requestId: req.requestId,
          def: wireDef(def),
          hubEpoch: deps.store.epoch,
          entries: page.entries.map((e) => ({ hubSeq: e.hubSeq, tx: e.tx })),
          headSeq: page.headSeq,
          headReached: page.headReached,
        },
      });
    }
    const page = await deps.feed.readSnapshotPage(def.name, req.snapshotResumeAfter || undefined, {
      maxRecords: limits.maxEntries,
      maxBytes: limits.maxBytes,
      ...(snapshotFrom ? { minStampWall: snapshotFrom } : {}),
    });
    return answer(node, {
      kind: 'snapshotPage',
      snapshotPage: {
        requestId: req.requestId,
        def: wireDef(def),
        hubEpoch: deps.store.epoch,
        records: page.records,
        ...(page.gcHorizon ? { gcHorizon: page.gcHorizon } : {}),
        asOfHubSeq: page.asOfHubSeq,
        last: page.last,
        resumeAfter: page.resumeAfter,
      },
    });
  }

  return async (node: string, payload: Buffer): Promise<void> => {
    let requestForError: WireSyncRequest | undefined;
    try {
      const msg = decodeSyncMessage(payload);
      if (msg.kind === 'hello') {
        if (msg.hello.node !== node) throw new Error(`hello names node '${msg.hello.node}' (I15)`);
        await hello(node, msg.hello);
      } else if (msg.kind === 'syncRequest') {
        requestForError = msg.syncRequest;
        await syncRequest(node, msg.syncRequest);
      } else {
        if (msg.cursorReport.node !== node)
          throw new Error(`cursor report names node '${msg.cursorReport.node}'`);
        for (const { table, cursor } of msg.cursorReport.cursors) {
          if (deps.grants.canSubscribe(node, table) && deps.store.getTable(table)) {
            await deps.feed.reportCursor(node, table, cursor, deps.now());
          }
        }
      }
    } catch (err) {
      deps.log.warn({ node, err: String(err) }, 'sync message refused');
      if (requestForError) {
        const code = isTmError(err) ? err.code : 'TM_INVALID_ARGUMENT';
        await syncError(node, requestForError, code, String(err), 0).catch(() => {});
      }
    }
  };
}
