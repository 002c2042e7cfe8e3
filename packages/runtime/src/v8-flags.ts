/**
 * V8 heap flags and process environment of a memory profile (SPEC §10), for the binaries.
 *
 * Two kinds of V8 flags:
 * - **runtime flags**, which V8 reads at every garbage collection (`--semi-space-growth-factor`: how the young
 *   generation grows; `--heap-growing-percent`: how far the old generation may grow past the live heap after a full
 *   GC). `applyV8Flags` sets them in-process, before the node opens anything.
 * - **startup flags**, which V8 reads once when it sets up the heap (`--max-semi-space-size`,
 *   `--max-old-space-size`), and glibc/libuv settings read before any code runs (`MALLOC_ARENA_MAX`,
 *   `UV_THREADPOOL_SIZE`). Only the command line or the environment can set them: Node 20 has no `execve` to
 *   re-exec in place, and a supervising parent process would cost its own ~40 MB of RSS (and a second pid for
 *   signals and kill -9) — more than the profile saves. So the systemd drop-in and the container environment set
 *   them (deploy/), and `missingStartupSettings` lets the binary say which are absent.
 */
import v8 from 'node:v8';

/** Sets V8 flags that take effect after start (see above); `--name=value` each. */
export function applyV8Flags(flags: readonly string[]): void {
  for (const flag of flags) {
    if (!/^--[a-z][a-z0-9_-]*(=\S+)?$/.test(flag)) throw new Error(`not a V8 flag: ${JSON.stringify(flag)}`);
    v8.setFlagsFromString(flag);
  }
}

/** `--max_old_space_size=64` → `max-old-space-size` (V8 accepts `_` and `-` alike). */
const flagName = (flag: string): string => flag.replace(/^--/, '').replace(/=.*$/, '').replace(/_/g, '-');

/** Node/V8 flags this process was started with: its command line (`execArgv`) and `NODE_OPTIONS`. */
export function startupFlags(
  execArgv: readonly string[] = process.execArgv,
  nodeOptions: string = process.env['NODE_OPTIONS'] ?? '',
): string[] {
  return [...execArgv, ...nodeOptions.split(/\s+/)].filter((f) => f.startsWith('--'));
}

/** What a profile wants set before start: node flags (by name; any value counts) and environment variables. */
export interface StartupSettings {
  readonly nodeOptions: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/** The wanted startup flags and variables this process lacks (a flag counts by name, a variable if it is set). */
export function missingStartupSettings(
  wanted: StartupSettings,
  given: {
    readonly flags?: readonly string[];
    readonly env?: Readonly<Record<string, string | undefined>>;
  } = {},
): string[] {
  const names = new Set((given.flags ?? startupFlags()).map(flagName));
  const env = given.env ?? process.env;
  return [
    ...wanted.nodeOptions.filter((f) => !names.has(flagName(f))),
    ...Object.entries(wanted.env)
      .filter(([k]) => env[k] === undefined || env[k] === '')
      .map(([k, v]) => `${k}=${v}`),
  ];
}

/** The V8 heap's size limit (old + young generation) in MiB: shows whether `--max-old-space-size` took effect. */
export function heapLimitMiB(): number {
  return Math.round(v8.getHeapStatistics().heap_size_limit / 1_048_576);
}
