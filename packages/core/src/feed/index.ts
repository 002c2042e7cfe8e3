/** The hub's table feeds, snapshots and tombstone GC, and the edge's apply of them (SPEC §5, I5, I12, I13). */
export * from './apply.js';
export * from './feed.js';
export type { CollectOptions, CollectResult, SubscriberReport } from './gc.js';
export * from './keys.js';
export type { SnapshotOptions } from './snapshot.js';
export * from './types.js';
