/** @tablemesh/testkit — private: real hub and edge processes for e2e tests, HTTP helpers, bounded waits; the reliability suite's fault proxy, fake clocks, workload, history checker and scenario cluster. */
export * from './checker.js';
export * from './child.js';
export * from './clock.js';
export * from './fault-proxy.js';
export * from './history.js';
export * from './http-client.js';
export * from './inspect.js';
export * from './kit.js';
export * from './metrics.js';
export * from './mqtt-frames.js';
export * from './netns.js';
export * from './nodes.js';
export * from './random.js';
export * from './scenario.js';
export * from './wait.js';
export * from './workload.js';
