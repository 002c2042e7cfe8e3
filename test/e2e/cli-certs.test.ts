/**
 * `tablemesh certs` makes certificates the binaries accept (SPEC §7): a hub listening on MQTT over TLS with mutual
 * TLS (requestCert) uses the CLI's CA and hub certificate, and an edge connects with the CLI's edge certificate
 * (CN = node id) and replicates. The edge sends a wrong password on purpose: only the certificate can let it in.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { it } from 'node:test';
import { useTestkit } from '@tablemesh/testkit';
import { runCli } from './_cli.ts';

it('certs init/issue: a hub with mutual TLS accepts an edge by its CLI-issued certificate', async (t) => {
  const kit = useTestkit(t);
  const dir = join(kit.root, 'certs');
  const certs = async (...args: string[]) => {
    const run = await runCli(['certs', ...args, '--dir', dir, '--json']);
    assert.equal(run.code, 0, `certs ${args.join(' ')}: ${run.stderr}`);
  };
  await certs('init');
  await Promise.all([certs('issue', 'hub', '--host', '127.0.0.1,localhost'), certs('issue', 'edge9')]);
  const hub = await kit.startHub({
    nodes: [{ id: 'edge9', publish: ['alerts'] }],
    config: {
      mqtt: {
        allowNoSecret: false,
        tls: {
          port: 0,
          cert: join(dir, 'hub.pem'),
          key: join(dir, 'hub-key.pem'),
          ca: join(dir, 'ca.pem'),
          requestCert: true,
        },
      },
    },
  });
  const env = { TABLEMESH_HUB: `http://127.0.0.1:${hub.httpPort}`, TABLEMESH_TOKEN: hub.token };
  const status = await runCli(['status', '--on-hub', '--json'], { env });
  assert.equal(status.code, 0, status.stderr);
  const tls = status.json<{ mqtt: { tls?: number } }>().mqtt.tls;
  assert.ok(tls, 'the hub reports its TLS port');
  const edge = await kit.startEdge({
    name: 'edge9',
    hub,
    secret: 'not-the-secret-of-edge9',
    publish: ['alerts'],
    config: {
      hub: {
        url: `mqtts://127.0.0.1:${tls}`,
        ca: join(dir, 'ca.pem'),
        cert: join(dir, 'edge9.pem'),
        key: join(dir, 'edge9-key.pem'),
      },
    },
  });
  await edge.http.put('alerts', 'over-mtls', { level: 1 });
  const edgeEnv = { ...env, TABLEMESH_EDGE: `http://127.0.0.1:${edge.httpPort}` };
  const synced = await runCli(['sync', '--wait', '--timeout', '20s', '--json'], { env: edgeEnv });
  assert.equal(synced.code, 0, `${synced.stdout}${synced.stderr}\n${kit.tails()}`);
  const got = await runCli(['get', 'alerts', 'over-mtls', '--on-hub', '--json'], { env: edgeEnv });
  assert.equal(got.json<{ level: number }>().level, 1);
});
