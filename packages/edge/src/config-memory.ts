/**
 * The edge's memory profiles (SPEC §10: RSS 60 s after start ≤ 80 MB idle, ≤ 64 MB with a low-memory profile,
 * ≤ 150 MB under the replication load). `memory: low` in the config (or `TM_EDGE_MEMORY=low`) selects the low one;
 * absent = `default`. What each setting bounds and what it costs: docs/memory.md.
 *
 * Measured under load (bench/memory.mjs), the edge's RSS was mostly not live data (≈ 22 MB of live JS heap):
 * V8's young generation grown to 32 MB, an old generation grown to 3× its live size between full GCs, glibc
 * malloc arenas (one per thread that allocates: libuv pool, V8 workers, LevelDB's compaction thread), LevelDB's
 * two write buffers and block cache, and the node binary's own pages (≈ 40 MB, fixed). And 6 MB of the idle edge's
 * 18 MB of live heap were mqtt-packet's table of 65,536 two-byte Buffers for packet ids (`writeCache`).
 */
import { createRequire } from 'node:module';
import type { LevelKvOptions } from '@tablemesh/core';
import { applyV8Flags, type StartupSettings } from '@tablemesh/runtime';

const MiB = 1024 * 1024;

/** The profile names `memory` accepts. */
export const MEMORY_PROFILE_NAMES = ['default', 'low'] as const;

/** A memory profile name. */
export type MemoryProfileName = (typeof MEMORY_PROFILE_NAMES)[number];

/** What a profile sets. */
export interface MemoryProfile {
  readonly name: MemoryProfileName;
  /** LevelDB options of the edge's store (classic-level; unset = its default) */
  readonly store: LevelKvOptions;
  /** V8 flags applied in-process at start (read by V8 at every GC) */
  readonly v8Flags: readonly string[];
  /** node flags and environment read before any code runs: set by the systemd drop-in / container env */
  readonly startup: StartupSettings;
}

/** The profiles; `default` applies when `memory` is not set. */
export const MEMORY_PROFILES: Readonly<Record<MemoryProfileName, MemoryProfile>> = Object.freeze({
  default: Object.freeze({
    name: 'default',
    // classic-level's defaults: 8 MiB block cache, 4 MiB write buffers, 1000 open files
    store: Object.freeze({}),
    v8Flags: Object.freeze([
      // The young generation stays at its initial 1 MiB semi-spaces instead of growing to 16 MiB (32 MiB of RSS
      // under load): more, shorter scavenges.
      '--semi-space-growth-factor=1',
      // After a full GC the old generation may grow to 1.3× the live heap (V8's own choice under load: up to 4×).
      '--heap-growing-percent=30',
    ]),
    startup: Object.freeze({ nodeOptions: Object.freeze([]), env: Object.freeze({}) }),
  }),
  low: Object.freeze({
    name: 'low',
    store: Object.freeze({
      cacheSize: 1 * MiB, // block cache: reads of cold records go to the page cache / disk more often
      writeBufferSize: 1 * MiB, // memtable (two may be in memory): more, smaller level-0 files and compactions
      maxOpenFiles: 100, // each open table file keeps its index and filter blocks in memory
    }),
    v8Flags: Object.freeze(['--semi-space-growth-factor=1', '--heap-growing-percent=20']),
    startup: Object.freeze({
      nodeOptions: Object.freeze([
        '--max-semi-space-size=1', // MiB: the young generation never grows (same as the runtime flag, from start)
        // MiB: a ceiling, far above the live heap (≈ 25 MB under load); also makes V8 grow the heap cautiously.
        // A live heap beyond it ends the process (systemd restarts it) instead of swapping.
        '--max-old-space-size=96',
      ]),
      env: Object.freeze({
        MALLOC_ARENA_MAX: '2', // glibc: two malloc arenas instead of up to 8 per core, less fragmentation
        UV_THREADPOOL_SIZE: '2', // libuv pool threads (LevelDB reads and writes run there): 4 by default
      }),
    }),
  }),
});

/** The profile a configuration selects (`memory`, default `default`). */
export function memoryProfileOf(config: { readonly memory?: MemoryProfileName | undefined }): MemoryProfile {
  return MEMORY_PROFILES[config.memory ?? 'default'];
}

/**
 * mqtt-packet (the encoder of mqtt.js) by default keeps 65,536 pre-built two-byte Buffers, one per packet id: 6 MB of
 * JS heap for the life of the process, to save one 2-byte allocation per PUBLISH/PUBACK. mqtt.js turns the table off
 * for `writeCache: false`; the switch is global to the mqtt-packet instance mqtt.js loads, which is the one resolved
 * here (from mqtt's own location). Call before the first packet is written (the table is built then).
 */
export function disableMqttNumberCache(): void {
  const fromMqtt = createRequire(createRequire(import.meta.url).resolve('mqtt'));
  const packet = fromMqtt('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } };
  packet.writeToStream.cacheNumbers = false;
}

/** The process-wide part of a profile, for the binary: V8 flags, and mqtt-packet's number table off. */
export function applyProcessMemorySettings(profile: MemoryProfile): void {
  applyV8Flags(profile.v8Flags);
  disableMqttNumberCache();
}
