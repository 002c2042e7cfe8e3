#!/usr/bin/env node
/**
 * tablemesh-edge — the edge agent. Usage:
 *   tablemesh-edge --config edge.yaml [--set key.path=value …]
 * Configuration: YAML file, then TM_EDGE_* environment variables, then --set flags (later wins).
 * SIGTERM / SIGINT stop it gracefully (the store is flushed and closed; unreceipted entries stay queued).
 */
import { heapLimitMiB, missingStartupSettings, runBinary } from '@tablemesh/runtime';
import { loadEdgeConfig, loadEdgeFailpoints } from './config.js';
import { applyProcessMemorySettings, memoryProfileOf } from './config-memory.js';
import { buildEdge } from './edge.js';

const USAGE = `usage: tablemesh-edge [--config FILE] [--set key.path=value]...

Runs the tablemesh edge agent: a local store and HTTP API on 127.0.0.1, replicating tables with the hub.
Configuration comes from FILE (or TM_EDGE_CONFIG), then TM_EDGE_* variables (TM_EDGE_HUB__URL=… sets
hub.url), then --set flags. See deploy/examples/edge.yaml.

example: tablemesh-edge --config deploy/examples/edge.yaml --set hub.url=mqtt://127.0.0.1:1883`;

void runBinary({
  name: 'tablemesh-edge',
  usage: USAGE,
  load: ({ file, overrides }) => {
    const failpoints = loadEdgeFailpoints();
    return { failpoints, config: loadEdgeConfig({ ...(file ? { file } : {}), overrides }) };
  },
  build: (config, failpoints) => {
    // SPEC §10: the memory profile's process-wide settings (LevelDB's options are buildEdge's); its startup
    // settings come from the environment (deploy/systemd/low-memory.conf) — those absent are logged at start.
    const profile = memoryProfileOf(config);
    applyProcessMemorySettings(profile);
    const memory = {
      profile: profile.name,
      v8Flags: profile.v8Flags,
      heapLimitMiB: heapLimitMiB(),
      missing: missingStartupSettings(profile.startup),
    };
    return buildEdge(config, { failpoints, memory });
  },
});
