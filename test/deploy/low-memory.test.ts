/**
 * The edge's low-memory profile as deployed (SPEC §10, docs/memory.md): the systemd drop-in and the container env
 * file set exactly the profile's startup settings, and the built binary started with that environment runs the
 * profile — its start line shows the profile, no missing setting and a V8 heap limit set by `--max-old-space-size`
 * — while started without it, it names what is missing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Child } from '@tablemesh/testkit';
import { MEMORY_PROFILES } from '../../packages/edge/src/config-memory.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'tm-low-memory-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const low = MEMORY_PROFILES.low;
/** What a deployment of the low profile puts in the environment. */
const expected = {
  TM_EDGE_MEMORY: 'low',
  NODE_OPTIONS: low.startup.nodeOptions.join(' '),
  ...low.startup.env,
};

/** `Environment=` lines of a systemd unit or drop-in (quotes around one assignment removed). */
function systemdEnvironment(text: string): Record<string, string> {
  const lines = text.split('\n').filter((l) => l.startsWith('Environment='));
  return Object.fromEntries(
    lines.map((l) => {
      const assignment = l.slice('Environment='.length).replace(/^"(.*)"$/, '$1');
      return [assignment.slice(0, assignment.indexOf('=')), assignment.slice(assignment.indexOf('=') + 1)];
    }),
  );
}

/** `KEY=value` lines of a docker env file (no quoting: docker takes the rest of the line as it is). */
function envFile(text: string): Record<string, string> {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Starts the built edge binary (hub unreachable: offline-first) with `env`; its start line and warnings. */
async function startEdge(name: string, env: Record<string, string>) {
  const child = new Child({
    name,
    script: join(root, 'packages/edge/dist/bin.js'),
    args: [
      '--config',
      join(root, 'deploy/examples/edge.yaml'),
      '--set',
      'http.port=0',
      '--set',
      'hub.url=mqtt://127.0.0.1:9',
    ],
    env: { PATH: process.env['PATH'] ?? '', TM_EDGE_DATA_DIR: join(scratch, name), ...env },
    readyMsg: 'tablemesh-edge started',
  });
  const ready = await child.start();
  const warnings = child.log.filter((l) =>
    String(l.msg).startsWith('memory profile: startup settings missing'),
  );
  assert.deepEqual(await child.stop(10_000), { code: 0, signal: null });
  return { memory: ready['memory'] as Record<string, unknown>, warnings };
}

describe('low-memory profile deployment', () => {
  it('the systemd drop-in and the container env file set the profile and its startup settings', () => {
    const dropIn = readFileSync(join(root, 'deploy/systemd/low-memory.conf'), 'utf8');
    assert.match(dropIn, /^\[Service\]$/m);
    assert.deepEqual(systemdEnvironment(dropIn), expected);
    const env = readFileSync(join(root, 'deploy/docker/edge-low-memory.env'), 'utf8');
    assert.deepEqual(envFile(env), expected);
  });

  it("the binary with the drop-in's environment runs the profile: LevelDB options, V8 flags, heap limit", async () => {
    const { memory, warnings } = await startEdge('edge-low', expected);
    assert.equal(memory['profile'], 'low');
    assert.deepEqual(memory['store'], low.store);
    assert.deepEqual(memory['v8Flags'], low.v8Flags);
    assert.deepEqual(memory['missing'], []);
    assert.deepEqual(warnings, []);
    // --max-old-space-size=96 and --max-semi-space-size=1 reached V8: the limit is 96 MiB + 3 × 1 MiB
    const limit = Number(memory['heapLimitMiB']);
    assert.ok(limit >= 96 && limit <= 96 + 8, `heap limit ${limit} MiB`);
  });

  it('memory: low without the startup settings runs what it can and names what is missing', async () => {
    const { memory, warnings } = await startEdge('edge-low-bare', { TM_EDGE_MEMORY: 'low' });
    assert.equal(memory['profile'], 'low');
    assert.deepEqual(memory['store'], low.store);
    const missing = [
      ...low.startup.nodeOptions,
      ...Object.entries(low.startup.env).map(([k, v]) => `${k}=${v}`),
    ];
    assert.deepEqual(memory['missing'], missing);
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0]!['missing'], missing);
  });

  it('the default profile needs nothing from the environment', async () => {
    const { memory, warnings } = await startEdge('edge-default', {});
    assert.equal(memory['profile'], 'default');
    assert.deepEqual(memory['store'], {});
    assert.deepEqual(memory['v8Flags'], MEMORY_PROFILES.default.v8Flags);
    assert.deepEqual(memory['missing'], []);
    assert.deepEqual(warnings, []);
  });
});
