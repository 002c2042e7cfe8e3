/**
 * The edge's TLS options toward the hub (SPEC §7): CA, certificate pinning (hub.pin), TLS ≥ 1.2, and the
 * [MQTT-3.1.2-22] username that must come with a password. The "hub" here is a bare TLS server that records
 * what the link sends: enough to see whether the link trusted it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { ConfigError } from '@tablemesh/core';
import { parseEdgeConfig } from '../src/config.js';
import { Link } from '../src/link.js';

const dir = mkdtempSync(join(tmpdir(), 'tm-edge-tls-'));
const file = (name: string) => join(dir, name);

/** Runs openssl in the temp dir (plain file names as arguments). */
function openssl(args: string): void {
  execFileSync('openssl', args.split(' '), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

describe('edge link over TLS', () => {
  let server: tls.Server;
  let port = 0;
  let spkiPin = '';
  let fingerprint = '';
  const firstBytes: Buffer[] = [];

  before(async () => {
    const key = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';
    const caExt = '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign';
    openssl(`req -x509 ${key} -keyout ca-key.pem -out ca.pem -subj /CN=test-ca -days 2 ${caExt}`);
    openssl(`req ${key} -keyout hub-key.pem -out hub.csr -subj /CN=localhost`);
    writeFileSync(file('hub.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    openssl(
      'x509 -req -in hub.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out hub.pem -days 2 -extfile hub.ext',
    );
    const cert = new X509Certificate(readFileSync(file('hub.pem')));
    const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
    spkiPin = `sha256/${createHash('sha256').update(spki).digest('base64')}`;
    fingerprint = cert.fingerprint256;
    server = tls.createServer(
      { cert: readFileSync(file('hub.pem')), key: readFileSync(file('hub-key.pem')), minVersion: 'TLSv1.2' },
      (socket) => {
        socket.once('data', (d) => firstBytes.push(d));
        socket.on('error', () => {});
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a link with the given pins; resolves with the bytes the server got, or the link's last error. */
  async function attempt(pin?: string[]): Promise<{ sent: Buffer | undefined; error: string | undefined }> {
    const seen = firstBytes.length;
    const link = new Link(
      {
        url: `mqtts://127.0.0.1:${port}`,
        clientId: 'edge1',
        password: 'edge1-secret',
        ca: file('ca.pem'),
        ...(pin ? { pin } : {}),
        connectTimeoutMs: 2_000,
        keepaliveSec: 30,
        backoff: { initialMs: 60_000, maxMs: 60_000 },
      },
      { onConnect: () => {}, onMessage: () => {}, onDisconnect: () => {} },
    );
    link.start();
    const deadline = Date.now() + 2_000;
    while (firstBytes.length === seen && link.lastError === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const result = { sent: firstBytes[seen], error: link.lastError };
    await link.stop();
    return result;
  }

  it('connects to a hub whose certificate matches a pin (SPKI or fingerprint), sending username = node id', async () => {
    for (const pins of [
      [spkiPin],
      [fingerprint],
      ['sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', spkiPin],
    ]) {
      const { sent, error } = await attempt(pins);
      assert.equal(error, undefined);
      assert.ok(sent, 'the link trusted the hub and sent CONNECT');
      assert.equal(sent[0], 0x10, 'an MQTT CONNECT');
      assert.ok(sent.includes(Buffer.from('edge1-secret')));
      assert.ok(sent.includes(Buffer.from([0, 5, ...Buffer.from('edge1')])), 'client id and username edge1');
      assert.equal(sent[9]! & 0xc0, 0xc0, 'username and password flags [MQTT-3.1.2-22]');
    }
  });

  it('refuses a hub whose certificate matches no pin, even one signed by the trusted CA', async () => {
    const { sent, error } = await attempt(['sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=']);
    assert.equal(sent, undefined, 'nothing was sent to the unpinned hub');
    assert.match(error ?? '', /matches none of hub.pin/);
    const other = await attempt([
      '00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF',
    ]);
    assert.equal(other.sent, undefined);
  });

  it('config: pins are validated, normalised, and need mqtts://', () => {
    const base = { nodeId: 'edge1', dataDir: '/var/lib/tm' };
    const cfg = parseEdgeConfig({
      ...base,
      hub: { url: 'mqtts://hub:8883', pin: [spkiPin, fingerprint.replace(/:/g, '').toLowerCase()] },
    });
    assert.deepEqual(cfg.hub.pin, [spkiPin, fingerprint]);
    assert.throws(
      () => parseEdgeConfig({ ...base, hub: { url: 'mqtt://hub:1883', pin: [spkiPin] } }),
      (err: unknown) =>
        err instanceof ConfigError && /hub\.pin: needs an mqtts:\/\//.test(err.problems.join()),
    );
    assert.throws(
      () => parseEdgeConfig({ ...base, hub: { url: 'mqtts://hub:8883', pin: ['md5/xyz'] } }),
      (err: unknown) => err instanceof ConfigError && /hub\.pin\[0\]/.test(err.problems.join()),
    );
  });
});
