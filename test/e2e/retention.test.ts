/**
 * Done when (issue 3), fourth item: the hub's feed retention is shorter than an edge's absence. The edge's cursor
 * is then behind the retained feed, so it re-baselines by snapshot (I13): records deleted meanwhile are deleted on
 * it, records changed meanwhile are changed, and its own writes made while away (not yet receipted) still
 * replicate. The hub trims every `maintenanceIntervalMs` (300 ms here) what is older than `feedRetention.ms`.
 */
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { type EdgeNode, useTestkit } from '@tablemesh/testkit';
import { backlog, putMany, sameDigest, strip } from './_helpers.ts';

const UNREACHABLE = 'mqtt://127.0.0.1:1'; // nothing listens on port 1: the edge runs offline

interface Variant {
  /** hub tombstoneRetentionMs; short: the hub collects the tombstones too, and the snapshot lacks them (I5) */
  readonly tombstoneRetentionMs?: number;
}

async function scenario(t: TestContext, variant: Variant): Promise<EdgeNode> {
  const kit = useTestkit(t);
  const hub = await kit.startHub({
    tables: [{ name: 'shared' }],
    nodes: [{ id: 'edgeA', publish: ['shared'], subscribe: ['shared'] }],
    config: {
      feedRetention: { ms: 1_500 },
      maintenanceIntervalMs: 300,
      ...(variant.tombstoneRetentionMs ? { tombstoneRetentionMs: variant.tombstoneRetentionMs } : {}),
    },
  });
  const a = await kit.startEdge({ name: 'edgeA', hub, publish: ['shared'], subscribe: ['shared'] });

  await putMany(hub.http, 'shared', 's', 20, (i) => ({ from: 'hub', i }));
  await putMany(a.http, 'shared', 'a', 5, (i) => ({ from: 'A', i }));
  await kit.waitFor(() => sameDigest('shared', [hub.http, a.http]), { message: 'first sync' });
  const headWhenLeft = (await hub.http.metrics()).get('tablemesh_feed_head', { table: 'data.shared' })!;
  assert.equal(headWhenLeft, 25);

  // A goes away (restarted with an unreachable hub). Meanwhile on the hub: deletes, an update, new records.
  await a.restart({ config: { hub: { url: UNREACHABLE } } });
  for (let i = 0; i < 5; i++) await hub.http.del('shared', `s${i}`);
  await hub.http.patch('shared', 's5', { hub: 2 });
  await putMany(hub.http, 'shared', 'n', 5, (i) => ({ from: 'hub', late: i }));
  // A writes while away: none of this can be receipted. (Written after the hub's deletes: a write stamped
  // at or below a collected tombstone to a key the hub lacks is refused as TM_BELOW_GC_HORIZON, I5.)
  await new Promise((r) => setTimeout(r, 5));
  await putMany(a.http, 'shared', 'p', 10, (i) => ({ from: 'A offline', i }));
  await a.http.patch('shared', 's10', { local: true });
  await a.http.del('shared', 'a4');
  await kit.waitFor(async () => (await backlog(a, 'shared')) === 12, { message: 'offline writes queued' });

  // The feed is trimmed past A's cursor.
  await kit.waitFor(
    async () => {
      const m = await hub.http.metrics();
      const trimmed = m.get('tablemesh_feed_oldest', { table: 'data.shared' })! > headWhenLeft + 1;
      const collected = m.sum('tablemesh_tombstones_collected_total') >= 5;
      return trimmed && (collected || !variant.tombstoneRetentionMs);
    },
    { timeoutMs: 10_000, message: "the hub trimming its feed past A's cursor (and collecting tombstones)" },
  );

  // A comes back: its cursor is behind the retained feed, so it takes a snapshot.
  const before = await a.http.metrics();
  await a.restart({ config: { hub: { url: undefined } } });
  await kit.waitFor(async () => (await backlog(a, 'shared')) === 0, {
    timeoutMs: 15_000,
    message: 'A drained',
  });
  const converged = await kit.waitFor(() => sameDigest('shared', [hub.http, a.http]), {
    timeoutMs: 15_000,
    message: 'A and the hub converged',
  });
  const after = await a.http.metrics();
  assert.ok(
    after.sum('tablemesh_subscriber_snapshot_pages_total') >
      before.sum('tablemesh_subscriber_snapshot_pages_total'),
    're-baselined by snapshot',
  );
  // 20 s + 5 a − a4 − s0…s4 + 10 p + 5 n = 34
  assert.equal(converged.count, 34);
  for (let i = 0; i < 5; i++)
    assert.equal(await a.http.get('shared', `s${i}`), undefined, `s${i} deleted on A`);
  assert.deepEqual(strip(await a.http.get('shared', 's5')), { id: 's5', from: 'hub', i: 5, hub: 2 });
  assert.deepEqual(strip(await a.http.get('shared', 'n4')), { id: 'n4', from: 'hub', late: 4 });
  // A's writes from its absence reached the hub.
  assert.deepEqual(strip(await hub.http.get('shared', 'p9')), { id: 'p9', from: 'A offline', i: 9 });
  assert.deepEqual(strip(await hub.http.get('shared', 's10')), {
    id: 's10',
    from: 'hub',
    i: 10,
    local: true,
  });
  assert.equal(await hub.http.get('shared', 'a4'), undefined);
  assert.equal(after.sum('tablemesh_quarantined'), 0);
  return a;
}

/** The edge's log line of the finished re-baseline: records removed and kept (I13). */
function rebaseline(a: EdgeNode): { removed: number; kept: number } {
  const line = a.grep('re-baselined by snapshot').at(-1);
  assert.ok(line, 'a re-baseline was logged');
  return { removed: Number(line['removed']), kept: Number(line['kept']) };
}

describe('feed retention shorter than an absence', { timeout: 60_000 }, () => {
  it('re-baselines by snapshot; deletes arrive as tombstones; unreceipted local writes still replicate', async (t) => {
    const a = await scenario(t, {});
    // The snapshot carried the 5 tombstones (merged); the 10 records A wrote while away were absent from it
    // and kept because they had unreceipted outbox entries.
    assert.deepEqual(rebaseline(a), { removed: 0, kept: 10 });
  });

  it('with the tombstones collected too (I5), the snapshot prunes the deleted records on the edge', async (t) => {
    const a = await scenario(t, { tombstoneRetentionMs: 1_000 });
    // s0…s4 were absent from the snapshot with stamps ≤ G: removed; the 10 unreceipted ones kept.
    assert.deepEqual(rebaseline(a), { removed: 5, kept: 10 });
  });
});
