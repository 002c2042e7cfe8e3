import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryKv, Store } from '@tablemesh/core';
import { pino } from 'pino';
import { startHttp } from '../src/http.js';

const TOKEN = 'hub-test-token-0123456789';

describe('hub http api', () => {
  it('always requires the bearer token except on /health', async () => {
    const store = await Store.open({ kv: new MemoryKv(), nodeId: 'hub', sync: false });
    await store.createTable({ name: 'thresholds' });
    const server = await startHttp({
      host: '127.0.0.1',
      port: 0,
      token: TOKEN,
      rest: { store, write: (w) => store.writeLocal(w), isReadOnly: () => false },
      health: () => ({ status: 'ok' }),
      metrics: () => 'tm_up 1\n',
      logger: pino({ level: 'silent' }),
    });
    const url = `http://127.0.0.1:${server.port}`;
    try {
      const put = (headers: Record<string, string>) =>
        fetch(`${url}/thresholds/t1`, { method: 'PUT', headers, body: JSON.stringify({ max: 30 }) });
      assert.equal((await put({})).status, 401);
      assert.equal((await store.query('thresholds')).length, 0);
      assert.equal((await put({ authorization: `Bearer ${TOKEN}` })).status, 200);
      const got = await fetch(`${url}/thresholds/t1`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(((await got.json()) as { max: number }).max, 30);
      assert.equal((await fetch(`${url}/health`)).status, 200);
      const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(await metrics.text(), 'tm_up 1\n');
    } finally {
      await server.close();
      await store.close();
    }
  });

  it('refuses to start without a token', async () => {
    const store = await Store.open({ kv: new MemoryKv(), nodeId: 'hub', sync: false });
    await assert.rejects(
      startHttp({
        host: '127.0.0.1',
        port: 0,
        token: '',
        rest: { store, write: (w) => store.writeLocal(w), isReadOnly: () => false },
        health: () => ({}),
        metrics: () => '',
        logger: pino({ level: 'silent' }),
      }),
      /requires a bearer token/,
    );
    await store.close();
  });
});
