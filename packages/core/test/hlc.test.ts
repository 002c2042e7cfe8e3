import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTmError } from '../src/errors.js';
import {
  checkClockAhead,
  compareHlc,
  compareStamp,
  HlcClock,
  MAX_COUNTER,
  MAX_WALL,
  wallOffsetFor,
} from '../src/hlc.js';
import type { Hlc, Stamp } from '../src/types.js';

function fakeClock(start: number): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
}

describe('compareHlc / compareStamp', () => {
  it('orders by wall, counter, node, epoch', () => {
    const s = (wall: number, counter: number, node: string, epoch: string): Stamp => ({
      wall,
      counter,
      node,
      epoch,
    });
    const sorted = [
      s(1, 5, 'z', 'z'),
      s(2, 0, 'b', 'a'),
      s(2, 1, 'a', 'a'),
      s(2, 1, 'b', 'a'),
      s(2, 1, 'b', 'b'),
      s(3, 0, 'a', 'a'),
    ];
    const shuffled = [sorted[3]!, sorted[5]!, sorted[0]!, sorted[4]!, sorted[2]!, sorted[1]!];
    assert.deepEqual([...shuffled].sort(compareStamp), sorted);
    assert.equal(compareStamp(s(2, 1, 'b', 'a'), s(2, 1, 'b', 'a')), 0);
    assert.equal(compareHlc({ wall: 1, counter: 9 }, { wall: 2, counter: 0 }), -1);
    assert.equal(compareHlc({ wall: 2, counter: 1 }, { wall: 2, counter: 0 }), 1);
    assert.equal(compareHlc({ wall: 2, counter: 1 }, { wall: 2, counter: 1 }), 0);
  });

  it('compares node ids by UTF-16 code unit, not locale', () => {
    const a: Stamp = { wall: 1, counter: 0, node: 'Z', epoch: 'e' };
    const b: Stamp = { wall: 1, counter: 0, node: 'a', epoch: 'e' };
    assert.equal(compareStamp(a, b), -1); // 'Z' (0x5A) < 'a' (0x61)
    assert.equal(compareStamp(b, a), 1);
  });
});

describe('HlcClock', () => {
  it('issues physical time with counter 0 while time moves forward', () => {
    const clock = fakeClock(1000);
    const hlc = new HlcClock({ now: clock.now });
    assert.deepEqual(hlc.next(), { wall: 1000, counter: 0 });
    clock.set(1005);
    assert.deepEqual(hlc.next(), { wall: 1005, counter: 0 });
    assert.deepEqual(hlc.peek(), { wall: 1005, counter: 0 });
  });

  it('I1: stays strictly monotonic when now() stands still or jumps backwards', () => {
    const clock = fakeClock(5000);
    const hlc = new HlcClock({ now: clock.now });
    const issued: Hlc[] = [hlc.next(), hlc.next()];
    clock.set(1000); // the wall clock jumps back 4 s
    issued.push(hlc.next(), hlc.next());
    clock.set(5001);
    issued.push(hlc.next());
    assert.deepEqual(issued, [
      { wall: 5000, counter: 0 },
      { wall: 5000, counter: 1 },
      { wall: 5000, counter: 2 },
      { wall: 5000, counter: 3 },
      { wall: 5001, counter: 0 },
    ]);
    for (let i = 1; i < issued.length; i++) assert.equal(compareHlc(issued[i - 1]!, issued[i]!), -1);
  });

  it('floors fractional physical times', () => {
    const hlc = new HlcClock({ now: () => 1234.9 });
    assert.deepEqual(hlc.next(), { wall: 1234, counter: 0 });
  });

  it('I1: restore() continues above the persisted high-water mark after a restart', () => {
    const clock = fakeClock(9000);
    const before = new HlcClock({ now: clock.now });
    before.next();
    const highWater = before.next(); // {9000, 1}
    clock.set(8000); // restarted with a clock that is now behind
    const after = new HlcClock({ now: clock.now });
    after.restore(highWater);
    assert.deepEqual(after.peek(), { wall: 9000, counter: 1 });
    assert.deepEqual(after.next(), { wall: 9000, counter: 2 });
    // restoring an older mark never lowers the clock
    after.restore({ wall: 10, counter: 0 });
    assert.deepEqual(after.next(), { wall: 9000, counter: 3 });
  });

  it('I2: after observe(remote), next() is greater than remote', () => {
    const clock = fakeClock(1000);
    const hlc = new HlcClock({ now: clock.now });
    hlc.next();
    hlc.observe({ wall: 4000, counter: 7 });
    assert.deepEqual(hlc.peek(), { wall: 4000, counter: 7 });
    const n = hlc.next();
    assert.deepEqual(n, { wall: 4000, counter: 8 });
    assert.equal(compareHlc(n, { wall: 4000, counter: 7 }), 1);
    // an older remote does not move the clock back
    hlc.observe({ wall: 10, counter: 0 });
    assert.deepEqual(hlc.next(), { wall: 4000, counter: 9 });
    // once physical time passes the remote, the counter restarts
    clock.set(4001);
    assert.deepEqual(hlc.next(), { wall: 4001, counter: 0 });
  });

  it('moves the wall up 1 ms on counter overflow', () => {
    const hlc = new HlcClock({ now: () => 100 });
    hlc.observe({ wall: 100, counter: MAX_COUNTER - 1 });
    assert.deepEqual(hlc.next(), { wall: 100, counter: MAX_COUNTER });
    assert.deepEqual(hlc.next(), { wall: 101, counter: 0 });
    assert.deepEqual(hlc.next(), { wall: 101, counter: 1 });
    assert.equal(MAX_COUNTER, 4294967295);
  });

  it('I3: adds the offset to now() for the wall source', () => {
    const clock = fakeClock(1000);
    const hlc = new HlcClock({ now: clock.now, offsetMs: 250 });
    assert.equal(hlc.offsetMs, 250);
    assert.deepEqual(hlc.next(), { wall: 1250, counter: 0 });
    hlc.setOffsetMs(-500);
    assert.equal(hlc.offsetMs, -500);
    clock.set(2000);
    assert.deepEqual(hlc.next(), { wall: 1500, counter: 0 });
    // a negative offset change behaves like a backwards jump: still monotonic (I1)
    hlc.setOffsetMs(-1900);
    assert.deepEqual(hlc.next(), { wall: 1500, counter: 1 });
    assert.throws(
      () => hlc.setOffsetMs(Number.NaN),
      (err) => isTmError(err, 'TM_INVALID_ARGUMENT'),
    );
  });

  it('refuses remote HLCs beyond 2^53 or malformed, without moving the clock', () => {
    const hlc = new HlcClock({ now: () => 1 });
    const bad: unknown[] = [
      { wall: 2 ** 53, counter: 0 },
      { wall: -1, counter: 0 },
      { wall: 1.5, counter: 0 },
      { wall: 1, counter: MAX_COUNTER + 1 },
      { wall: 1, counter: -1 },
      { wall: 1 },
      null,
    ];
    for (const remote of bad) {
      assert.throws(
        () => hlc.observe(remote as Hlc),
        (err) => isTmError(err, 'TM_INVALID_VALUE'),
      );
      assert.throws(
        () => hlc.restore(remote as Hlc),
        (err) => isTmError(err, 'TM_INVALID_VALUE'),
      );
    }
    hlc.observe({ wall: MAX_WALL, counter: 0 });
    assert.deepEqual(hlc.peek(), { wall: MAX_WALL, counter: 0 });
    assert.deepEqual(hlc.next(), { wall: MAX_WALL, counter: 1 });
  });
});

describe('checkClockAhead (I3)', () => {
  const hub = 1_000_000;
  const skew = 60_000;
  it('accepts up to exactly maxSkewMs ahead, and anything behind', () => {
    assert.deepEqual(checkClockAhead({ wall: hub + skew, counter: MAX_COUNTER }, hub, skew), { ok: true });
    assert.deepEqual(checkClockAhead({ wall: hub, counter: 0 }, hub, skew), { ok: true });
    assert.deepEqual(checkClockAhead({ wall: 0, counter: 0 }, hub, skew), { ok: true });
  });

  it('refuses more than maxSkewMs ahead with the time until it would pass, at least 1000 ms', () => {
    assert.deepEqual(checkClockAhead({ wall: hub + skew + 1, counter: 0 }, hub, skew), {
      ok: false,
      aheadMs: skew + 1,
      retryAfterMs: 1000,
    });
    assert.deepEqual(checkClockAhead({ wall: hub + skew + 1000, counter: 0 }, hub, skew), {
      ok: false,
      aheadMs: skew + 1000,
      retryAfterMs: 1000,
    });
    assert.deepEqual(checkClockAhead({ wall: hub + skew + 1001, counter: 0 }, hub, skew), {
      ok: false,
      aheadMs: skew + 1001,
      retryAfterMs: 1001,
    });
    const far = checkClockAhead({ wall: hub + 3_600_000, counter: 0 }, hub, skew);
    assert.deepEqual(far, { ok: false, aheadMs: 3_600_000, retryAfterMs: 3_540_000 });
    // after waiting retryAfterMs the same HLC passes
    assert.deepEqual(checkClockAhead({ wall: hub + 3_600_000, counter: 0 }, hub + 3_540_000, skew), {
      ok: true,
    });
  });
});

describe('wallOffsetFor (I3)', () => {
  const skew = 60_000;
  it('returns 0 within half the bound (inclusive)', () => {
    assert.equal(wallOffsetFor(1_030_000, 1_000_000, skew), 0);
    assert.equal(wallOffsetFor(970_000, 1_000_000, skew), 0);
    assert.equal(wallOffsetFor(1_000_000, 1_000_000, skew), 0);
  });

  it('returns hub - local beyond half the bound, on both sides', () => {
    assert.equal(wallOffsetFor(1_030_001, 1_000_000, skew), 30_001);
    assert.equal(wallOffsetFor(969_999, 1_000_000, skew), -30_001);
    assert.equal(wallOffsetFor(1_000_000 + 3_600_000, 1_000_000, skew), 3_600_000);
  });

  it('an edge using the offset lands on the hub clock and passes the hub check', () => {
    const local = 1_000_000;
    const hubNow = local + 120_000; // edge clock 2 min behind
    const hlc = new HlcClock({ now: () => local, offsetMs: wallOffsetFor(hubNow, local, skew) });
    const h = hlc.next();
    assert.equal(h.wall, hubNow);
    assert.deepEqual(checkClockAhead(h, hubNow, skew), { ok: true });
  });
});
