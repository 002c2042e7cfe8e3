/** Shared by the fault scenarios (not a test file): the run's seed, the clean assertion, the time budget. */
import assert from 'node:assert/strict';
import { type CheckReport, describeFailures, runSeed } from '@tablemesh/testkit';

/** The run's seed (REL_SEED replays), printed in every scenario's JSON line. */
export const SEED = runSeed();

/** Per-scenario timeout: each must finish in 30 s (issue 7); the extra is for slow CI machines' start-up. */
export const SCENARIO_TIMEOUT_MS = 45_000;

/** Every counter of the checker is 0 (else the message lists each with examples and the seed). */
export function assertClean(report: CheckReport): void {
  const failures = describeFailures(report);
  assert.equal(failures, '', `checker found problems (REL_SEED=${SEED}):\n  ${failures}`);
}
