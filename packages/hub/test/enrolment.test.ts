import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isTmError, LevelKv, Store } from '@tablemesh/core';
import { Enrolment } from '../src/admin/enrolment.js';
import { hashSecret, isValidStoredSecret, SecretVerifier, verifySecret } from '../src/admin/secrets.js';
import { parseHubConfig } from '../src/config.js';
import { Grants } from '../src/grants.js';

describe('secrets', () => {
  it('stores scrypt hashes and checks them in constant time; plain config secrets still work', async () => {
    const hash = await hashSecret('s3cret-value');
    assert.match(hash, /^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]{43}$/);
    assert.notEqual(await hashSecret('s3cret-value'), hash, 'salted');
    assert.equal(await verifySecret(hash, Buffer.from('s3cret-value')), true);
    assert.equal(await verifySecret(hash, Buffer.from('s3cret-valuf')), false);
    assert.equal(await verifySecret(hash, undefined), false);
    assert.equal(await verifySecret('plain-secret', Buffer.from('plain-secret')), true);
    assert.equal(await verifySecret('plain-secret', Buffer.from('plain-secreT')), false);
    assert.equal(await verifySecret('scrypt$1$1$1$x$y', Buffer.from('x')), false, 'malformed hash');
    assert.equal(isValidStoredSecret('scrypt$16384$8$1$abc$def'), false);
    assert.equal(isValidStoredSecret(hash), true);
  });

  it('remembers a proven secret (one scrypt per node), never a wrong one, and forgets on demand', async () => {
    const v = new SecretVerifier();
    const hash = await hashSecret('right-secret');
    assert.equal(await v.verify('n1', hash, Buffer.from('right-secret')), true);
    assert.equal(await v.verify('n1', hash, Buffer.from('right-secret')), true);
    assert.equal(v.slowChecks, 1);
    assert.equal(await v.verify('n1', hash, Buffer.from('wrong-secret')), false);
    assert.equal(await v.verify('n1', hash, Buffer.from('wrong-secret')), false);
    assert.equal(v.slowChecks, 3, 'a wrong secret always pays scrypt');
    const rotated = await hashSecret('new-secret');
    assert.equal(await v.verify('n1', rotated, Buffer.from('right-secret')), false, 'memo bound to the hash');
    v.forget('n1');
    assert.equal(await v.verify('n1', hash, Buffer.from('right-secret')), true);
    assert.equal(v.slowChecks, 5);
  });

  it('the hub config refuses a malformed scrypt hash as a node secret', () => {
    assert.throws(
      () =>
        parseHubConfig({
          dataDir: '/tmp/x',
          http: { token: 'token-0123456789abcdef' },
          nodes: [{ id: 'e1', secret: 'scrypt$1$2$3$nope$nope' }],
        }),
      /nodes\[0\]\.secret: looks like a scrypt hash/,
    );
  });
});

describe('enrolment store', () => {
  async function withStore(fn: (open: () => Promise<Store>) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'tm-enrol-'));
    try {
      await fn(() => Store.open({ kv: new LevelKv(dir), nodeId: 'hub', sync: false }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('add / grant / revoke / rotate / remove persist, update grants, and cut connections when rights shrink', async () => {
    await withStore(async (open) => {
      const disconnected: string[] = [];
      const deps = { hubNodeId: 'hub', disconnect: (n: string) => disconnected.push(n) };
      const config = [{ id: 'cfg1', secret: 'config-secret', publish: ['data.alerts'], subscribe: [] }];
      let store = await open();
      let grants = new Grants([]);
      let e = await Enrolment.open(store, grants, config, deps);
      const { secret } = await e.add('n1', { publish: ['alerts'], subscribe: ['thresholds'] });
      assert.equal(grants.canPublish('n1', 'data.alerts'), true);
      assert.match(grants.secretOf('n1')!, /^scrypt\$/);
      assert.equal(await verifySecret(grants.secretOf('n1')!, Buffer.from(secret)), true);
      assert.deepEqual(disconnected, []);

      await e.grant('n1', 'shared', { publish: true });
      assert.deepEqual(disconnected, [], 'a new publish grant needs no reconnect');
      await e.grant('n1', 'shared', { subscribe: true });
      assert.deepEqual(disconnected, ['n1'], 'a new subscribe grant reconnects (fresh welcome)');
      const g0 = e.generation('n1');
      await e.revoke('n1', 'data.shared', { publish: true });
      assert.equal(grants.canPublish('n1', 'data.shared'), false);
      assert.equal(grants.canSubscribe('n1', 'data.shared'), true);
      assert.equal(e.generation('n1'), g0 + 1);
      assert.deepEqual(disconnected, ['n1', 'n1']);
      await e.revoke('n1', 'data.nothing');
      assert.deepEqual(disconnected, ['n1', 'n1'], 'revoking nothing changes nothing');

      await assert.rejects(e.add('n1'), (err: unknown) => isTmError(err, 'TM_NODE_EXISTS'));
      await assert.rejects(e.grant('cfg1', 'x'), (err: unknown) => isTmError(err, 'TM_CONFIG_NODE'));
      await assert.rejects(e.add('no/slash'), /invalid node name/);
      await assert.rejects(e.add('hub'), /hub's own node id/);
      await assert.rejects(e.rotate('ghost'), /no node 'ghost'/);

      // Reopen: everything is in the hub store.
      await store.close();
      store = await open();
      grants = new Grants([]);
      e = await Enrolment.open(store, grants, config, deps);
      assert.deepEqual(
        e.list().map((n) => [n.id, n.source, n.publish, n.subscribe]),
        [
          ['cfg1', 'config', ['data.alerts'], []],
          ['n1', 'admin', ['data.alerts'], ['data.shared', 'data.thresholds']],
        ],
      );
      const before = grants.secretOf('n1');
      const rotated = await e.rotate('n1');
      assert.notEqual(grants.secretOf('n1'), before);
      assert.equal(await verifySecret(grants.secretOf('n1')!, Buffer.from(secret)), false);
      assert.equal(await verifySecret(grants.secretOf('n1')!, Buffer.from(rotated.secret)), true);
      await e.remove('n1');
      assert.equal(grants.has('n1'), false);
      assert.deepEqual(disconnected, ['n1', 'n1', 'n1', 'n1']);
      await store.close();
      store = await open();
      e = await Enrolment.open(store, new Grants([]), config, deps);
      assert.deepEqual(
        e.list().map((n) => n.id),
        ['cfg1'],
      );
      await store.close();
    });
  });
});
