// Store recovery (store-recovery.ts): after a failed storage write an edge or a hub restarts from its durable state, one
// restart at a time, backing off while the disk stays full, and never after it was stopped for good.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreRecovery } from '../src/store-recovery.js';

const log = { error: () => {}, warn: () => {} };

test('a failure schedules one restart; failures meanwhile do not add more', async () => {
  let restarts = 0;
  const r = new StoreRecovery({
    log,
    minDelayMs: 5,
    stop: async () => {},
    start: async () => void restarts++,
  });
  r.failed(new Error('ENOSPC'));
  r.failed(new Error('ENOSPC again'));
  assert.equal(restarts, 0, 'not before the delay');
  await sleep(40);
  assert.equal(restarts, 1);
  assert.equal(r.restarts, 1);
});

test('a restart that fails is retried with a doubled delay until one succeeds', async () => {
  let stops = 0;
  let attempts = 0;
  const delays: unknown[] = [];
  const r = new StoreRecovery({
    log: { ...log, error: (fields: { restartInMs?: number }) => void delays.push(fields.restartInMs) },
    minDelayMs: 10,
    maxDelayMs: 1_000,
    stop: async () => void stops++,
    start: async () => {
      attempts++;
      if (attempts < 3) throw new Error('No space left on device');
    },
  });
  r.failed(new Error('ENOSPC'));
  for (let i = 0; i < 100 && r.restarts === 0; i++) await sleep(10);
  assert.equal(attempts, 3, 'two failed attempts, then one that worked');
  assert.equal(r.restarts, 1);
  // The delay before each attempt, as scheduled (not as timed: timers may fire late on a busy machine).
  assert.deepEqual(delays, [10, 20, 40]);
  assert.equal(stops, 5, 'stopped before each attempt and again after each failed start');
});

test('the store of a restart failing during the restart triggers another one', async () => {
  let stops = 0;
  let restarts = 0;
  const r = new StoreRecovery({
    log,
    minDelayMs: 5,
    stop: async () => void stops++,
    start: async () => {
      restarts++;
      if (restarts === 1) r.failed(new Error('the new store failed at once'));
    },
  });
  r.failed(new Error('ENOSPC'));
  for (let i = 0; i < 100 && restarts < 2; i++) await sleep(5);
  assert.equal(restarts, 2);
  assert.equal(stops, 2, 'stopped before each attempt');
});

test('after cancel (the edge is stopping) nothing restarts', async () => {
  let restarts = 0;
  const r = new StoreRecovery({
    log,
    minDelayMs: 5,
    stop: async () => {},
    start: async () => void restarts++,
  });
  r.failed(new Error('ENOSPC'));
  r.cancel();
  r.failed(new Error('ENOSPC'));
  await sleep(30);
  assert.equal(restarts, 0);
});
