/**
 * The CI-tier reliability scenarios (issue 7), as functions so that the mutant tests (checker-mutants.test.ts)
 * can run the same scenario with a failpoint on. Each starts a Scenario (hub + edges behind fault proxies), runs
 * the workload under its fault, heals, and returns the checker's report with the figures (already printed as one
 * JSON line). Not a test file.
 */
import assert from 'node:assert/strict';
import {
  type AfterHook,
  EV,
  KV,
  type NetnsLink,
  pause,
  Random,
  recordedWrite,
  resume,
  Scenario,
  type ScenarioResult,
  sleep,
  waitFor,
} from '@tablemesh/testkit';
import { SEED } from './_suite.ts';

/** Failpoints per node for a mutant run. */
export interface Mutation {
  readonly hub?: readonly string[];
  readonly edges?: readonly string[];
}

const EDGES3 = ['edgeA', 'edgeB', 'edgeC'] as const;

function edges(names: readonly string[], mutation?: Mutation) {
  return names.map((name) => ({ name, ...(mutation?.edges ? { failpoints: mutation.edges } : {}) }));
}

const mutantOf = (m?: Mutation) =>
  m ? { mutant: [...new Set([...(m.hub ?? []), ...(m.edges ?? [])])].join(',') } : {};

const finishOptions = (mutation?: Mutation) =>
  mutation ? { allowNoConvergence: true, convergeTimeoutMs: 6_000 } : {};

/** Baseline: no fault at all. */
export async function baseline(t: AfterHook, mutation?: Mutation, ms = 6_000): Promise<ScenarioResult> {
  const s = await Scenario.start(t, {
    name: 'baseline',
    seed: SEED,
    edges: edges(EDGES3, mutation),
    ...(mutation?.hub ? { hubFailpoints: mutation.hub } : {}),
    ...mutantOf(mutation),
  });
  s.startWorkload();
  await sleep(ms);
  return s.finish(finishOptions(mutation));
}

/** Edge A is killed with SIGKILL five times while every node writes, and restarted on the same store. */
export async function edgeKills(t: AfterHook): Promise<ScenarioResult> {
  const s = await Scenario.start(t, { name: 'edge-kill-9 x5', seed: SEED, edges: edges(EDGES3) });
  s.startWorkload({ clientsPerNode: 3 });
  const r = s.random.fork();
  const a = s.edge('edgeA');
  const restartMs: number[] = [];
  for (let i = 0; i < 5; i++) {
    await sleep(r.int(500, 1_200));
    await a.kill();
    await sleep(r.int(0, 300));
    const t0 = Date.now();
    await a.start();
    restartMs.push(Date.now() - t0);
  }
  await sleep(1_000);
  s.notes['kills'] = 5;
  s.notes['restartMs'] = restartMs;
  return s.finish();
}

/** The hub is killed with SIGKILL five times during ingest (edges keep writing into their outboxes). */
export async function hubKills(t: AfterHook): Promise<ScenarioResult> {
  const s = await Scenario.start(t, { name: 'hub-kill-9 x5', seed: SEED, edges: edges(EDGES3) });
  s.startWorkload({ clientsPerNode: 3 });
  const r = s.random.fork();
  let appliedBeforeKills = 0;
  for (let i = 0; i < 5; i++) {
    await sleep(r.int(800, 1_500));
    // Killed while it ingests: wait until it applies again after the previous restart.
    appliedBeforeKills += (await s.hub.http.metrics()).sum('tablemesh_applied_total');
    await s.hub.kill();
    await sleep(r.int(100, 500));
    await s.hub.start();
  }
  await sleep(1_500);
  s.notes['kills'] = 5;
  s.notes['appliedBetweenKills'] = appliedBeforeKills;
  const result = await s.finish();
  assert.ok(appliedBeforeKills > 0, 'the hub was ingesting when it was killed');
  return result;
}

/** Edge A is cut off (blackhole: no RST) for 10 s while A, the hub, B and C all keep writing. */
export async function partition(t: AfterHook, mutation?: Mutation): Promise<ScenarioResult> {
  const s = await Scenario.start(t, {
    name: `partition ${mutation ? 4 : 10}s`,
    seed: SEED,
    edges: edges(EDGES3, mutation),
    ...(mutation?.hub ? { hubFailpoints: mutation.hub } : {}),
    ...mutantOf(mutation),
  });
  s.startWorkload({ keys: 12 });
  await sleep(1_500);
  s.proxy('edgeA').blackhole();
  const applied = async () => (await s.hub.http.metrics()).sum('tablemesh_applied_total');
  const before = await applied();
  await sleep(mutation ? 4_000 : 10_000);
  // The majority side kept replicating while A was cut off.
  const during = (await applied()) - before;
  s.notes['hubAppliedDuringPartition'] = during;
  await s.heal();
  await sleep(1_000);
  const result = await s.finish(finishOptions(mutation));
  assert.ok(during > 100, `the hub kept applying B's and C's writes during the partition (${during})`);
  return result;
}

/** Every edge's link flaps for 12 s: up for a while, then reset, down or blackholed for a while, at random. */
export async function flapping(t: AfterHook): Promise<ScenarioResult> {
  const s = await Scenario.start(t, { name: 'flapping link', seed: SEED, edges: edges(EDGES3) });
  s.startWorkload();
  const until = Date.now() + 12_000;
  let faults = 0;
  await Promise.all(
    [...s.proxies.values()].map(async (proxy) => {
      const r = new Random(s.random.int(1, 2 ** 30));
      while (Date.now() < until) {
        await sleep(r.int(300, 1_500));
        const fault = r.pick(['reset', 'down', 'blackhole'] as const);
        faults++;
        if (fault === 'reset') proxy.reset();
        else if (fault === 'down') proxy.down();
        else proxy.blackhole();
        await sleep(fault === 'reset' ? 0 : r.int(200, 1_200));
        proxy.heal();
      }
    }),
  );
  s.notes['faults'] = faults;
  return s.finish();
}

/**
 * Receipts to edge A are dropped for 6 s (MQTT-aware proxy): A resends after its receipt timeout and the hub must
 * drop the duplicates (I9), not apply them again.
 */
export async function receiptsDropped(t: AfterHook, mutation?: Mutation): Promise<ScenarioResult> {
  const s = await Scenario.start(t, {
    name: `receipts dropped ${mutation ? 4 : 6}s`,
    seed: SEED,
    edges: edges(EDGES3, mutation),
    ...(mutation?.hub ? { hubFailpoints: mutation.hub } : {}),
    ...mutantOf(mutation),
  });
  s.startWorkload();
  await sleep(1_000);
  const dropMs = mutation ? 4_000 : 6_000;
  const rule = s.proxy('edgeA').dropPublishes('toClient', 'tm/v1/receipt/edgeA', dropMs);
  await sleep(dropMs + 1_500);
  s.notes['receiptsDropped'] = rule.dropped;
  const result = await s.finish(finishOptions(mutation));
  assert.ok(rule.dropped > 0, 'receipts were dropped');
  return result;
}

/** Edge A is frozen (SIGSTOP) for 8 s while the others keep replicating; then it continues and catches up. */
export async function frozenEdge(t: AfterHook): Promise<ScenarioResult> {
  const s = await Scenario.start(t, { name: 'frozen edge (SIGSTOP 8s)', seed: SEED, edges: edges(EDGES3) });
  s.startWorkload();
  await sleep(1_500);
  const a = s.edge('edgeA');
  pause(a);
  const m0 = (await s.hub.http.metrics()).sum('tablemesh_applied_total');
  const evB0 = (await s.edge('edgeC').http.digest('ev')).count;
  await sleep(8_000);
  const m1 = (await s.hub.http.metrics()).sum('tablemesh_applied_total');
  const evB1 = (await s.edge('edgeC').http.digest('ev')).count;
  resume(a);
  s.notes['hubAppliedWhileFrozen'] = m1 - m0;
  s.notes['edgeCReceivedWhileFrozen'] = evB1 - evB0;
  await sleep(1_000);
  const result = await s.finish();
  assert.ok(m1 - m0 > 50, `the hub kept applying while A was frozen (${m1 - m0})`);
  assert.ok(evB1 - evB0 > 20, `edge C kept receiving while A was frozen (${evB1 - evB0})`);
  return result;
}

/**
 * Clock skew: edge A runs 50 s fast and edge B 50 s slow (within maxClockSkewMs, beyond half of it: both run on a
 * wall offset, I3); mid-run A's clock jumps back 100 s (to 50 s slow) and its HLC must not step back (I1) — its
 * stamps hold at the high-water mark until a reconnect recomputes the offset. (A jump *forward* beyond the bound
 * would rightly be held as TM_CLOCK_AHEAD: that is the clock-ahead scenario.)
 */
export async function clockSkew(t: AfterHook): Promise<ScenarioResult> {
  const s = await Scenario.start(t, {
    name: 'clock skew ±50s + jump back',
    seed: SEED,
    edges: [
      { name: 'edgeA', clock: { offsetMs: 50_000 } },
      { name: 'edgeB', clock: { offsetMs: -50_000 } },
      { name: 'edgeC' },
    ],
  });
  s.startWorkload();
  await sleep(3_000);
  s.clocks.get('edgeA')!.setOffsetMs(-50_000); // 100 s back at run time
  await sleep(3_000);
  s.proxy('edgeA').reset(); // a new welcome: A's wall offset is recomputed (I3)
  await sleep(3_000);
  const warned = ['edgeA', 'edgeB'].map((n) => s.edge(n).grep('wall offset').length);
  s.notes['offsetWarnings'] = warned;
  // Writes A stamped on the logical counter: its wall source stood still or went back (I1).
  s.notes['edgeALogicalStamps'] = s.history.ops.filter(
    (op) => op.node === 'edgeA' && (op.stamp?.counter ?? 0) > 0,
  ).length;
  const result = await s.finish();
  assert.ok(warned[0]! >= 2 && warned[1]! >= 1, `the skewed edges run on wall offsets (I3): ${warned}`);
  return result;
}

/**
 * One edge 1 h fast: it writes before it ever talks to the hub, so its HLC (persisted, never going back, I1) is an
 * hour ahead. Its writes are held as TM_CLOCK_AHEAD — in /metrics, nothing quarantined, nothing lost — while the
 * others replicate; once the hub's clock has caught up (jumped 1 h) everything arrives.
 */
export async function clockAhead(t: AfterHook): Promise<ScenarioResult> {
  const s = await Scenario.start(t, {
    name: 'edge 1h fast (TM_CLOCK_AHEAD)',
    seed: SEED,
    edges: [{ name: 'edgeA' }, { name: 'edgeB' }, { name: 'edgeF', clock: { offsetMs: 3_600_000 } }],
    hubClock: { offsetMs: 0 },
  });
  const f = s.edge('edgeF');
  // F has already met the hub at start (wall offset −1 h, I3): wipe it and let it write offline first.
  await f.kill();
  f.wipe();
  s.proxy('edgeF').down();
  await f.start();
  const target = s.target('edgeF');
  for (let i = 0; i < 20; i++) {
    await recordedWrite(
      s.history,
      'edgeF.0',
      target,
      EV,
      'put',
      `edgeF-0-${i}`,
      { tok: `edgeF.0.${i}` },
      `edgeF.0.${i}`,
    );
  }
  s.proxy('edgeF').heal();
  s.startWorkload();
  const held = await waitFor(
    async () => {
      const m = await f.http.metrics();
      return (m.get('tablemesh_held', { table: EV, code: 'TM_CLOCK_AHEAD' }) ?? 0) === 1 ? m : false;
    },
    { timeoutMs: 8_000, message: 'F held as TM_CLOCK_AHEAD' },
  );
  await sleep(3_000);
  const m = await f.http.metrics();
  const status = {
    held: m.get('tablemesh_held', { table: EV, code: 'TM_CLOCK_AHEAD' }),
    quarantined: m.sum('tablemesh_quarantined'),
    backlog: m.get('tablemesh_backlog_count', { table: EV }),
  };
  s.notes['edgeFWhileHeld'] = status;
  const fOnHub = (await s.hub.http.query<{ id: string }>('ev')).filter((r) =>
    r.id.startsWith('edgeF'),
  ).length;
  // I3: the hub never advanced its clock from F's stamps: its own writes stay on its wall clock.
  const hubOwn = s.history.ops.filter((op) => op.node === 'hub' && op.stamp);
  const hubAhead = hubOwn.filter((op) => op.stamp!.wall > op.completedAt! + 5_000).length;
  // The hub's clock catches up; F reconnects (a welcome releases holds) and delivers.
  s.clocks.get('hub')!.setOffsetMs(3_600_000);
  s.proxy('edgeF').reset();
  await sleep(2_000);
  const result = await s.finish();
  assert.ok(held.sum('tablemesh_held') >= 1);
  assert.equal(status.quarantined, 0, 'nothing quarantined');
  assert.ok((status.backlog ?? 0) >= 20, `F's writes wait in its outbox (${status.backlog})`);
  assert.equal(fOnHub, 0, 'none of F applied while held');
  assert.ok(hubOwn.length > 0 && hubAhead === 0, `hub writes stamped ahead of its clock: ${hubAhead}`);
  assert.ok((result.figures['transient'] as number) >= 1, 'the hub answered TM_CLOCK_AHEAD');
  return result;
}

/**
 * Equal-HLC ties: edges A and B, both clocks frozen at the same instant and cut off from each other, write the
 * same keys in the same order, so their i-th writes carry the same HLC (T0, i); only node (then epoch) breaks the
 * tie (SPEC §4), and every replica must end identical.
 */
export async function equalHlcTie(t: AfterHook, mutation?: Mutation): Promise<ScenarioResult> {
  const t0 = Date.now() - 2_000;
  const s = await Scenario.start(t, {
    name: 'equal-HLC tie',
    seed: SEED,
    edges: ['edgeA', 'edgeB'].map((name) => ({
      name,
      clock: { frozenAtMs: t0 },
      ...(mutation?.edges ? { failpoints: mutation.edges } : {}),
    })),
    ...(mutation?.hub ? { hubFailpoints: mutation.hub } : {}),
    ...mutantOf(mutation),
  });
  for (const p of s.proxies.values()) p.down();
  const N = 12;
  await Promise.all(
    ['edgeA', 'edgeB'].map(async (node) => {
      const target = s.target(node);
      for (let i = 0; i < N; i++) {
        const token = `${node}.1.${i}`;
        // puts tie with puts; on the last third A patches while B deletes at the same HLC
        if (i >= (2 * N) / 3 && node === 'edgeB')
          await recordedWrite(s.history, `${node}.1`, target, KV, 'delete', `tie${i}`, undefined, token);
        else if (i >= (2 * N) / 3)
          await recordedWrite(s.history, `${node}.1`, target, KV, 'patch', `tie${i}`, { b: token }, token);
        else
          await recordedWrite(
            s.history,
            `${node}.1`,
            target,
            KV,
            'put',
            `tie${i}`,
            { tok: token, a: token },
            token,
          );
      }
    }),
  );
  const stamps = (node: string) => s.history.ops.filter((op) => op.node === node).map((op) => op.stamp!);
  const [a, b] = [stamps('edgeA'), stamps('edgeB')];
  const ties = a.filter((x, i) => b[i] && x.wall === b[i]!.wall && x.counter === b[i]!.counter).length;
  s.notes['ties'] = ties;
  await s.heal();
  const result = await s.finish(finishOptions(mutation));
  assert.equal(ties, N, `every i-th write of A and B has the same HLC (${ties} of ${N})`);
  return result;
}

/**
 * Outbox quota with onFull: reject under a 12 s partition: A's local API answers 507 once its outbox is full
 * (counted as failed writes: none may show up anywhere), never exceeds the quota by more than one request's
 * transaction (I14), and every acknowledged write arrives after heal.
 */
export async function quotaReject(t: AfterHook): Promise<ScenarioResult> {
  const QUOTA = 16 * 1024;
  const s = await Scenario.start(t, {
    name: 'quota reject under partition',
    seed: SEED,
    edges: [
      {
        name: 'edgeA',
        publish: [
          { table: KV, quotaBytes: QUOTA },
          { table: EV, quotaBytes: QUOTA },
        ],
      },
      { name: 'edgeB' },
    ],
  });
  s.startWorkload({ pauseMs: 10 });
  await sleep(1_000);
  s.proxy('edgeA').blackhole();
  let maxBytes = 0;
  const until = Date.now() + 12_000;
  while (Date.now() < until) {
    const m = await s.edge('edgeA').http.metrics();
    for (const table of [KV, EV])
      maxBytes = Math.max(maxBytes, m.get('tablemesh_backlog_bytes', { table }) ?? 0);
    await sleep(250);
  }
  s.notes['quotaBytes'] = QUOTA;
  s.notes['maxBacklogBytes'] = maxBytes;
  const result = await s.finish();
  assert.ok((result.figures['http507'] as number) > 0, 'the full outbox answered 507');
  // I14: over the quota by at most one request's transaction (a single-record write here: < 1 KiB)
  assert.ok(maxBytes <= QUOTA + 1024, `backlog ${maxBytes} bytes, quota ${QUOTA}`);
  return result;
}

/**
 * Network-namespace mode (root only): the hub runs in its own namespace behind a veth pair; nftables drops 10 % of
 * the packets each way for 6 s, then all of them for 4 s (a partition, no RST), while everyone writes. Kernel TCP
 * retransmits and times out for real here.
 */
export async function netnsLoss(t: AfterHook, link: NetnsLink): Promise<ScenarioResult> {
  const s = await Scenario.start(t, {
    name: 'netns loss 10% + partition',
    seed: SEED,
    edges: edges(EDGES3),
    hubNetns: link,
  });
  s.startWorkload();
  await sleep(1_000);
  link.loss(10);
  await sleep(6_000);
  link.partition();
  await sleep(4_000);
  link.heal();
  await sleep(1_000);
  return s.finish({ convergeTimeoutMs: 30_000 });
}
