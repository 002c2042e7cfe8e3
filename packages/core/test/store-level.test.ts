import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LevelKv } from '../src/store/level-kv.js';
import { storeSuite } from './store-suite.js';

storeSuite({
  test,
  name: 'leveldb',
  factory: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tm-store-'));
    return { kv: new LevelKv(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
});

test('leveldb: keys of every byte value round-trip through write, get, getMany and iterate (7-bit keys go as strings)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tm-kv-'));
  const kv = new LevelKv(dir);
  await kv.open();
  try {
    // One key per byte value, plus 7-bit and 8-bit keys that share prefixes.
    const keys = Array.from({ length: 256 }, (_, b) => `k${String.fromCharCode(b)}`);
    keys.push('k\x00\x7f', 'k\x00\x80', 'plain-ascii', 'pl\xffain');
    await kv.write(
      keys.map((key, i) => ({ key, value: Buffer.from(String(i)) })),
      true,
    );
    for (const [i, key] of keys.entries()) assert.equal((await kv.get(key))?.toString(), String(i));
    const many = await kv.getMany([...keys, 'missing', 'missing\x90']);
    assert.deepEqual(
      many.map((v) => v?.toString()),
      [...keys.map((_, i) => String(i)), undefined, undefined],
    );
    const iterated: string[] = [];
    for await (const [key] of kv.iterate({})) iterated.push(key);
    assert.deepEqual(iterated, [...keys].sort()); // latin1 string order is byte order
    await kv.write(
      [
        { key: 'k\x00\x80', value: undefined },
        { key: 'plain-ascii', value: undefined },
      ],
      true,
    );
    assert.deepEqual(await kv.getMany(['k\x00\x80', 'plain-ascii', 'k\x00\x7f']), [
      undefined,
      undefined,
      Buffer.from(String(256)),
    ]);
  } finally {
    await kv.close();
    await rm(dir, { recursive: true, force: true });
  }
});
