/** @tablemesh/runtime — process plumbing shared by tablemesh-edge and tablemesh-hub (node:http server, binary runner, store recovery, V8 flags of a memory profile). */

export * from './config-file.js';
export * from './http-server.js';
export * from './run-binary.js';
export * from './store-recovery.js';
export * from './v8-flags.js';
