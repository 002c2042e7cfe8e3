/**
 * deploy/examples/hub.yaml, key by key (issue 9): every key is commented, every key — including the optional ones
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
import { loadHubConfig } from '../src/config.js';

const file = fileURLToPath(new URL('../../../deploy/examples/hub.yaml', import.meta.url));
const text = readFileSync(file, 'utf8');
const env = { TM_HUB_HTTP__TOKEN: 'a-long-random-token-0123' };
const dir = mkdtempSync(join(tmpdir(), 'tm-hub-example-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('deploy/examples/hub.yaml', () => {
  it('comments every key', () => {
    assert.ok(keyLines(text).length >= 30, 'the example shows the configuration');
    assert.deepEqual(
      uncommentedKeys(text).map((k) => `line ${k.n}: ${k.key}`),
      [],
    );
  });

  it('every key is accepted and kept by the validator', () => {
    const cfg = loadHubConfig({ file, env });
    const missing = leafPaths(parse(text)).filter((path) => getPath(cfg, path) === undefined);
    assert.deepEqual(missing, []);
  });

  it('every optional key shipped commented out is valid once uncommented', () => {
    const full = uncommentOptional(text);
    const before = leafPaths(parse(text));
    const added = leafPaths(parse(full)).filter((p) => !before.includes(p));
    assert.deepEqual(added.sort(), [
      'http.token',
      'log.pretty',
      'mqtt.tls.ca',
      'mqtt.tls.cert',
      'mqtt.tls.handshakeTimeoutMs',
      'mqtt.tls.key',
      'mqtt.tls.port',
      'mqtt.tls.requestCert',
      'mqtt.ws.port',
      'mqtt.ws.secure',
      'nodes.0.secret',
      'nodes.1.secret',
      'tables.0.indexes',
    ]);
    const path = join(dir, 'hub-full.yaml');
    writeFileSync(path, full);
    const cfg = loadHubConfig({ file: path, env: {} }); // the token is in the file now
    assert.deepEqual(
      added.filter((p) => getPath(cfg, p) === undefined),
      [],
    );
    assert.equal(cfg.http.token, 'change-me-a-long-random-token');
  });
});
