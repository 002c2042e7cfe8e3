#!/usr/bin/env node
/**
 * tablemesh-hub — the cloud hub. Usage:
 *   tablemesh-hub --config hub.yaml [--set key.path=value …]
 * Configuration: YAML file, then TM_HUB_* environment variables, then --set flags (later wins).
 * SIGTERM / SIGINT stop it gracefully (receipts in flight are finished, the store is flushed and closed).
 */
import { isTmError, parseOverridePairs } from '@tablemesh/core';
import { loadHubConfig, loadHubFailpoints } from './config.js';
import { buildHub } from './hub.js';

const USAGE = `usage: tablemesh-hub [--config FILE] [--set key.path=value]...

Runs the tablemesh cloud hub: an MQTT broker for edges, the hub store and its HTTP API.
Configuration comes from FILE (or TM_HUB_CONFIG), then TM_HUB_* variables (TM_HUB_HTTP__TOKEN=… sets
http.token), then --set flags. See deploy/examples/hub.yaml.

example: tablemesh-hub --config deploy/examples/hub.yaml --set mqtt.port=1884`;

function parseArgs(argv: readonly string[]): { file?: string; sets: string[] } {
  const sets: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg === '--config' || arg === '-c') file = argv[++i];
    else if (arg === '--set') sets.push(argv[++i] ?? '');
    else if (arg.startsWith('--set=')) sets.push(arg.slice(6));
    else if (arg.startsWith('--config=')) file = arg.slice(9);
    else {
      console.error(`tablemesh-hub: unknown argument '${arg}'\n\n${USAGE}`);
      process.exit(2);
    }
  }
  return { ...(file !== undefined ? { file } : {}), sets };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let config: ReturnType<typeof loadHubConfig>;
  let failpoints: ReturnType<typeof loadHubFailpoints>;
  try {
    failpoints = loadHubFailpoints();
    config = loadHubConfig({
      ...(args.file ? { file: args.file } : {}),
      overrides: parseOverridePairs(args.sets),
    });
  } catch (err) {
    console.error(`tablemesh-hub: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  const hub = buildHub(config, { failpoints });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    hub.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(`tablemesh-hub: stop after ${signal} failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await hub.start();
  } catch (err) {
    console.error(
      `tablemesh-hub: cannot start: ${isTmError(err) ? `${err.code}: ${err.message}` : String(err)}`,
    );
    await hub.stop().catch(() => {});
    process.exit(1);
  }
}

void main();
