/**
 * V8 flags of a memory profile (v8-flags.ts): runtime flags applied in-process change how the heap behaves, and the
 * startup settings a process lacks are named. Each check runs in a child node so its flags stay out of this one.
 * No timing and no size that could vary: a young generation whose growth factor is 1 keeps its capacity exactly,
 * and `--max-old-space-size` sets the heap limit.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyV8Flags, missingStartupSettings, startupFlags } from '../src/v8-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-v8-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const module = fileURLToPath(new URL('../src/v8-flags.ts', import.meta.url));

/** Runs `body` (a module's code, with the v8-flags module imported as `f`) in a child node; its JSON output. */
function child(body: string, options: { flags?: string[]; env?: Record<string, string> } = {}): unknown {
  const file = join(dir, `child-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(
    file,
    `import v8 from 'node:v8';\nimport * as f from ${JSON.stringify(module)};\nvoid v8;\n${body}\n`,
  );
  const run = spawnSync(process.execPath, [...(options.flags ?? []), '--import', 'tsx', file], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'] ?? '', ...options.env },
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

// Short-lived garbage with a small surviving set: V8 grows the young generation for this (to 16 MiB semi-spaces).
const churn = `
  const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
  const before = young();
  let keep = [];
  for (let i = 0; i < 3e6; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 1000) keep = []; }
  console.log(JSON.stringify({ before, after: young() }));
`;

describe('V8 flags of a memory profile', () => {
  it('a runtime flag applied after start bounds the young generation (and only with it applied)', () => {
    const grown = child(churn) as { before: number; after: number };
    assert.ok(
      grown.after > grown.before,
      `without the flag the young generation grows: ${JSON.stringify(grown)}`,
    );
    const fixed = child(`f.applyV8Flags(['--semi-space-growth-factor=1']);\n${churn}`) as typeof grown;
    assert.equal(fixed.after, fixed.before, 'with --semi-space-growth-factor=1 it keeps its capacity');
  });

  it('refuses what is not a flag (V8 would ignore it silently)', () => {
    assert.throws(() => applyV8Flags(['max-old-space-size=64']), /not a V8 flag/);
    assert.throws(() => applyV8Flags(['--semi-space-growth-factor=1 --expose-gc']), /not a V8 flag/);
  });

  it('names the startup settings a process lacks: flags by name (either spelling), variables when set', () => {
    const wanted = {
      nodeOptions: ['--max-old-space-size=96', '--max-semi-space-size=1'],
      env: { MALLOC_ARENA_MAX: '2' },
    };
    assert.deepEqual(missingStartupSettings(wanted, { flags: [], env: {} }), [
      '--max-old-space-size=96',
      '--max-semi-space-size=1',
      'MALLOC_ARENA_MAX=2',
    ]);
    assert.deepEqual(
      missingStartupSettings(wanted, {
        flags: ['--max_old_space_size=128', '--max-semi-space-size=2'],
        env: { MALLOC_ARENA_MAX: '4' },
      }),
      [],
    );
    assert.deepEqual(startupFlags(['--inspect'], ' --max-old-space-size=96  --trace-gc '), [
      '--inspect',
      '--max-old-space-size=96',
      '--trace-gc',
    ]);
  });

  it('startup flags from NODE_OPTIONS reach V8 (heap limit) and count as present', () => {
    const body = `console.log(JSON.stringify({ limit: f.heapLimitMiB(), missing: f.missingStartupSettings({
      nodeOptions: ['--max-old-space-size=96', '--max-semi-space-size=1'], env: { MALLOC_ARENA_MAX: '2' } }) }));`;
    const plain = child(body) as { limit: number; missing: string[] };
    assert.deepEqual(plain.missing, [
      '--max-old-space-size=96',
      '--max-semi-space-size=1',
      'MALLOC_ARENA_MAX=2',
    ]);
    const low = child(body, {
      env: { NODE_OPTIONS: '--max-old-space-size=96 --max-semi-space-size=1', MALLOC_ARENA_MAX: '2' },
    }) as typeof plain;
    assert.deepEqual(low.missing, []);
    // the limit is the old space plus the young generation (3 × the 1 MiB semi-space)
    assert.ok(
      low.limit >= 96 && low.limit <= 96 + 8,
      `heap limit ${low.limit} MiB: 96 MiB old, 1 MiB semi-space`,
    );
    assert.ok(plain.limit > low.limit, `default heap limit ${plain.limit} MiB`);
  });
});
