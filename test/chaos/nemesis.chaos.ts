/**
 * Mixed nemesis soak: while every node writes, a random fault every few seconds — SIGKILL an edge or the hub,
 * cut an edge off (blackhole), reset or take a link down, drop an edge's receipts, freeze an edge (SIGSTOP), shape a
 * link (latency, jitter, bandwidth), jump an edge's clock back — each healed before the next. Counters must be 0.
 */
import { describe } from 'node:test';
import { findLibFaketime, pause, Random, resume, Scenario, sleep } from '@tablemesh/testkit';
import { between, repeatFor, soak } from './_chaos.ts';

const NEMESES = [
  'kill-edge',
  'kill-hub',
  'blackhole',
  'reset',
  'down',
  'drop-receipts',
  'freeze',
  'shape',
  'clock-back',
] as const;

describe('chaos: mixed nemesis soak', () => {
  soak('every counter is 0 after a mixed-nemesis soak', async (t, seed, runMs) => {
    const faketime = findLibFaketime() !== undefined;
    const s = await Scenario.start(t, {
      name: 'soak: mixed nemesis',
      seed,
      edges: ['edgeA', 'edgeB', 'edgeC'].map((name) => ({
        name,
        ...(faketime ? { clock: { offsetMs: 0 } } : {}),
      })),
    });
    s.startWorkload();
    const r = new Random(seed ^ 0x5eed);
    const used: Record<string, number> = {};
    const names = [...s.edges.keys()];
    await repeatFor(runMs, between(r, 1_000, 4_000), async () => {
      const nemesis = r.pick(NEMESES.filter((n) => faketime || n !== 'clock-back'));
      used[nemesis] = (used[nemesis] ?? 0) + 1;
      const edgeName = r.pick(names);
      const edge = s.edge(edgeName);
      const proxy = s.proxy(edgeName);
      const hold = r.int(500, 6_000);
      switch (nemesis) {
        case 'kill-edge':
          await edge.kill();
          await sleep(r.int(0, 1_000));
          await edge.start();
          break;
        case 'kill-hub':
          await s.hub.kill();
          await sleep(r.int(0, 1_000));
          await s.hub.start();
          break;
        case 'blackhole':
          proxy.blackhole();
          await sleep(hold);
          proxy.heal();
          break;
        case 'reset':
          proxy.reset();
          break;
        case 'down':
          proxy.down();
          await sleep(hold);
          proxy.heal();
          break;
        case 'drop-receipts':
          await sleep(proxy.dropPublishes('toClient', `tm/v1/receipt/${edgeName}`, hold) && hold);
          break;
        case 'freeze':
          pause(edge);
          await sleep(hold);
          resume(edge);
          break;
        case 'shape':
          proxy.setShape({
            latencyMs: r.int(20, 300),
            jitterMs: r.int(0, 200),
            bandwidthBytesPerSec: r.int(20_000, 500_000),
          });
          await sleep(hold);
          proxy.setShape({});
          break;
        case 'clock-back': {
          const clock = s.clocks.get(edgeName)!;
          clock.setOffsetMs(-r.int(5_000, 25_000)); // within half the skew bound: no wall offset, the HLC holds
          await sleep(hold);
          clock.setOffsetMs(0);
          break;
        }
      }
    });
    s.notes['nemeses'] = used;
    return s.finish({ convergeTimeoutMs: 60_000 });
  });
});
