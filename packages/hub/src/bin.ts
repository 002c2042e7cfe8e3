#!/usr/bin/env node
/**
 * tablemesh-hub — the cloud hub. Usage:
 *   tablemesh-hub --config hub.yaml [--set key.path=value …]
 * Configuration: YAML file, then TM_HUB_* environment variables, then --set flags (later wins).
 * SIGTERM / SIGINT stop it gracefully (receipts in flight are finished, the store is flushed and closed).
 */
import { runBinary } from '@tablemesh/runtime';
import { loadHubConfig, loadHubFailpoints } from './config.js';
import { buildHub } from './hub.js';

const USAGE = `usage: tablemesh-hub [--config FILE] [--set key.path=value]...

Runs the tablemesh cloud hub: an MQTT broker for edges, the hub store and its HTTP API.
Configuration comes from FILE (or TM_HUB_CONFIG), then TM_HUB_* variables (TM_HUB_HTTP__TOKEN=… sets
http.token), then --set flags. See deploy/examples/hub.yaml.

example: tablemesh-hub --config deploy/examples/hub.yaml --set mqtt.port=1884`;

void runBinary({
  name: 'tablemesh-hub',
  usage: USAGE,
  load: ({ file, overrides }) => {
    const failpoints = loadHubFailpoints();
    return { failpoints, config: loadHubConfig({ ...(file ? { file } : {}), overrides }) };
  },
  build: (config, failpoints) => buildHub(config, { failpoints }),
});
