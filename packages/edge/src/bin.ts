#!/usr/bin/env node
/**
 * tablemesh-edge — the edge agent. Usage:
 *   tablemesh-edge --config edge.yaml [--set key.path=value …]
 * Configuration: YAML file, then TM_EDGE_* environment variables, then --set flags (later wins).
 * SIGTERM / SIGINT stop it gracefully (the store is flushed and closed; unreceipted entries stay queued).
 */
import { isTmError, parseOverridePairs } from '@tablemesh/core';
import { loadEdgeConfig, loadEdgeFailpoints } from './config.js';
import { buildEdge } from './edge.js';

const USAGE = `usage: tablemesh-edge [--config FILE] [--set key.path=value]...

Runs the tablemesh edge agent: a local store and HTTP API on 127.0.0.1, replicating tables with the hub.
Configuration comes from FILE (or TM_EDGE_CONFIG), then TM_EDGE_* variables (TM_EDGE_HUB__URL=… sets
hub.url), then --set flags. See deploy/examples/edge.yaml.

example: tablemesh-edge --config deploy/examples/edge.yaml --set hub.url=mqtt://127.0.0.1:1883`;

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
      console.error(`tablemesh-edge: unknown argument '${arg}'\n\n${USAGE}`);
      process.exit(2);
    }
  }
  return { ...(file !== undefined ? { file } : {}), sets };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let config: ReturnType<typeof loadEdgeConfig>;
  let failpoints: ReturnType<typeof loadEdgeFailpoints>;
  try {
    failpoints = loadEdgeFailpoints();
    config = loadEdgeConfig({
      ...(args.file ? { file: args.file } : {}),
      overrides: parseOverridePairs(args.sets),
    });
  } catch (err) {
    console.error(`tablemesh-edge: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  const edge = buildEdge(config, { failpoints });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    edge.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(`tablemesh-edge: stop after ${signal} failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await edge.start();
  } catch (err) {
    console.error(
      `tablemesh-edge: cannot start: ${isTmError(err) ? `${err.code}: ${err.message}` : String(err)}`,
    );
    await edge.stop().catch(() => {});
    process.exit(1);
  }
}

void main();
