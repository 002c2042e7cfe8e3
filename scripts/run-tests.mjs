#!/usr/bin/env node
// Runs node:test over the test files of one suite. Node 20 does not expand globs itself, so we list files here.
//   unit: packages/*/test/**/*.test.ts through tsx
//   e2e:  test/**/*.test.ts (they spawn the built JS; the test files themselves run through tsx)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const suite = process.argv[2] ?? 'unit';
const roots = suite === 'unit' ? readdirSync('packages').map((p) => join('packages', p, 'test')) : ['test'];

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = roots.flatMap((root) => collect(root, []));
if (files.length === 0) {
  console.log(`no ${suite} test files found`);
  process.exit(suite === 'unit' ? 1 : 0);
}
const extra = process.env.TM_TEST_CONCURRENCY
  ? [`--test-concurrency=${process.env.TM_TEST_CONCURRENCY}`]
  : [];
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...extra, ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
