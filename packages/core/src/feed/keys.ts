/**
 * Storage namespaces of the feed, tombstone GC and edge cursors (the store uses m t r i x c, the outbox o om q,
 * ingest marks k):
 * - `['f', table, hubSeq]`           feed entry (hub)
 * - `['fm', table]`                  feed meta: head, oldest retained seq, bytes, incarnation (hub)
 * - `['gt', table, hubSeq, key]`     tombstone written at hubSeq, value = its W stamp (hub, I5)
 * - `['gc', table, node]`            a subscriber's reported cursor and when it was seen (hub, I5)
 * - `['g', table]`                   G, the largest stamp ever collected (hub, I5)
 * - `['fc', table]`                  the subscription cursor (edge, persisted with the data)
 * - `['fs', table, key]`             local record absent from the snapshot in progress (edge, I13)
 */
import { encodeKey } from '../store/keys.js';
import type { PrimaryKey } from '../types.js';

/** Key of a feed entry. */
export const feedEntryKey = (table: string, hubSeq: number): string => encodeKey(['f', table, hubSeq]);
/** Prefix of a table's feed entries. */
export const feedPrefix = (table: string): string => encodeKey(['f', table]);
/** Key of a table's feed meta. */
export const feedMetaKey = (table: string): string => encodeKey(['fm', table]);
/** Prefix of every feed meta. */
export const FEED_META_PREFIX = encodeKey(['fm']);
/** Key of a tombstone index entry. */
export const tombstoneKey = (table: string, hubSeq: number, key: PrimaryKey): string =>
  encodeKey(['gt', table, hubSeq, key]);
/** Bound of a table's tombstone index entries at `hubSeq` (they all sort after it). */
export const tombstoneSeqKey = (table: string, hubSeq: number): string => encodeKey(['gt', table, hubSeq]);
/** Prefix of a table's tombstone index. */
export const tombstonePrefix = (table: string): string => encodeKey(['gt', table]);
/** Key of a subscriber's cursor report. */
export const subscriberKey = (table: string, node: string): string => encodeKey(['gc', table, node]);
/** Prefix of a table's subscriber cursor reports. */
export const subscriberPrefix = (table: string): string => encodeKey(['gc', table]);
/** Key of a table's GC horizon G. */
export const horizonKey = (table: string): string => encodeKey(['g', table]);
/** Prefix of every GC horizon. */
export const HORIZON_PREFIX = encodeKey(['g']);
/** Key of an edge's subscription cursor. */
export const edgeCursorKey = (table: string): string => encodeKey(['fc', table]);
/** Key of a snapshot pruning candidate on the edge. */
export const pruneCandidateKey = (table: string, key: PrimaryKey): string => encodeKey(['fs', table, key]);
/** Prefix of a table's snapshot pruning candidates. */
export const pruneCandidatePrefix = (table: string): string => encodeKey(['fs', table]);
