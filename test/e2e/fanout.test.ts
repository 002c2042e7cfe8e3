/**
 * Done when (issue 3), first item: hub + 2 edges as real processes. Edge A publishes `alerts` → the hub stores
 * them → edge B (subscribed) gets them; the hub writes `thresholds` → both edges get them; A and B both publish
 * and subscribe `shared` and converge with the hub (same digest, I4) under concurrent writes to the same keys.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EdgeNode, type HubNode, type Testkit, useTestkit } from '@tablemesh/testkit';
import { backlog, pool, rng, strip } from './_helpers.ts';

const SECRET_A = 'edgeA-secret-1';
const SECRET_B = 'edgeB-secret-1';

async function cluster(kit: Testkit): Promise<{ hub: HubNode; a: EdgeNode; b: EdgeNode }> {
  const hub = await kit.startHub({
    tables: [{ name: 'thresholds' }, { name: 'shared' }],
    nodes: [
      { id: 'edgeA', secret: SECRET_A, publish: ['alerts', 'shared'], subscribe: ['thresholds', 'shared'] },
      { id: 'edgeB', secret: SECRET_B, publish: ['shared'], subscribe: ['thresholds', 'alerts', 'shared'] },
    ],
  });
  const [a, b] = await Promise.all([
    kit.startEdge({
      name: 'edgeA',
      hub,
      secret: SECRET_A,
      publish: ['alerts', 'shared'],
      subscribe: ['thresholds', 'shared'],
    }),
    kit.startEdge({
      name: 'edgeB',
      hub,
      secret: SECRET_B,
      publish: ['shared'],
      // `now` (the product default): alerts does not exist on the hub yet, so everything in it is after now.
      subscribe: ['thresholds', { table: 'alerts', start: 'now' }, 'shared'],
    }),
  ]);
  return { hub, a, b };
}

describe('replication fan-out and convergence (hub + 2 edges)', { timeout: 60_000 }, () => {
  it('alerts go A → hub → B, thresholds hub → A and B, shared converges under concurrent writes', async (t) => {
    const kit = useTestkit(t);
    const { hub, a, b } = await cluster(kit);

    // Edge A publishes alerts; the hub stores them; B, subscribed to alerts, gets them. B subscribed with
    // `now` before the table existed on the hub (it asked and was told TM_UNKNOWN_TABLE): all of it is after now.
    await kit.waitFor(
      () => b.grep((l) => l['table'] === 'data.alerts' && l['code'] === 'TM_UNKNOWN_TABLE').length > 0,
      {
        message: "B's subscription to alerts refused as TM_UNKNOWN_TABLE",
      },
    );
    const alerts = Array.from({ length: 20 }, (_, i) => ({
      id: `al${i}`,
      sensor: `s${i % 3}`,
      value: 100 + i,
    }));
    await a.http.batch([{ table: 'alerts', ops: alerts.map((x) => ({ kind: 'put', key: x.id, attrs: x })) }]);
    await a.http.put('alerts', 'single', { sensor: 's9', value: 1 });
    const expected = await a.http.digest('alerts');
    assert.equal(expected.count, 21);
    await kit.waitFor(async () => (await hub.http.digest('alerts')).digest === expected.digest, {
      message: 'alerts on the hub',
    });
    await kit.waitFor(async () => (await b.http.digest('alerts')).digest === expected.digest, {
      message: 'alerts on edge B',
    });
    assert.deepEqual(strip(await b.http.get('alerts', 'al7')), { id: 'al7', sensor: 's1', value: 107 });
    // alerts is subscribe-only on B: read-only there (SPEC §5).
    assert.equal((await b.http.request('PUT', '/alerts/x', { v: 1 })).status, 409);

    // The hub writes thresholds; both edges get them (and an update and a delete after that).
    for (let i = 0; i < 10; i++) await hub.http.put('thresholds', `t${i}`, { sensor: `s${i}`, max: i * 10 });
    await hub.http.patch('thresholds', 't3', { max: 333 });
    await hub.http.del('thresholds', 't4');
    const thresholds = await hub.http.digest('thresholds');
    assert.equal(thresholds.count, 9);
    for (const edge of [a, b]) {
      await kit.waitFor(async () => (await edge.http.digest('thresholds')).digest === thresholds.digest, {
        message: `thresholds on ${edge.name}`,
      });
    }
    assert.deepEqual(strip(await a.http.get('thresholds', 't3')), { id: 't3', sensor: 's3', max: 333 });
    assert.equal(await b.http.get('thresholds', 't4'), undefined);
    assert.equal((await a.http.request('DELETE', '/thresholds/t1')).status, 409);

    // A, B and the hub write the same 25 keys of `shared` concurrently: puts, patches of overlapping
    // attributes, deletes. Afterwards all three hold byte-identical state (I4): the same digest.
    const seed = Number(process.env['TM_SEED'] ?? Date.now() % 1_000_000);
    const random = rng(seed);
    const writers = [
      { name: 'edgeA', http: a.http },
      { name: 'edgeB', http: b.http },
      { name: 'hub', http: hub.http },
    ];
    const tasks: (() => Promise<unknown>)[] = [];
    for (let i = 0; i < 600; i++) {
      const w = writers[Math.floor(random() * writers.length)]!;
      const key = `k${Math.floor(random() * 25)}`;
      const roll = random();
      const attrs = { [`a${Math.floor(random() * 4)}`]: `${w.name}-${i}`, n: i };
      if (roll < 0.45) tasks.push(() => w.http.put('shared', key, attrs));
      else if (roll < 0.9) tasks.push(() => w.http.patch('shared', key, attrs));
      else tasks.push(() => w.http.del('shared', key));
    }
    await pool(12, tasks);

    const digests = async () =>
      Promise.all([hub.http.digest('shared'), a.http.digest('shared'), b.http.digest('shared')]);
    const converged = async () => {
      if ((await backlog(a, 'shared')) !== 0 || (await backlog(b, 'shared')) !== 0) return false;
      const [h, x, y] = await digests();
      return h.digest === x.digest && h.digest === y.digest ? h : false;
    };
    const first = await kit
      .waitFor(converged, { timeoutMs: 30_000, message: `shared to converge (seed ${seed})` })
      .catch(async (err: Error) => {
        // Say which records differ, and how, so a failure can be read without a rerun.
        const nodes = [hub, a, b];
        const all = await Promise.all(nodes.map((n) => n.http.query('shared', { sort: 'id' })));
        const byId = all.map((rows) => new Map(rows.map((r) => [String(r['id']), JSON.stringify(r)])));
        const ids = [...new Set(byId.flatMap((m) => [...m.keys()]))].sort();
        const diff = ids
          .filter((id) => new Set(byId.map((m) => m.get(id) ?? '-')).size > 1)
          .map((id) => `${id}: ${nodes.map((n, i) => `${n.name}=${byId[i]!.get(id) ?? '-'}`).join(' ')}`);
        const backlogs = `backlog A ${await backlog(a, 'shared')}, B ${await backlog(b, 'shared')}`;
        err.message += `\n${backlogs}\ndiffering records:\n${diff.join('\n')}`;
        throw err;
      });
    assert.ok(first.count > 0, `seed ${seed}: something survives`);
    // Still equal a moment later: nothing was in flight.
    await new Promise((r) => setTimeout(r, 300));
    const again = await digests();
    assert.deepEqual(
      again.map((d) => d.digest),
      [first.digest, first.digest, first.digest],
      `seed ${seed}`,
    );
    // Every record is the same on each node, derived times included.
    const rows = await Promise.all([hub, a, b].map((n) => n.http.query('shared', { sort: 'id' })));
    assert.deepEqual(rows[1], rows[0], `seed ${seed}`);
    assert.deepEqual(rows[2], rows[0], `seed ${seed}`);
    // I12/I7 in numbers: the edges got receipts for everything they sent, and nothing is stuck.
    const ma = await a.http.metrics();
    assert.equal(ma.sum('tablemesh_held'), 0);
    assert.equal(ma.sum('tablemesh_quarantined'), 0);
  });
});
