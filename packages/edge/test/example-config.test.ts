/**
 * deploy/examples/edge.yaml, key by key (issue 9): every key is commented, every key — including the optional ones
 * shipped commented out — is accepted by the validator and lands in the validated config (none silently dropped).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  getPath,
  keyLines,
  leafPaths,
  uncommentedKeys,
  uncommentOptional,
} from '../../../test/deploy/yaml-keys.ts';
import { loadEdgeConfig } from '../src/config.js';

const file = fileURLToPath(new URL('../../../deploy/examples/edge.yaml', import.meta.url));
const text = readFileSync(file, 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'tm-edge-example-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('deploy/examples/edge.yaml', () => {
  it('comments every key', () => {
    assert.ok(keyLines(text).length >= 40, 'the example shows the configuration');
    assert.deepEqual(
      uncommentedKeys(text).map((k) => `line ${k.n}: ${k.key}`),
      [],
    );
  });

  it('every key is accepted and kept by the validator', () => {
    const cfg = loadEdgeConfig({ file, env: {} });
    const missing = leafPaths(parse(text)).filter((path) => getPath(cfg, path) === undefined);
    assert.deepEqual(missing, []);
  });

  it('every optional key shipped commented out is valid once uncommented', () => {
    const full = uncommentOptional(text);
    const added = leafPaths(parse(full)).filter((p) => !leafPaths(parse(text)).includes(p));
    assert.deepEqual(added.sort(), [
      'http.token',
      'hub.ca',
      'hub.cert',
      'hub.key',
      'hub.password',
      'log.pretty',
      'memory',
      'publish.0.ttlMs',
    ]);
    const path = join(dir, 'edge-full.yaml');
    writeFileSync(path, full);
    const cfg = loadEdgeConfig({ file: path, env: {} });
    assert.deepEqual(
      added.filter((p) => getPath(cfg, p) === undefined),
      [],
    );
    assert.equal(cfg.publish[0]?.ttlMs, 7 * 86_400_000);
  });
});
