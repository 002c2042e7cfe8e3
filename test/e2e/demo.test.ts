/**
 * Done when (issue 9): `npm start` shows the demo replicating, and Ctrl-C leaves no process behind. The test runs
 * `npm start` as a terminal would — detached in its own process group — waits until an alert raised at the edge is
 * readable on the hub's API, sends SIGINT to the whole group (what Ctrl-C does), and checks that every pid the demo
 * started (from its demo.json), the demo itself, and every other member of the group are gone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sleep, waitFor } from '@tablemesh/testkit';

const root = fileURLToPath(new URL('../../', import.meta.url));

type DemoInfo = {
  pids: { demo: number; hub: number; edge: number };
  hub: { api: string; mqtt: string; token: string };
  edge: { api: string };
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Pids of the live processes whose process group is `pgid` (Linux /proc). */
function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so split after the last ')'
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') members.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return members;
}

describe('npm start (the demo)', { timeout: 180_000 }, () => {
  it('replicates an alert to the hub, and Ctrl-C leaves no process behind', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tablemesh-demo-test-'));
    const dataDir = join(dir, 'demo');
    const npm = spawn('npm', ['start'], {
      cwd: root,
      detached: true, // its own process group, as a shell gives a foreground job
      env: { ...process.env, TM_DEMO_DIR: dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pgid = npm.pid!;
    let output = '';
    npm.stdout!.on('data', (chunk) => {
      output += String(chunk);
    });
    npm.stderr!.on('data', (chunk) => {
      output += String(chunk);
    });
    const started: number[] = [];
    t.after(() => {
      // Whatever happened, nothing the test started survives it.
      for (const pid of [...groupMembers(pgid), ...started]) if (alive(pid)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    const fail = (what: string) => `${what}\n--- npm start output ---\n${output}`;
    /** waitFor whose error carries the demo's output as it is when the wait gives up. */
    const wait = async <T>(what: string, predicate: () => T | Promise<T>, timeoutMs: number) => {
      try {
        return await waitFor(predicate, { timeoutMs, intervalMs: 100, message: what });
      } catch (err) {
        throw new Error(fail((err as Error).message));
      }
    };

    const infoFile = join(dataDir, 'demo.json');
    await wait(
      'the demo to start (build included)',
      () => existsSync(infoFile) || npm.exitCode !== null,
      120_000,
    );
    assert.ok(existsSync(infoFile), fail(`npm start exited (code ${npm.exitCode}) before the demo started`));
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as DemoInfo;
    const pids = [info.pids.demo, info.pids.hub, info.pids.edge];
    started.push(...pids);
    assert.ok(pids.every(alive), fail('the demo, the hub and the edge run'));
    assert.match(output, new RegExp(`pid ${info.pids.hub}`), 'the hub pid is printed');
    assert.match(output, new RegExp(`pid ${info.pids.edge}`), 'the edge pid is printed');

    // Within 30 s, an alert raised by the edge app is readable on the hub's API, with its sensor rows.
    const startedAt = Date.now();
    const alerts = await wait(
      'an alert replicated to the hub',
      async () => {
        const res = await fetch(`${info.hub.api}/alerts/?select=id,sensor,rowCount`, {
          headers: { authorization: `Bearer ${info.hub.token}` },
        });
        const body = res.ok ? ((await res.json()) as { id: string; rowCount: number }[]) : [];
        return body.length > 0 ? body : undefined;
      },
      30_000,
    );
    assert.ok(alerts[0]!.rowCount > 0, 'the alert carries sensor rows');
    t.diagnostic(`first alert at the hub ${Date.now() - startedAt} ms after the demo started`);
    // The status line names what the issue asks for (printed every 5 s when stdout is not a terminal).
    await wait(
      'a status line',
      () => /thresholds received \d+ │ sensor rows written \d+ │ alerts sent \d+/.test(output),
      10_000,
    );
    assert.match(output, /backlog \d+/);

    // Ctrl-C: SIGINT to every process of the group at once.
    process.kill(-pgid, 'SIGINT');
    await wait(
      'every process of the demo to exit',
      () => pids.every((pid) => !alive(pid)) && groupMembers(pgid).length === 0,
      20_000,
    );
    await sleep(200); // let the output of the last lines arrive
    assert.match(output, /stopped; data kept in/, fail('the demo stopped cleanly'));
    const logOf = (name: string) => readFileSync(join(dataDir, `${name}.log`), 'utf8');
    assert.match(logOf('hub'), /"tablemesh-hub stopped"/, 'the hub shut down gracefully');
    assert.match(logOf('edge1'), /"tablemesh-edge stopped"/, 'the edge shut down gracefully');
    assert.equal(existsSync(infoFile), false, 'demo.json is removed on exit');
  });
});
