/** FakeClock moves a child's wall clock at run time (libfaketime); CounterTracker adds counters across restarts. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FakeClock, frozenSpec, offsetSpec } from '../src/clock.ts';
import { CounterTracker } from '../src/counters.ts';
import { findLibFaketime } from '../src/nodes.ts';

/** Runs a child that prints Date.now() every 100 ms on a line, for `lines` lines. */
function childClock(clock: FakeClock, lib: string, onLine: (n: number, i: number) => void, lines: number) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '-e',
        `let i=0;const t=setInterval(()=>{console.log(Date.now());if(++i===${lines})clearInterval(t)},100)`,
      ],
      {
        env: {
          ...process.env,
          ...clock.env,
          LD_PRELOAD: lib,
          FAKETIME_TIMESTAMP_FILE: clock.file,
          FAKETIME_NO_CACHE: '1',
          DONT_FAKE_MONOTONIC: '1',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let i = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      for (const line of text.split('\n').filter((l) => l !== '')) onLine(Number(line), i++);
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}`))));
  });
}

describe('FakeClock', () => {
  it('writes libfaketime specs', () => {
    assert.equal(offsetSpec(50_000), '+50s');
    assert.equal(offsetSpec(-3_600_000), '-3600s');
    assert.equal(frozenSpec(Date.UTC(2030, 0, 2, 3, 4, 5, 678)), '2030-01-02 03:04:05');
    const dir = mkdtempSync(join(tmpdir(), 'tm-clock-'));
    try {
      const clock = new FakeClock(dir, { offsetMs: -50_000 });
      assert.equal(readFileSync(clock.file, 'utf8'), '-50s\n');
      clock.freezeAt(Date.UTC(2030, 0, 1));
      assert.equal(readFileSync(clock.file, 'utf8'), '2030-01-01 00:00:00\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('skews, jumps back and freezes a running child', async (t) => {
    const lib = findLibFaketime();
    if (!lib) {
      t.skip('libfaketime is not installed (apt-get install faketime)');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'tm-clock-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const clock = new FakeClock(dir, { offsetMs: 50_000 });
    const skews: number[] = [];
    const frozenAt = Date.now() - 3_600_000;
    await childClock(
      clock,
      lib,
      (now, i) => {
        skews.push(now - Date.now());
        if (i === 2) clock.setOffsetMs(-50_000); // a 100 s jump back at run time
        if (i === 5) clock.freezeAt(frozenAt);
      },
      9,
    );
    const near = (v: number, want: number) => Math.abs(v - want) < 1_500;
    assert.ok(near(skews[0]!, 50_000), `started 50 s fast: ${skews}`);
    assert.ok(near(skews[4]!, -50_000), `jumped back: ${skews}`);
    assert.ok(skews[8]! < -3_590_000, `frozen an hour back: ${skews}`);
  });
});

describe('CounterTracker', () => {
  it('adds up counters across restarts (a value that went down is a new process)', () => {
    const c = new CounterTracker();
    c.observe('a', { x: 5 });
    c.observe('a', { x: 9 });
    c.observe('a', { x: 2 }); // restarted
    c.observe('b', { x: 1 });
    assert.equal(c.total('x', 'a'), 11);
    assert.equal(c.total('x'), 12);
    assert.equal(c.total('y'), 0);
  });
});
