/**
 * Done when (issue 3), fifth item — refusals (I11, I3):
 * - poison: a record over the hub's maxRecordBytes (the edge allows larger ones) is refused for its content; the
 *   hub consumes its seq with an error receipt, the edge quarantines it with its code, and the next transactions
 *   still flow;
 * - transient: a table the node is not granted, then granted (hub restarted with the new grant), and an edge
 *   clock ahead of the hub by more than maxClockSkewMs, hold the outbox, show in `/metrics` (tablemesh_held)
 *   and flow once resolved, with nothing lost and nothing quarantined.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findLibFaketime, readQuarantine, useTestkit } from '@tablemesh/testkit';
import { backlog, putMany, sameDigest, strip } from './_helpers.ts';

const UNREACHABLE = 'mqtt://127.0.0.1:1';

describe('refusals: poison is quarantined, transient holds', { timeout: 60_000 }, () => {
  it('quarantines a record over the hub maxRecordBytes with its code; the next transactions flow', async (t) => {
    const kit = useTestkit(t);
    const hub = await kit.startHub({
      nodes: [
        { id: 'edgeA', publish: ['alerts'] },
        { id: 'edgeB', subscribe: ['alerts'] },
      ],
      config: { limits: { maxRecordBytes: 2_048 } },
    });
    const a = await kit.startEdge({ name: 'edgeA', hub, publish: ['alerts'] }); // edge limit: 128 KiB
    const b = await kit.startEdge({ name: 'edgeB', hub, subscribe: ['alerts'] });

    await a.http.put('alerts', 'ok0', { n: 0 });
    await a.http.put('alerts', 'big', { blob: 'x'.repeat(5_000) });
    await putMany(a.http, 'alerts', 'ok', 5, (i) => ({ n: i }), 1); // one at a time: seqs after the poison
    await a.http.patch('alerts', 'ok0', { after: true });

    await kit.waitFor(async () => (await backlog(a, 'alerts')) === 0, {
      message: 'outbox drained past the poison',
    });
    await kit.waitFor(
      async () =>
        (await hub.http.digest('alerts')).count === 5 && (await hub.http.get('alerts', 'ok0'))?.['after'],
      { message: 'the transactions after the poison on the hub' },
    );
    assert.equal(await hub.http.get('alerts', 'big'), undefined);
    await kit.waitFor(() => sameDigest('alerts', [hub.http, b.http]), { message: 'B has what the hub has' });
    const metrics = await kit.waitFor(async () => {
      const m = await a.http.metrics();
      return m.get('tablemesh_quarantined', { table: 'data.alerts' }) === 1 ? m : false;
    });
    assert.equal(metrics.sum('tablemesh_held'), 0);
    assert.equal((await hub.http.metrics()).get('tablemesh_poison_total'), 1);
    // The edge still holds its own record (a local write is never undone by a refusal).
    assert.equal(String((await a.http.get('alerts', 'big'))?.['blob']).length, 5_000);

    await a.stop();
    const quarantined = await readQuarantine(a.storeDir, 'edgeA', 'alerts');
    assert.equal(quarantined.length, 1);
    assert.equal(quarantined[0]!.code, 'TM_RECORD_TOO_LARGE');
    assert.equal(quarantined[0]!.seq, 2);
    assert.deepEqual(
      quarantined[0]!.txn.ops.map((op) => op.key),
      ['big'],
    );
  });

  it('holds a table that is not granted, then delivers it all once the hub grants it', async (t) => {
    const kit = useTestkit(t);
    const grant = (tables: string[]) => [{ id: 'edgeA', publish: tables }];
    const hub = await kit.startHub({ nodes: grant(['alerts']) });
    const a = await kit.startEdge({ name: 'edgeA', hub, publish: ['alerts', 'extra'] });

    await putMany(a.http, 'extra', 'e', 20, (i) => ({ i }));
    await putMany(a.http, 'alerts', 'al', 5, (i) => ({ i }));
    // alerts flow; extra is held with the reason in /metrics, nothing quarantined.
    await kit.waitFor(async () => (await hub.http.digest('alerts')).count === 5, {
      message: 'alerts on the hub',
    });
    await kit.waitFor(
      async () =>
        (await a.http.metrics()).get('tablemesh_held', { table: 'data.extra', code: 'TM_NOT_GRANTED' }) === 1,
      { message: 'extra held as TM_NOT_GRANTED' },
    );
    assert.equal(
      (await hub.http.request('GET', '/_digest/extra')).status,
      404,
      'nothing of extra reached the hub',
    );
    await putMany(a.http, 'extra', 'late', 5, (i) => ({ i })); // still accepted locally while held
    await kit.waitFor(async () => (await backlog(a, 'extra')) === 25, { message: 'all of extra queued' });
    assert.equal((await a.http.metrics()).sum('tablemesh_quarantined'), 0);

    // The operator grants the table; the hub restarts with it. The hold is released and everything arrives.
    hub.setNodes(grant(['alerts', 'extra']));
    await hub.restart();
    await kit.waitFor(async () => (await backlog(a, 'extra')) === 0, {
      timeoutMs: 20_000,
      message: 'extra delivered after the grant',
    });
    const extra = await kit.waitFor(() => sameDigest('extra', [hub.http, a.http]), {
      message: 'extra equal',
    });
    assert.equal(extra.count, 25);
    const m = await kit.waitFor(
      async () => {
        const x = await a.http.metrics();
        return x.sum('tablemesh_held') === 0 ? x : false;
      },
      { message: 'no hold left' },
    );
    assert.equal(m.sum('tablemesh_quarantined'), 0);
  });

  it('holds writes stamped ahead of the hub clock (TM_CLOCK_AHEAD) and delivers them once the hub catches up', async (t) => {
    if (!findLibFaketime()) {
      t.skip('libfaketime is not installed (apt-get install faketime)');
      return;
    }
    const kit = useTestkit(t);
    const hub = await kit.startHub({
      nodes: [{ id: 'edgeC', publish: ['clocked'] }],
      config: { maxClockSkewMs: 2_000 },
    });
    // Edge C's clock runs 8 s ahead. It writes before it ever talks to the hub (no wall offset yet, I3), so
    // its HLC — persisted, never going back (I1) — is ~6 s beyond what the hub accepts.
    const c = await kit.startEdge({
      name: 'edgeC',
      hub,
      publish: ['clocked'],
      fakeTime: { offset: '+8s' },
      config: { hub: { url: UNREACHABLE } },
    });
    await putMany(c.http, 'clocked', 'c', 10, (i) => ({ i }));
    await c.restart({ config: { hub: { url: undefined } } });
    const heldSeen = await kit.waitFor(
      async () =>
        (await c.http.metrics()).get('tablemesh_held', { table: 'data.clocked', code: 'TM_CLOCK_AHEAD' }) ===
        1,
      { timeoutMs: 5_000, intervalMs: 100, message: 'clocked held as TM_CLOCK_AHEAD' },
    );
    assert.ok(heldSeen);
    await putMany(c.http, 'clocked', 'd', 5, (i) => ({ i })); // accepted locally while held
    // The hub created the granted table on the first batch (SPEC §5) but applied nothing of it.
    assert.equal((await hub.http.digest('clocked')).count, 0, 'nothing applied yet');
    // I3: the hub never advanced its clock from the refused stamps: its own writes carry its wall time.
    const own = (await hub.http.put('mine', 'x', { v: 1 }).catch(() => undefined)) as
      | { stamp?: { wall: number } }
      | undefined;
    if (own?.stamp) assert.ok(own.stamp.wall < Date.now() + 1_000, 'hub clock not advanced by C');

    await kit.waitFor(async () => (await backlog(c, 'clocked')) === 0, {
      timeoutMs: 20_000,
      message: 'clocked delivered once the hub clock caught up',
    });
    const clocked = await kit.waitFor(() => sameDigest('clocked', [hub.http, c.http]), {
      message: 'clocked equal',
    });
    assert.equal(clocked.count, 15);
    assert.deepEqual(strip(await hub.http.get('clocked', 'c9')), { id: 'c9', i: 9 });
    const m = await kit.waitFor(async () => {
      const x = await c.http.metrics();
      return x.sum('tablemesh_held') === 0 ? x : false;
    });
    assert.equal(m.sum('tablemesh_quarantined'), 0);
    assert.ok((await hub.http.metrics()).get('tablemesh_transient_total')! >= 1);
  });
});
