import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../src/errors.js';

test('docs/errors.md lists exactly the codes of ERROR_CODES', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const listed = [...doc.matchAll(/^\|\s*`(TM_[A-Z_]+)`\s*\|/gm)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), Object.keys(ERROR_CODES).sort());
});
