/**
 * TLS and mutual TLS listeners (broker/listeners.ts): a client certificate signed by the hub's CA whose CN is
 * the client id authenticates the node; no certificate, another CA, an expired certificate or another CN are
 * refused. Also wss with mTLS, plain ws with its payload limit, and the TLS handshake timeout. A Bystander over
 * mTLS keeps replicating throughout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeTransactionBatch, topics } from '@tablemesh/core';
import { makeTestPki, type TestPki } from './helpers/certs.js';
import {
  Bystander,
  batchOf,
  type ClientOptions,
  closed,
  connectMqtt,
  end,
  publish,
  RawClient,
  ReceiptInbox,
  subscribe,
  txOf,
} from './helpers/clients.js';
import { SECRETS, startTestHub, type TestHub } from './helpers/hub.js';

describe('TLS, mutual TLS and WebSocket listeners', () => {
  let pkiDir: string;
  let pki: TestPki;
  let t: TestHub;
  const bys = () => t.count('data.bys');
  const metric = async (name: string) => (await t.metrics()).get(name) ?? 0;
  const mtls = (clientId: string, cert = pki.client(clientId), ca = pki.ca): ClientOptions => ({
    url: `mqtts://127.0.0.1:${t.ports.tls}`,
    clientId,
    ca,
    cert: cert.cert,
    key: cert.key,
  });

  before(async () => {
    pkiDir = mkdtempSync(join(tmpdir(), 'tm-pki-'));
    pki = makeTestPki(pkiDir);
    t = await startTestHub({
      mqtt: {
        tls: {
          port: 0,
          cert: pki.server.cert,
          key: pki.server.key,
          ca: pki.ca,
          requestCert: true,
          handshakeTimeoutMs: 500,
        },
        ws: { port: 0, secure: true },
      },
      nodes: [
        { id: 'bystander', publish: ['bys'] }, // certificate only
        { id: 'edgeA', secret: SECRETS.edgeA, publish: ['alerts'], subscribe: ['thresholds'] },
        { id: 'edgeB', publish: ['alerts'] },
      ],
    });
  });
  after(async () => {
    await t.stop();
    rmSync(pkiDir, { recursive: true, force: true });
  });

  it('mTLS: no certificate, another CA, an expired certificate and CN ≠ client id are refused; the right certificate is enough', async () => {
    const b = await Bystander.start(mtls('bystander'), bys);
    const failuresBefore = await metric('tablemesh_mqtt_connections_refused_total{reason="tls_failed"}');
    // No certificate (even with the right secret).
    await assert.rejects(
      connectMqtt({
        url: `mqtts://127.0.0.1:${t.ports.tls}`,
        clientId: 'edgeA',
        password: SECRETS.edgeA,
        ca: pki.ca,
      }),
    );
    // A certificate for edgeA signed by another CA.
    await assert.rejects(connectMqtt(mtls('edgeA', pki.client('edgeA', { otherCa: true }))));
    // An expired certificate for edgeA from the right CA.
    await assert.rejects(connectMqtt(mtls('edgeA', pki.client('edgeA', { expired: true }))));
    const failures =
      (await metric('tablemesh_mqtt_connections_refused_total{reason="tls_failed"}')) - failuresBefore;
    assert.equal(failures, 3, 'three failed handshakes');
    // A valid certificate whose CN is edgeB, asking for client id edgeA — with edgeA's secret, even.
    await assert.rejects(
      connectMqtt({ ...mtls('edgeA', pki.client('edgeB')), password: SECRETS.edgeA }),
      /Not authorized/i,
    );
    assert.equal(await metric('tablemesh_mqtt_connections_refused_total{reason="cert_cn_mismatch"}'), 1);
    // The right certificate authenticates edgeB, which has no secret at all.
    const ok = await connectMqtt(mtls('edgeB'));
    const inbox = new ReceiptInbox(ok, 'edgeB');
    await subscribe(ok, [topics.receipt('edgeB')]);
    const batch = batchOf('edgeB', 'data.alerts', 'tb', [txOf('edgeB', 'data.alerts', 'tb', 1, 'via-mtls')]);
    await publish(ok, topics.up('edgeB', 'data.alerts'), encodeTransactionBatch(batch));
    assert.equal((await inbox.next((r) => r.epoch === 'tb')).appliedThrough, 1);
    await end(ok);
    assert.equal(await t.hub.store!.get('data.alerts', 'via-mtls').then((r) => r?.['id']), 'via-mtls');
    await b.assertKeptReplicating();
  });

  it('wss with mTLS: the certificate authenticates, no certificate is refused', async () => {
    const b = await Bystander.start(mtls('bystander'), bys);
    const wss = (o: ClientOptions): ClientOptions => ({ ...o, url: `wss://127.0.0.1:${t.ports.ws}/mqtt` });
    const client = await connectMqtt(wss(mtls('edgeB')));
    assert.deepEqual(await subscribe(client, [topics.receipt('edgeB'), '#']), [1, 128]);
    await end(client);
    await assert.rejects(
      connectMqtt({ url: `wss://127.0.0.1:${t.ports.ws}/mqtt`, clientId: 'edgeB', ca: pki.ca }),
    );
    await assert.rejects(connectMqtt(wss(mtls('edgeA', pki.client('edgeB')))), /Not authorized/i);
    await b.assertKeptReplicating();
  });

  it('a TLS client that never finishes its handshake is dropped after handshakeTimeoutMs', async () => {
    const b = await Bystander.start(mtls('bystander'), bys);
    const before = await metric('tablemesh_mqtt_connections_refused_total{reason="tls_handshake_timeout"}');
    const started = Date.now();
    const idle = await Promise.all([1, 2, 3].map(() => RawClient.open(t.ports.tls!))); // TCP only, no ClientHello
    await Promise.all(idle.map((c) => c.waitClosed(3_000)));
    const took = Date.now() - started;
    assert.ok(took >= 400 && took < 2_500, `closed after ${took} ms (handshakeTimeoutMs 500)`);
    assert.equal(
      await metric('tablemesh_mqtt_connections_refused_total{reason="tls_handshake_timeout"}'),
      before + 3,
    );
    await b.assertKeptReplicating();
  });

  it('the TLS listener speaks TLS ≥ 1.2 only and serves the configured certificate', async () => {
    const tls = await import('node:tls');
    const socket = tls.connect({
      host: '127.0.0.1',
      port: t.ports.tls!,
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.client('edgeB').cert),
      key: readFileSync(pki.client('edgeB').key),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    assert.ok(['TLSv1.2', 'TLSv1.3'].includes(socket.getProtocol() ?? ''));
    assert.equal(socket.getPeerCertificate().subject.CN, 'localhost');
    socket.destroy();
  });
});

describe('plain WebSocket listener', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({
      mqtt: { ws: { port: 0 } },
      limits: { maxPacketBytes: '64KiB', maxTxBytes: '32KiB', maxRecordBytes: '16KiB' },
      catchupPage: { bytes: '32KiB' },
    });
  });
  after(async () => {
    await t.stop();
  });

  it('replicates over ws://, and a packet over the limit ends only that connection', async () => {
    const bys = () => t.count('data.bys');
    const b = await Bystander.start(
      { url: `mqtt://127.0.0.1:${t.port}`, clientId: 'bystander', password: SECRETS.bystander },
      bys,
    );
    const url = `ws://127.0.0.1:${t.ports.ws}/mqtt`;
    const a = await connectMqtt({ url, clientId: 'edgeA', password: SECRETS.edgeA });
    const inbox = new ReceiptInbox(a, 'edgeA');
    await subscribe(a, [topics.receipt('edgeA')]);
    const batch = batchOf('edgeA', 'data.alerts', 'w1', [txOf('edgeA', 'data.alerts', 'w1', 1, 'via-ws')]);
    await publish(a, topics.up('edgeA', 'data.alerts'), encodeTransactionBatch(batch));
    assert.equal((await inbox.next((r) => r.epoch === 'w1')).appliedThrough, 1);
    // 100 KiB in one MQTT packet (one WebSocket frame): over both maxPayload and the packet limit.
    a.publish(topics.up('edgeA', 'data.alerts'), Buffer.alloc(100 * 1024, 1), { qos: 1 });
    await closed(a);
    await end(a);
    assert.equal(await t.count('data.alerts'), 1);
    await b.assertKeptReplicating();
  });
});
