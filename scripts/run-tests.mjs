#!/usr/bin/env node
// Runs node:test over the test files of one suite. Node 20 does not expand globs itself, so we list files here.
//   unit:  packages/*/test/**/*.test.ts through tsx
//   e2e:   test/**/*.test.ts (they spawn the built JS; the test files themselves run through tsx), which includes
//          the reliability scenarios of test/fault/
//   fault: test/fault/*.test.ts only, ending with an `N passed, N failed` line (issue 7)
//   chaos: test/chaos/*.chaos.ts, the long soaks (5–20 min each; not part of e2e), same closing line
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const suite = process.argv[2] ?? 'unit';
const ROOTS = {
  unit: () => readdirSync('packages').map((p) => join('packages', p, 'test')),
  e2e: () => ['test'],
  fault: () => ['test/fault'],
  chaos: () => ['test/chaos'],
};
if (!ROOTS[suite]) {
  console.error(`unknown suite ${suite}: one of ${Object.keys(ROOTS).join(', ')}`);
  process.exit(2);
}
const roots = ROOTS[suite]();
const suffix = suite === 'chaos' ? '.chaos.ts' : '.test.ts';

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
    else if (name.endsWith(suffix)) out.push(path);
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
// fault and chaos: the spec reporter plus a closing `N passed, N failed` line; chaos files run one at a time.
const reporters =
  suite === 'fault' || suite === 'chaos'
    ? [
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=./scripts/summary-reporter.mjs',
        '--test-reporter-destination=stdout',
        ...(suite === 'chaos' && !process.env.TM_TEST_CONCURRENCY ? ['--test-concurrency=1'] : []),
      ]
    : [];
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...reporters, ...extra, ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
