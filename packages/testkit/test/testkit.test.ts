import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { FeedEntry } from '@tablemesh/core';
import { Child } from '../src/child.ts';
import { checkApplyLog } from '../src/inspect.ts';
import { parseMetrics } from '../src/metrics.ts';
import { mergeConfig } from '../src/nodes.ts';
import { WaitTimeoutError, waitFor } from '../src/wait.ts';

describe('parseMetrics', () => {
  it('reads samples with labels, escapes and special values; skips comments', () => {
    const m = parseMetrics(
      [
        '# HELP tablemesh_held outbox held',
        '# TYPE tablemesh_held gauge',
        'tablemesh_held{table="data.extra",code="TM_NOT_GRANTED"} 1',
        'tablemesh_backlog_count{table="data.a"} 3',
        'tablemesh_backlog_count{table="data.b"} 4',
        'tablemesh_odd{v="a\\"b\\\\c\\nd"} +Inf',
        'tablemesh_applied_total 12 1700000000000',
        '',
      ].join('\n'),
    );
    assert.equal(m.get('tablemesh_held', { table: 'data.extra' }), 1);
    assert.equal(m.get('tablemesh_held', { code: 'TM_CLOCK_AHEAD' }), undefined);
    assert.equal(m.sum('tablemesh_backlog_count'), 7);
    assert.throws(() => m.get('tablemesh_backlog_count'), /2 samples/);
    assert.equal(m.get('tablemesh_odd', { v: 'a"b\\c\nd' }), Number.POSITIVE_INFINITY);
    assert.equal(m.get('tablemesh_applied_total'), 12);
    assert.throws(() => parseMetrics('not a sample line at all {'), /not a Prometheus sample/);
  });
});

describe('waitFor', () => {
  it('resolves with the first truthy value, retrying through errors', async () => {
    let n = 0;
    const value = await waitFor(
      () => {
        n++;
        if (n < 3) throw new Error('not yet');
        return n === 4 ? { n } : false;
      },
      { intervalMs: 1 },
    );
    assert.deepEqual(value, { n: 4 });
  });

  it('gives up at the deadline naming what it waited for and the last value', async () => {
    const started = Date.now();
    await assert.rejects(
      waitFor(() => 0, { timeoutMs: 60, intervalMs: 10, message: 'the answer' }),
      (err: unknown) =>
        err instanceof WaitTimeoutError && /the answer; last: 0/.test(err.message) && err.last === 0,
    );
    assert.ok(Date.now() - started < 1_000);
  });
});

describe('mergeConfig', () => {
  it('merges objects deeply and replaces arrays and scalars', () => {
    assert.deepEqual(
      mergeConfig(
        { hub: { url: 'a', backoff: { initialMs: 1 } }, publish: [{ table: 'x' }], n: 1 },
        { hub: { backoff: { maxMs: 2 } }, publish: [], n: 2 },
      ),
      { hub: { url: 'a', backoff: { initialMs: 1, maxMs: 2 } }, publish: [], n: 2 },
    );
  });
});

describe('checkApplyLog', () => {
  const entry = (hubSeq: number, node: string, epoch: string, seq: number): FeedEntry => ({
    hubSeq,
    wall: 0,
    tx: { table: 'data.t', stamp: { wall: hubSeq, counter: 0, node, epoch }, seq, ops: [] },
  });

  it('counts applies per origin and accepts interleaved origins in seq order', () => {
    const result = checkApplyLog(
      [entry(1, 'a', 'e1', 1), entry(2, 'b', 'f1', 1), entry(3, 'a', 'e1', 2), entry(4, 'hub', 'h', 4)],
      ['hub'],
    );
    assert.deepEqual(result, { perOrigin: { a: 2, b: 1 }, duplicates: [], outOfOrder: [] });
  });

  it('reports a second apply of one (origin, epoch, seq) and a gap', () => {
    const result = checkApplyLog([entry(1, 'a', 'e1', 1), entry(2, 'a', 'e1', 1), entry(3, 'a', 'e1', 3)]);
    assert.deepEqual(result.duplicates, ['a/e1#1 (hub seq 2)']);
    assert.deepEqual(result.outOfOrder, [
      'a/e1: seq 1 after 1 (hub seq 2)',
      'a/e1: seq 3 after 1 (hub seq 3)',
    ]);
  });
});

describe('Child', () => {
  const script = (body: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'tm-testkit-'));
    const file = join(dir, 'child.mjs');
    writeFileSync(file, body);
    return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
  };
  const ready = `console.log(JSON.stringify({ msg: 'up', port: 1234 }));`;

  it('resolves with the ready line, keeps the log, and stops with SIGTERM', async () => {
    const s = script(`${ready}\nconsole.error('plain text');\nsetInterval(() => {}, 1000);`);
    const child = new Child({
      name: 'c',
      script: s.file,
      args: [],
      env: { ...process.env } as Record<string, string>,
      readyMsg: 'up',
    });
    try {
      assert.deepEqual(await child.start(), { msg: 'up', port: 1234 });
      assert.ok(child.running && child.pid !== undefined);
      // stderr is a separate pipe: its line may arrive after the ready line on stdout.
      for (let i = 0; i < 100 && child.grep((l) => l.msg === 'plain text').length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(await child.stop(), { code: null, signal: 'SIGTERM' });
      assert.equal(child.running, false);
      assert.equal(child.grep((l) => l.msg === 'plain text').length, 1, child.tail());
    } finally {
      await child.kill();
      s.done();
    }
  });

  it('kills a child that ignores SIGTERM after the timeout', async () => {
    const s = script(`process.on('SIGTERM', () => {});\n${ready}\nsetInterval(() => {}, 1000);`);
    const child = new Child({
      name: 'c',
      script: s.file,
      args: [],
      env: { ...process.env } as Record<string, string>,
      readyMsg: 'up',
    });
    try {
      await child.start();
      const started = Date.now();
      assert.deepEqual(await child.stop(300), { code: null, signal: 'SIGKILL' });
      assert.ok(Date.now() - started < 5_000);
    } finally {
      await child.kill();
      s.done();
    }
  });

  it('rejects when the child exits before its ready line, with its output', async () => {
    const s = script(`console.error('bad config'); process.exit(2);`);
    const child = new Child({
      name: 'c',
      script: s.file,
      args: [],
      env: { ...process.env } as Record<string, string>,
      readyMsg: 'up',
    });
    try {
      await assert.rejects(child.start(), /exited before it was ready \(code 2[\s\S]*bad config/);
    } finally {
      s.done();
    }
  });
});
