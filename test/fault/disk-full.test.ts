/**
 * Reliability scenario: edge A's disk fills up (a 4 MiB tmpfs, root only) while it writes and is cut off from the
 * hub, then space comes back. Writes are refused while the disk is full (503 TM_STORE_FAILED, never a false 2xx);
 * the edge process stays up and, once space is back, restarts itself from its durable state (runtime store-recovery.ts)
 * without an operator; after the link heals everything acknowledged converges and every checker counter is 0 (I6).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { Scenario, sleep } from '@tablemesh/testkit';
import { assertClean, SEED } from './_suite.ts';

const TIMEOUT_MS = 120_000;

/**
 * Mounts a 4 MiB tmpfs on a directory, unmounted after the test; undefined (the test skipped) without root.
 */
function tmpfsMounter(t: TestContext): ((dir: string) => void) | undefined {
  if (process.getuid?.() !== 0) {
    t.skip('needs root (mount -t tmpfs)');
    return undefined;
  }
  const mounts: string[] = [];
  t.after(() => {
    for (const dir of mounts) execFileSync('umount', ['-l', dir]);
  });
  return (dir) => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
    mounts.push(dir);
  };
}

describe('fault: the edge disk fills up, then frees (ENOSPC, I6)', { timeout: TIMEOUT_MS }, () => {
  it('writes are refused while full, the edge recovers by itself, nothing acknowledged is lost', {
    timeout: TIMEOUT_MS,
  }, async (t) => {
    const mount = tmpfsMounter(t);
    if (!mount) return;
    const s = await Scenario.start(t, {
      name: 'disk full, then freed',
      seed: SEED,
      edges: [
        {
          name: 'edgeA',
          prepare: (edge) => {
            mkdirSync(edge.dataDir, { recursive: true });
            mount(edge.dataDir);
          },
        },
        { name: 'edgeB' },
      ],
    });
    const a = s.edge('edgeA');
    const pid = a.pid;
    // Cut off, A keeps everything it writes in its outbox: the disk fills first.
    s.proxy('edgeA').down();
    s.startWorkload({ clientsPerNode: 3, pauseMs: 2, padBytes: 16_384 });
    const refusedA = () =>
      s.history.ops.filter(
        (op) => op.node === 'edgeA' && op.kind !== 'read' && op.outcome && op.outcome !== 'ok',
      );
    for (let i = 0; i < 120 && refusedA().length < 20; i++) await sleep(250);
    // On failure: how the writes ended (a hung edge shows as timeouts, not refusals) and what it logged last.
    const outcomes = () =>
      JSON.stringify(
        refusedA()
          .map((op) => `${op.outcome} ${op.status ?? op.error ?? ''}`)
          .slice(-6),
      );
    assert.ok(
      refusedA().length >= 20,
      `the disk filled up (${refusedA().length} writes refused: ${outcomes()})\n${a.tail(8)}`,
    );
    const statuses = new Set(refusedA().map((op) => op.status));
    assert.ok(statuses.has(503), `refused with 503 (${outcomes()})\n${a.tail(8)}`);
    await sleep(1_000);

    execFileSync('mount', ['-o', 'remount,size=512m', a.dataDir]);
    const freedAt = Date.now();
    const okAfter = () =>
      s.history.ops.filter(
        (op) => op.node === 'edgeA' && op.kind !== 'read' && op.outcome === 'ok' && op.invokedAt > freedAt,
      );
    for (let i = 0; i < 240 && okAfter().length < 10; i++) await sleep(250);
    s.notes['edgeAWritesRefused'] = refusedA().length;
    s.notes['recoveredAfterMs'] = okAfter()[0] ? okAfter()[0]!.completedAt! - freedAt : -1;
    s.notes['edgeARestarts'] = a.grep('restarted from the durable state').length;
    const warnings = () =>
      a
        .grep((l) => Number(l['level']) >= 40 && l['msg'] !== 'http request failed')
        .slice(-12)
        .map((l) =>
          `${l['time']} ${l['msg']} ${JSON.stringify(l['err'] ?? '')} ${l['restartInMs'] ?? ''}`.slice(
            0,
            300,
          ),
        )
        .join('\n  ');
    assert.ok(
      okAfter().length >= 10,
      `edge A accepts writes again once space is back; its log:\n  ${warnings()}`,
    );
    assert.equal(a.pid, pid, 'the same process: the edge recovered by itself');
    assert.ok((s.notes['edgeARestarts'] as number) >= 1, 'it restarted from its durable state');

    await s.workload?.stop();
    s.proxy('edgeA').heal();
    const { report } = await s.finish({ convergeTimeoutMs: 60_000 });
    assertClean(report);
  });

  it('the hub disk fills up: ingest is refused, the hub recovers by itself, nothing acknowledged is lost', {
    timeout: TIMEOUT_MS,
  }, async (t) => {
    const mount = tmpfsMounter(t);
    if (!mount) return;
    const s = await Scenario.start(t, {
      name: 'hub disk full, then freed',
      seed: SEED,
      edges: [{ name: 'edgeA' }, { name: 'edgeB' }],
    });
    // The hub's data directory moves onto a 4 MiB tmpfs (its store copied over while it is stopped).
    const hub = s.hub;
    await hub.stop();
    const saved = `${hub.dataDir}.saved`;
    execFileSync('mv', [hub.dataDir, saved]);
    mkdirSync(hub.dataDir);
    mount(hub.dataDir);
    execFileSync('cp', ['-a', `${saved}/.`, hub.dataDir]);
    await hub.start();
    const pid = hub.pid;
    s.startWorkload({ clientsPerNode: 2, pauseMs: 2, padBytes: 16_384 });
    const failed = () => hub.grep('a storage write failed').length;
    for (let i = 0; i < 160 && failed() === 0; i++) await sleep(250);
    assert.ok(failed() > 0, 'the hub disk filled up');
    await sleep(2_000);
    execFileSync('mount', ['-o', 'remount,size=512m', hub.dataDir]);
    const restarted = () => hub.grep('restarted from the durable state').length;
    // The back-off may have grown while the disk was full: up to 30 s between attempts.
    for (let i = 0; i < 200 && restarted() === 0; i++) await sleep(250);
    s.notes['hubStoreFailures'] = failed();
    s.notes['hubRestarts'] = restarted();
    assert.ok(restarted() > 0, 'the hub restarted from its durable state once space was back');
    assert.equal(hub.pid, pid, 'the same process');
    await s.workload?.stop();
    const { report } = await s.finish({ convergeTimeoutMs: 60_000 });
    assertClean(report);
  });
});
