/**
 * Disk and load soaks:
 * - long offline with a disk cap: edge A is cut off for most of the run while it writes hard into a 256 KiB outbox
 *   quota (onFull: reject) — 507s, never more than one transaction over the quota (I14), everything acknowledged
 *   delivered once back (drain time reported);
 * - ENOSPC: edge A's data directory is a small tmpfs (root only); it fills up while A writes; nothing it
 *   acknowledged may be lost, and after the disk grows and A restarts everything converges;
 * - hub overload: stress-ng loads every CPU, memory and I/O while the cluster replicates through a partition.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe } from 'node:test';
import { EV, KV, Scenario, sleep } from '@tablemesh/testkit';
import { soak } from './_chaos.ts';

describe('chaos: long offline with a disk cap', () => {
  soak('every acknowledged write arrives after a long absence; the quota holds', async (t, seed, runMs) => {
    const QUOTA = 256 * 1024;
    const s = await Scenario.start(t, {
      name: 'soak: long offline, 256 KiB outbox cap',
      seed,
      edges: [
        { name: 'edgeA', publish: [KV, EV].map((table) => ({ table, quotaBytes: QUOTA })) },
        { name: 'edgeB' },
      ],
    });
    s.startWorkload({ clientsPerNode: 3, pauseMs: 2, padBytes: 256 });
    await sleep(2_000);
    s.proxy('edgeA').down();
    let maxBytes = 0;
    const until = Date.now() + runMs * 0.8;
    while (Date.now() < until) {
      const m = await s.edge('edgeA').http.metrics();
      for (const table of [KV, EV])
        maxBytes = Math.max(maxBytes, m.get('tablemesh_backlog_bytes', { table }) ?? 0);
      await sleep(1_000);
    }
    await s.workload?.stop();
    s.notes['maxBacklogBytes'] = maxBytes;
    // finish() heals the link: its convergenceMs is the drain time of the backlog.
    const result = await s.finish({ convergeTimeoutMs: 120_000 });
    assert.ok((result.figures['http507'] as number) > 0, 'the full outbox answered 507');
    assert.ok(maxBytes <= QUOTA + 4096, `backlog ${maxBytes} bytes over the ${QUOTA}-byte quota`);
    return result;
  });
});

describe('chaos: ENOSPC on a small tmpfs', () => {
  soak('nothing acknowledged is lost when the edge disk fills up', async (t, seed, runMs) => {
    if (process.getuid?.() !== 0) {
      t.skip('ENOSPC soak needs root (mount -t tmpfs)');
      return undefined;
    }
    const mounts: string[] = [];
    t.after(() => {
      for (const dir of mounts) execFileSync('umount', ['-l', dir]);
    });
    const s = await Scenario.start(t, {
      name: 'soak: ENOSPC (4 MiB tmpfs)',
      seed,
      edges: [
        {
          name: 'edgeA',
          prepare: (edge) => {
            mkdirSync(edge.dataDir, { recursive: true });
            execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', edge.dataDir]);
            mounts.push(edge.dataDir);
          },
        },
        { name: 'edgeB' },
      ],
    });
    // A is cut off, so everything it writes stays in its outbox (default 256 MiB quota): the disk fills first.
    s.proxy('edgeA').down();
    s.startWorkload({ clientsPerNode: 3, pauseMs: 2, padBytes: 16_384 });
    const a = s.edge('edgeA');
    const notOk = () =>
      s.history.ops.filter(
        (op) => op.node === 'edgeA' && op.kind !== 'read' && op.outcome && op.outcome !== 'ok',
      );
    const until = Date.now() + runMs;
    while (Date.now() < until && notOk().length < 20) await sleep(500);
    await sleep(2_000); // keep writing into the full disk for a while
    s.notes['edgeAWritesRefused'] = notOk().length;
    s.notes['edgeAStatuses'] = [...new Set(notOk().map((op) => op.status ?? op.error))].slice(0, 5);
    s.notes['edgeAProcessAlive'] = a.running;
    await s.workload?.stop();
    execFileSync('mount', ['-o', 'remount,size=512m', a.dataDir]);
    if (a.running) await a.stop();
    await a.start(); // a failed store is refused until reopened
    s.proxy('edgeA').heal();
    const result = await s.finish({ convergeTimeoutMs: 60_000 });
    assert.ok((s.notes['edgeAWritesRefused'] as number) > 0, 'the disk filled up');
    return result;
  });
});

describe('chaos: hub overload (stress-ng)', () => {
  soak('every counter is 0 while stress-ng loads CPU, memory and I/O', async (t, seed, runMs) => {
    try {
      execFileSync('stress-ng', ['--version'], { stdio: 'ignore' });
    } catch {
      t.skip('stress-ng is not installed (apt-get install stress-ng)');
      return undefined;
    }
    const s = await Scenario.start(t, {
      name: 'soak: hub overload (stress-ng)',
      seed,
      edges: ['edgeA', 'edgeB', 'edgeC'].map((name) => ({ name })),
    });
    const cpus = availableParallelism();
    const stress: ChildProcess = spawn(
      'stress-ng',
      [
        '--cpu',
        String(cpus * 2),
        '--vm',
        '1',
        '--vm-bytes',
        '20%',
        '--hdd',
        '1',
        '--timeout',
        `${Math.ceil(runMs / 1000) + 30}s`,
      ],
      { stdio: 'ignore' },
    );
    t.after(() => {
      if (stress.pid !== undefined && stress.exitCode === null) process.kill(stress.pid, 'SIGTERM');
    });
    s.startWorkload({ clientsPerNode: 3 });
    await sleep(runMs / 3);
    s.proxy('edgeA').blackhole();
    await sleep(runMs / 3);
    s.proxy('edgeA').heal();
    await sleep(runMs / 3);
    if (stress.pid !== undefined) process.kill(stress.pid, 'SIGTERM');
    return s.finish({ convergeTimeoutMs: 120_000 });
  });
});
