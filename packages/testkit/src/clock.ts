/**
 * A per-process fake wall clock through libfaketime's timestamp file: the child reads the FAKETIME spec from the
 * file on every clock call (FAKETIME_NO_CACHE=1), so the test moves the clock at run time — skew, a jump back, a
 * freeze — without a restart. Monotonic time stays real (DONT_FAKE_MONOTONIC=1), so timers are unaffected.
 *
 *   const clock = new FakeClock(dir, { offsetMs: 50_000 });
 *   kit.createEdge({ …, fakeTime: clock.fakeTime });   // runs 50 s fast
 *   clock.setOffsetMs(-50_000);                        // jumps back 100 s at run time
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeTime } from './nodes.js';

/** Where a FakeClock starts. */
export type ClockSetting = { readonly offsetMs: number } | { readonly frozenAtMs: number };

/** FAKETIME spec of an offset: `+50s`, `-3600s` (whole seconds; libfaketime's relative form). */
export function offsetSpec(offsetMs: number): string {
  const s = Math.round(offsetMs / 1000);
  return `${s >= 0 ? '+' : ''}${s}s`;
}

/** FAKETIME spec of a frozen instant: an absolute `YYYY-MM-DD HH:MM:SS` (UTC: the child gets TZ=UTC). */
export function frozenSpec(atMs: number): string {
  return new Date(Math.floor(atMs / 1000) * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

/** A fake clock for one or more child processes. */
export class FakeClock {
  /** the timestamp file */
  readonly file: string;
  private setting: ClockSetting;

  constructor(dir: string, initial: ClockSetting = { offsetMs: 0 }, name = 'faketime') {
    this.file = join(dir, `${name}.txt`);
    this.setting = initial;
    this.write();
  }

  /** Give this to a node's `fakeTime` option. */
  get fakeTime(): FakeTime {
    return { timestampFile: this.file };
  }

  /** Extra environment the child needs: absolute (frozen) specs are read as UTC. */
  get env(): Record<string, string> {
    return { TZ: 'UTC' };
  }

  /** The current setting. */
  get current(): ClockSetting {
    return this.setting;
  }

  /** The child's wall clock is real time + `offsetMs` from the next clock call on. */
  setOffsetMs(offsetMs: number): void {
    this.setting = { offsetMs };
    this.write();
  }

  /** The child's wall clock stands still at `atMs` (whole seconds). */
  freezeAt(atMs: number): void {
    this.setting = { frozenAtMs: atMs };
    this.write();
  }

  /** What the child reads as now, give or take a second. */
  now(): number {
    return 'offsetMs' in this.setting
      ? Date.now() + Math.round(this.setting.offsetMs / 1000) * 1000
      : Math.floor(this.setting.frozenAtMs / 1000) * 1000;
  }

  private write(): void {
    const spec =
      'offsetMs' in this.setting ? offsetSpec(this.setting.offsetMs) : frozenSpec(this.setting.frozenAtMs);
    // Written aside and renamed: the child never reads a half-written spec.
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${spec}\n`);
    renameSync(tmp, this.file);
  }
}
