import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '../../..');
const COMMITTED = join(ROOT, 'packages/core/src/codec/generated');

describe('codec generated code (SPEC §6: proto/ is the single source of truth)', () => {
  const out = mkdtempSync(join(tmpdir(), 'tm-gen-proto-'));
  after(() => rmSync(out, { recursive: true, force: true }));
  execFileSync(process.execPath, [join(ROOT, 'scripts/gen-proto.mjs'), '--out', out], { cwd: ROOT });

  it('regenerates the same set of files', () => {
    assert.deepEqual(readdirSync(out).sort(), readdirSync(COMMITTED).sort());
  });

  for (const name of readdirSync(out).sort()) {
    it(`${name} matches proto/tablemesh/v1/*.proto`, () => {
      const fresh = readFileSync(join(out, name));
      const committed = readFileSync(join(COMMITTED, name));
      assert.ok(
        fresh.equals(committed),
        `packages/core/src/codec/generated/${name} is stale: run \`npm run gen:proto\` and commit the result`,
      );
    });
  }
});
