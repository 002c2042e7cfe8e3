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
