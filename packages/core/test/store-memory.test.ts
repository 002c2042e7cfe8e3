import { test } from 'node:test';
import { MemoryKv } from '../src/store/memory-kv.js';
import { storeSuite } from './store-suite.js';

storeSuite({ test, name: 'memory', factory: async () => ({ kv: new MemoryKv(), cleanup: async () => {} }) });
