/**
 * LevelKv's LevelDB options reach LevelDB (SPEC §10 memory profiles): seen on disk, not by spying — with a 1 MiB
 * write buffer, ~3 MiB of writes are flushed into level-0 table files, which classic-level's default 4 MiB buffer
 * keeps in its log.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LevelKv } from '../src/store/level-kv.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-level-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const tableFiles = (store: string) => readdirSync(store).filter((f) => f.endsWith('.ldb'));

describe('LevelKv options', () => {
  // ~3 MiB of values in 300 batches: more than three 1 MiB write buffers, less than one 4 MiB buffer.
  async function fill(kv: LevelKv): Promise<void> {
    await kv.open();
    const value = Buffer.alloc(10_000, 7);
    for (let i = 0; i < 300; i++) await kv.write([{ key: `k${String(i).padStart(4, '0')}`, value }], false);
    await kv.close();
  }

  it('LevelKv hands its options to classic-level: a 1 MiB write buffer flushes level-0 files', async () => {
    const small = join(dir, 'small');
    const plain = join(dir, 'plain');
    await fill(new LevelKv(small, { writeBufferSize: 1024 * 1024, cacheSize: 1024 * 1024 }));
    await fill(new LevelKv(plain));
    assert.ok(tableFiles(small).length >= 1, `level-0 files with a 1 MiB buffer: ${readdirSync(small)}`);
    assert.deepEqual(tableFiles(plain), [], 'the default 4 MiB buffer keeps ~3 MiB in its log');
    assert.deepEqual(new LevelKv(small, { cacheSize: 1, writeBufferSize: undefined }).options, {
      cacheSize: 1,
    });
  });
});
