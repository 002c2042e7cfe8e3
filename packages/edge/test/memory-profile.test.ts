/**
 * The memory profiles (SPEC §10, config-memory.ts): `memory` is validated like every key, and the low profile's
 * LevelDB options reach LevelDB — seen on disk: with its 1 MiB write buffer, a few MiB of writes are flushed into
 * level-0 table files, which classic-level's default 4 MiB buffer keeps in its log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError } from '@tablemesh/core';
import { pino } from 'pino';
import { loadEdgeConfig, parseEdgeConfig } from '../src/config.js';
import { MEMORY_PROFILES, memoryProfileOf } from '../src/config-memory.js';
import { buildEdge } from '../src/edge.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-edge-memory-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const minimal = { nodeId: 'edge1', dataDir: join(dir, 'unused'), hub: { url: 'mqtt://127.0.0.1:9' } };
const tableFiles = (store: string) => readdirSync(store).filter((f) => f.endsWith('.ldb'));

function problems(input: unknown): readonly string[] {
  try {
    parseEdgeConfig(input);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected ConfigError');
}

describe('memory profile config', () => {
  it('absent selects the default profile; low from the file, the environment or a flag', () => {
    assert.equal(parseEdgeConfig(minimal).memory, undefined);
    assert.equal(memoryProfileOf(parseEdgeConfig(minimal)).name, 'default');
    assert.equal(parseEdgeConfig({ ...minimal, memory: 'low' }).memory, 'low');
    assert.equal(loadEdgeConfig({ env: { TM_EDGE_MEMORY: 'low' }, overrides: minimal }).memory, 'low');
    const flagged = loadEdgeConfig({ env: {}, overrides: { ...minimal, memory: 'low' } });
    assert.equal(memoryProfileOf(flagged), MEMORY_PROFILES.low);
  });

  it('a bad value is refused with the key and the accepted names', () => {
    assert.deepEqual(problems({ ...minimal, memory: 'tiny' }), [
      'memory: expected one of default, low, got "tiny"',
    ]);
    assert.deepEqual(problems({ ...minimal, memory: 64 }), ['memory: expected one of default, low, got 64']);
    assert.deepEqual(problems({ ...minimal, memory: { profile: 'low' } }), [
      'memory: expected one of default, low, got a object',
    ]);
  });

  it('the low profile bounds what the default leaves to classic-level, and sets its V8 flags in both places', () => {
    const low = MEMORY_PROFILES.low;
    assert.deepEqual(MEMORY_PROFILES.default.store, {});
    assert.ok(low.store.cacheSize! < 8 * 1024 * 1024 && low.store.writeBufferSize! < 4 * 1024 * 1024);
    // the runtime flag and the startup flag agree: the young generation does not grow past 1 MiB semi-spaces
    assert.ok(low.v8Flags.includes('--semi-space-growth-factor=1'));
    assert.ok(low.startup.nodeOptions.includes('--max-semi-space-size=1'));
  });
});

describe('memory profile takes effect in LevelDB', () => {
  it('an edge built with memory: low opens its store with the profile options', async () => {
    for (const [name, expectFiles] of [
      ['low', true],
      ['default', false],
    ] as const) {
      const dataDir = join(dir, `edge-${name}`);
      const config = parseEdgeConfig({
        ...minimal,
        dataDir,
        memory: name,
        http: { port: 0 },
        publish: [{ table: 'bench' }],
      });
      const edge = buildEdge(config, { logger: pino({ level: 'silent' }) });
      await edge.start();
      try {
        const writes = [];
        for (let i = 0; i < 10; i++) {
          const ops = Array.from({ length: 10 }, (_, j) => ({
            kind: 'put',
            key: `r${i * 10 + j}`,
            attrs: { blob: 'x'.repeat(10_000) },
          }));
          writes.push(
            fetch(`http://127.0.0.1:${edge.httpPort}/_batch`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ writes: [{ table: 'bench', ops }] }),
            }).then((r) => assert.equal(r.status, 200)),
          );
          await writes.at(-1);
        }
      } finally {
        await edge.stop();
      }
      const files = tableFiles(join(dataDir, 'store'));
      assert.equal(files.length > 0, expectFiles, `${name}: ${files.length} level-0 files`);
    }
  });
});
