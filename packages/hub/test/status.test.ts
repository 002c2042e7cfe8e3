import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IngestStats, type RestRequest } from '@tablemesh/core';
import { makeHubStatus } from '../src/status.ts';

describe('hub status route', () => {
  it('GET /_status: nodes with last seen, per-table feed head and tx/s over the window', async () => {
    let t = 1_000_000;
    const heads = new Map([['data.alerts', 10]]);
    const stats = new IngestStats();
    stats.applied = 7;
    const status = makeHubStatus({
      nodeId: 'hub',
      store: { epoch: 'h1', listTables: () => [{ name: 'data.alerts' }] as never },
      feed: { head: (x) => heads.get(x) ?? 0, oldest: () => 1 },
      enrolment: {
        list: () => [
          { id: 'edge1', source: 'admin', publish: ['data.alerts'], subscribe: [], hasSecret: true },
          { id: 'edge2', source: 'config', publish: [], subscribe: ['data.alerts'], hasSecret: true },
        ],
      },
      connected: new Set(['edge1']),
      lastSeen: new Map([['edge1', 999_000]]),
      stats,
      ports: () => ({ tcp: 1883 }),
      now: () => t,
    });
    clearInterval(status.timer);
    const handler = status.wrap(async () => ({ status: 418 }));
    const req = (method: string, path: string): RestRequest => ({
      method,
      path,
      query: new URLSearchParams(),
      headers: {},
      body: undefined,
    });
    // the sampler: one sample at start; emulate the timer with two more
    t += 1_000;
    heads.set('data.alerts', 30);
    status.sample();
    const body = (await handler(req('GET', '/_status'))).body as Record<string, unknown>;
    assert.equal(body['role'], 'hub');
    assert.equal(body['hubEpoch'], 'h1');
    assert.deepEqual(body['mqtt'], { tcp: 1883 });
    assert.equal(body['connectedNodes'], 1);
    assert.deepEqual(body['nodes'], [
      {
        id: 'edge1',
        enrolled: true,
        connected: true,
        lastSeenAgeMs: 2_000,
        publish: ['data.alerts'],
        subscribe: [],
      },
      {
        id: 'edge2',
        enrolled: true,
        connected: false,
        lastSeenAgeMs: null,
        publish: [],
        subscribe: ['data.alerts'],
      },
    ]);
    assert.deepEqual(body['tables'], [
      { table: 'data.alerts', feedHead: 30, feedOldest: 1, txPerSec: 20, rateWindowMs: 10_000 },
    ]);
    assert.equal((body['ingest'] as { applied: number }).applied, 7);
    assert.equal((await handler(req('POST', '/_status'))).status, 405);
    assert.equal((await handler(req('GET', '/data.alerts/1'))).status, 418, 'other paths go through');
  });
});
