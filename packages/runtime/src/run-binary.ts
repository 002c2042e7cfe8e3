/**
 * The process around tablemesh-edge and tablemesh-hub: `--config FILE` and `--set key.path=value` flags, config and
 * failpoint loading with errors that exit 2, start, and a graceful stop on SIGTERM / SIGINT (exit 0).
 */
import { isTmError, parseOverridePairs } from '@tablemesh/core';

/** What a binary is made of. */
export interface BinarySpec<C, F> {
  /** process name used in messages, e.g. `tablemesh-edge` */
  readonly name: string;
  /** text printed by --help and after a bad argument */
  readonly usage: string;
  /** loads failpoints (TM_FAILPOINTS) and config (file, env, flags); throws with a message naming the problem */
  load(options: { file?: string; overrides: Record<string, string> }): { config: C; failpoints: F };
  build(config: C, failpoints: F): { start(): Promise<void>; stop(): Promise<void> };
}

/** Parses `--config FILE` and repeated `--set key=value`; --help prints the usage and exits 0. */
export function parseBinaryArgs(
  name: string,
  usage: string,
  argv: readonly string[],
): { file?: string; sets: string[] } {
  const sets: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    } else if (arg === '--config' || arg === '-c') file = argv[++i];
    else if (arg === '--set') sets.push(argv[++i] ?? '');
    else if (arg.startsWith('--set=')) sets.push(arg.slice(6));
    else if (arg.startsWith('--config=')) file = arg.slice(9);
    else {
      console.error(`${name}: unknown argument '${arg}'\n\n${usage}`);
      process.exit(2);
    }
  }
  return { ...(file !== undefined ? { file } : {}), sets };
}

/** Runs a binary: load (exit 2 on a bad config), start (exit 1 if it cannot), stop on SIGTERM / SIGINT (exit 0). */
export async function runBinary<C, F>(spec: BinarySpec<C, F>, argv = process.argv.slice(2)): Promise<void> {
  const args = parseBinaryArgs(spec.name, spec.usage, argv);
  let loaded: { config: C; failpoints: F };
  try {
    loaded = spec.load({
      ...(args.file ? { file: args.file } : {}),
      overrides: parseOverridePairs(args.sets),
    });
  } catch (err) {
    console.error(`${spec.name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  }
  const node = spec.build(loaded.config, loaded.failpoints);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    node.stop().then(
      () => process.exit(0),
      (err) => {
        console.error(`${spec.name}: stop after ${signal} failed: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await node.start();
  } catch (err) {
    console.error(
      `${spec.name}: cannot start: ${isTmError(err) ? `${err.code}: ${err.message}` : String(err)}`,
    );
    await node.stop().catch(() => {});
    process.exit(1);
  }
}
