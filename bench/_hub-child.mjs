// A hub in its own process for memory benchmarks (run with --expose-gc; spawned by hub-connections.mjs).
// argv[2] = JSON hub config. IPC: sends {ready, ports}; answers {measure} with memoryUsage() after full GCs.

import { parseHubConfig } from '../packages/hub/dist/config.js';
import { buildHub } from '../packages/hub/dist/hub.js';

const config = parseHubConfig(JSON.parse(process.argv[2]), 'bench');
const hub = buildHub(config);
await hub.start();
process.send({ ready: true, ports: hub.mqttPorts });

async function settledMemory() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage();
}

process.on('message', async (msg) => {
  if (msg.measure) process.send({ memory: await settledMemory() });
  if (msg.stop) {
    await hub.stop();
    process.exit(0);
  }
});
