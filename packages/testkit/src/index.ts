/** @tablemesh/testkit — private: real hub and edge processes for e2e tests, HTTP helpers, bounded waits. */
export * from './child.js';
export * from './http-client.js';
export * from './inspect.js';
export * from './kit.js';
export * from './metrics.js';
export * from './nodes.js';
export * from './wait.js';
