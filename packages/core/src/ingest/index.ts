/** The hub's ingest: applied marks, dedupe and order, poison, SKIP ranges, receipts (I3, I7–I11). */
export * from './check-tx.js';
export * from './ingest.js';
export * from './marks.js';
