/** @tablemesh/core — codec, topics, HLC, merge, store, outbox, feed. Never imports mqtt, aedes, http or cli. */

export * from './api/http-front.js';
export * from './api/rest.js';
export * from './canonical-json.js';
export * from './codec/index.js';
export * from './config/schema.js';
export * from './errors.js';
export * from './feed/index.js';
export * from './hlc.js';
export * from './ingest/index.js';
export * from './merge.js';
export * from './metrics.js';
export * from './outbox/index.js';
export * from './store/commit.js';
export * from './store/keys.js';
export * from './store/kv.js';
export * from './store/level-kv.js';
export * from './store/memory-kv.js';
export * from './store/query.js';
export * from './store/store.js';
export * from './store/tables.js';
export * from './topics.js';
export * from './types.js';
export * from './uuid.js';
export * from './validate.js';
