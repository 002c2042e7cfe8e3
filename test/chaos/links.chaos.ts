/**
 * Link soaks: a lossy slow link (latency, jitter and a bandwidth cap on every edge's proxy, with short blackholes
 * and resets; in netns mode also real 5 % packet loss with nftables), and many kill cycles (SIGKILL of a random
 * edge or the hub every second or so). Counters must be 0.
 */
import { describe } from 'node:test';
import { NetnsLink, Random, Scenario, sleep } from '@tablemesh/testkit';
import { between, repeatFor, soak } from './_chaos.ts';

describe('chaos: lossy slow link', () => {
  soak('every counter is 0 over a lossy, slow, jittery link', async (t, seed, runMs) => {
    const why = NetnsLink.unavailable();
    if (why) console.log(`lossy-link soak without real packet loss: ${why}`);
    const link = why ? undefined : NetnsLink.create();
    if (link) t.after(() => link.close());
    const s = await Scenario.start(t, {
      name: `soak: lossy slow link${link ? ' (netns 5% loss)' : ''}`,
      seed,
      edges: ['edgeA', 'edgeB', 'edgeC'].map((name) => ({
        name,
        shape: { latencyMs: 120, jitterMs: 150, bandwidthBytesPerSec: 48_000 },
      })),
      ...(link ? { hubNetns: link } : {}),
    });
    link?.loss(5);
    s.startWorkload({ pauseMs: 40 });
    const r = new Random(seed ^ 0x1055);
    const cuts = await repeatFor(runMs, between(r, 3_000, 10_000), async () => {
      const proxy = s.proxy(r.pick([...s.proxies.keys()]));
      if (r.chance(0.5)) proxy.reset();
      else {
        proxy.blackhole();
        await sleep(r.int(500, 3_000));
        proxy.heal();
      }
    });
    link?.heal();
    s.notes['cuts'] = cuts;
    return s.finish({ convergeTimeoutMs: 90_000 });
  });
});

describe('chaos: many kill cycles', () => {
  soak('every counter is 0 after SIGKILL of a random node every ~1 s', async (t, seed, runMs) => {
    const s = await Scenario.start(t, {
      name: 'soak: kill cycles',
      seed,
      edges: ['edgeA', 'edgeB', 'edgeC'].map((name) => ({ name })),
    });
    s.startWorkload({ clientsPerNode: 3 });
    const r = new Random(seed ^ 0x4177);
    const killed: Record<string, number> = {};
    await repeatFor(runMs, between(r, 300, 1_500), async () => {
      const node = r.chance(0.3) ? s.hub : s.edge(r.pick([...s.edges.keys()]));
      killed[node.name] = (killed[node.name] ?? 0) + 1;
      await node.kill();
      await sleep(r.int(0, 500));
      await node.start();
    });
    s.notes['kills'] = killed;
    return s.finish({ convergeTimeoutMs: 60_000 });
  });
});
