/**
 * Authentication (broker/authenticate.ts) and node enrolment through the admin HTTP API (admin/): secrets,
 * no takeover by another identity, revoke / remove / rotate mid-stream. Every attack runs beside a Bystander.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeTransactionBatch, topics } from '@tablemesh/core';
import {
  Bystander,
  batchOf,
  closed,
  connectMqtt,
  end,
  publish,
  RawClient,
  ReceiptInbox,
  subscribe,
  txOf,
} from './helpers/clients.js';
import { SECRETS, startTestHub, type TestHub, TOKEN } from './helpers/hub.js';
import { waitFor } from './helpers/wait.js';

interface NodeView {
  id: string;
  source: string;
  publish: string[];
  subscribe: string[];
  hasSecret: boolean;
  connected: boolean;
}

describe('authentication and enrolment', () => {
  let t: TestHub;
  let url: string;
  const bys = () => t.count('data.bys');
  const bystander = () =>
    Bystander.start(
      { url: `mqtt://127.0.0.1:${t.port}`, clientId: 'bystander', password: SECRETS.bystander },
      bys,
    );
  const refusals = async (reason: string) =>
    (await t.metrics()).get(`tablemesh_mqtt_connections_refused_total{reason="${reason}"}`) ?? 0;

  before(async () => {
    t = await startTestHub({
      nodes: [
        { id: 'bystander', secret: SECRETS.bystander, publish: ['bys'] },
        { id: 'edgeA', secret: SECRETS.edgeA, publish: ['alerts'], subscribe: ['thresholds'] },
        { id: 'edgeB', secret: SECRETS.edgeB, publish: ['alerts'], subscribe: ['thresholds'] },
        { id: 'certOnly', publish: ['alerts'] }, // no secret: mTLS only
      ],
    });
    url = `mqtt://127.0.0.1:${t.port}`;
  });
  after(async () => {
    await t.stop();
  });

  it('wrong, missing or foreign secrets are refused (CONNACK 5) and never take over the connected node', async () => {
    const b = await bystander();
    const a = await connectMqtt({ url, clientId: 'edgeA', password: SECRETS.edgeA });
    const before = await refusals('bad_secret');
    const attempts: { password?: string; username?: string }[] = [
      { password: 'wrong-secret' },
      { password: SECRETS.edgeB }, // edgeB's valid secret for edgeA's client id
      { password: `${SECRETS.edgeA}x` },
      {}, // no password at all
      { username: 'edgeB', password: SECRETS.edgeB }, // edgeB's identity asking for edgeA's client id
    ];
    for (const attempt of attempts) {
      await assert.rejects(connectMqtt({ url, clientId: 'edgeA', ...attempt }), /Not authorized|code.*5/i);
    }
    assert.equal(await refusals('bad_secret'), before + 4);
    assert.equal(await refusals('username_mismatch'), 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(a.connected, 'the real edgeA keeps its connection (no takeover)');
    assert.deepEqual(await subscribe(a, [topics.receipt('edgeA')]), [1]);
    await end(a);
    await b.assertKeptReplicating();
  });

  it('unknown nodes, empty client ids and secret-less nodes without a certificate are refused', async () => {
    const b = await bystander();
    await assert.rejects(connectMqtt({ url, clientId: 'nobody', password: 'whatever-1' }), /Not authorized/i);
    // certOnly has no secret: over plain TCP (no certificate) it cannot authenticate.
    await assert.rejects(connectMqtt({ url, clientId: 'certOnly' }), /Not authorized/i);
    await assert.rejects(
      connectMqtt({ url, clientId: 'certOnly', password: 'anything-1' }),
      /Not authorized/i,
    );
    assert.equal(await refusals('no_credentials'), 2);
    const raw = await RawClient.open(t.port);
    assert.equal(await raw.connect('', SECRETS.edgeA), 2, 'empty client id: identifier rejected');
    await raw.waitClosed();
    assert.equal(await refusals('empty_client_id'), 1);
    await b.assertKeptReplicating();
  });

  it('the admin API needs the bearer token and never shows a stored secret', async () => {
    assert.equal((await t.api('GET', '/_admin/nodes', undefined, 'not-the-token-0123456789')).status, 401);
    assert.equal((await fetch(`${t.httpUrl}/_admin/nodes`)).status, 401);
    const list = await t.api('GET', '/_admin/nodes');
    assert.equal(list.status, 200);
    const nodes = (list.body as { nodes: NodeView[] }).nodes;
    assert.deepEqual(
      nodes.map((n) => [n.id, n.source, n.hasSecret]),
      [
        ['bystander', 'config', true],
        ['certOnly', 'config', false],
        ['edgeA', 'config', true],
        ['edgeB', 'config', true],
      ],
    );
    assert.ok(!JSON.stringify(list.body).includes(SECRETS.edgeA), 'no secret in the listing');
    assert.ok(!JSON.stringify(list.body).includes('scrypt'), 'no hash in the listing');
    // Config nodes are read-only here: the file is their source of truth.
    const grant = await t.api('POST', '/_admin/nodes/edgeA/grant', { table: 'thresholds', publish: true });
    assert.equal(grant.status, 409);
    assert.equal((grant.body as { code: string }).code, 'TM_CONFIG_NODE');
    assert.equal((await t.api('DELETE', '/_admin/nodes/edgeA')).status, 409);
    assert.equal((await t.api('POST', '/_admin/nodes', { id: 'edgeA' })).status, 409);
    assert.equal((await t.api('POST', '/_admin/nodes', { id: 'bad/name' })).status, 400);
    assert.equal((await t.api('POST', '/_admin/nodes', { id: 'hub' })).status, 400);
    assert.equal((await t.api('POST', '/_admin/nodes', { id: 'x1', publish: 'alerts' })).status, 400);
    assert.equal((await t.api('GET', '/_admin/nodes/ghost')).status, 404);
    assert.equal((await t.api('POST', '/_admin/nodes/ghost/rotate')).status, 404);
    assert.equal(TOKEN.length > 16, true);
  });

  it('enrol → connect with the secret shown once; revoke mid-stream disconnects at once and nothing more is applied', async () => {
    const b = await bystander();
    const added = await t.api('POST', '/_admin/nodes', { id: 'edgeC', publish: ['alerts'], subscribe: [] });
    assert.equal(added.status, 201);
    const { node, secret } = added.body as { node: NodeView; secret: string };
    assert.deepEqual(node.publish, ['data.alerts']);
    assert.ok(secret.length >= 40);
    const shown = await t.api('GET', '/_admin/nodes/edgeC');
    assert.ok(!JSON.stringify(shown.body).includes(secret), 'the secret is never shown again');

    const c = await connectMqtt({ url, clientId: 'edgeC', password: secret });
    const inbox = new ReceiptInbox(c, 'edgeC');
    await subscribe(c, [topics.receipt('edgeC')]);
    await waitFor(
      async () => ((await t.api('GET', '/_admin/nodes/edgeC')).body as { node: NodeView }).node.connected,
      'edgeC shown as connected',
    );
    // Stream transactions until the revoke cuts the connection.
    let seq = 0;
    let streaming = true;
    const stream = (async () => {
      while (streaming && c.connected) {
        seq++;
        const batch = batchOf('edgeC', 'data.alerts', 'c1', [
          txOf('edgeC', 'data.alerts', 'c1', seq, `c-${seq}`),
        ]);
        c.publish(topics.up('edgeC', 'data.alerts'), Buffer.from(encodeTransactionBatch(batch)), { qos: 1 });
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await inbox.next((r) => r.appliedThrough >= 20);
    const revoked = await t.api('POST', '/_admin/nodes/edgeC/revoke', { table: 'alerts', publish: true });
    assert.equal(revoked.status, 200);
    assert.deepEqual((revoked.body as { node: NodeView }).node.publish, []);
    await closed(c, 1_000); // at once
    streaming = false;
    await stream;
    await new Promise((r) => setTimeout(r, 200)); // anything still queued at the hub has been handled
    const applied = await countOf(t, 'c-');
    assert.ok(applied >= 20 && applied <= seq, `applied ${applied} of ${seq}`);

    // Reconnecting works (the node is still enrolled) but publishing is refused transiently: nothing applied.
    const c2 = await connectMqtt({ url, clientId: 'edgeC', password: secret });
    const inbox2 = new ReceiptInbox(c2, 'edgeC');
    await subscribe(c2, [topics.receipt('edgeC')]);
    const next = batchOf('edgeC', 'data.alerts', 'c1', [
      txOf('edgeC', 'data.alerts', 'c1', applied + 1, 'after-revoke'),
    ]);
    await publish(c2, topics.up('edgeC', 'data.alerts'), encodeTransactionBatch(next));
    const refusal = await inbox2.next((r) => r.code === 'TM_NOT_GRANTED');
    assert.equal(refusal.errorKind, 'transient');
    assert.equal(await countOf(t, 'c-'), applied);
    assert.equal(await t.hub.store!.get('data.alerts', 'after-revoke'), undefined);

    // Remove: disconnected at once, and refused from then on.
    assert.equal((await t.api('DELETE', '/_admin/nodes/edgeC')).status, 200);
    await closed(c2, 1_000);
    await assert.rejects(connectMqtt({ url, clientId: 'edgeC', password: secret }), /Not authorized/i);
    await end(c2);
    await b.assertKeptReplicating();
  });

  it('rotate: the old secret stops working at once, the connected node is cut, the new secret works; enrolment survives a restart', async () => {
    const added = await t.api('POST', '/_admin/nodes', { id: 'edgeD', publish: ['alerts'] });
    const first = (added.body as { secret: string }).secret;
    const d = await connectMqtt({ url, clientId: 'edgeD', password: first });
    const rotated = await t.api('POST', '/_admin/nodes/edgeD/rotate');
    assert.equal(rotated.status, 200);
    const second = (rotated.body as { secret: string }).secret;
    assert.notEqual(second, first);
    await closed(d, 1_000);
    await end(d);
    await assert.rejects(connectMqtt({ url, clientId: 'edgeD', password: first }), /Not authorized/i);
    await end(await connectMqtt({ url, clientId: 'edgeD', password: second }));
    // Grants and the hashed secret are in the hub store.
    const granted = await t.api('POST', '/_admin/nodes/edgeD/grant', {
      table: 'thresholds',
      subscribe: true,
    });
    assert.deepEqual((granted.body as { node: NodeView }).node.subscribe, ['data.thresholds']);
    await t.restart();
    url = `mqtt://127.0.0.1:${t.port}`;
    const after = ((await t.api('GET', '/_admin/nodes/edgeD')).body as { node: NodeView }).node;
    assert.deepEqual([after.publish, after.subscribe], [['data.alerts'], ['data.thresholds']]);
    await assert.rejects(connectMqtt({ url, clientId: 'edgeD', password: first }), /Not authorized/i);
    const again = await connectMqtt({ url, clientId: 'edgeD', password: second });
    assert.deepEqual(await subscribe(again, [topics.feed('data.thresholds')]), [1]);
    await end(again);
  });
});

async function countOf(t: TestHub, prefix: string): Promise<number> {
  const rows = await t.hub.store!.query('data.alerts');
  return rows.filter((r) => String(r['id']).startsWith(prefix)).length;
}
