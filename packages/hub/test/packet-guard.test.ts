import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { type GuardEvent, guardStream, PacketScanner } from '../src/broker/packet-guard.js';
import { addressKey, ConnectionRateLimiter } from '../src/broker/rate-limit.js';

/** A PUBLISH of `size` payload bytes as mqtt-packet encodes it. */
const publishOf = (size: number, topic = 'tm/v1/up/a/data.t') =>
  mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload: Buffer.alloc(size, 7),
    qos: 1,
    messageId: 1,
    retain: false,
    dup: false,
  });

/** Splits bytes at the given cut points. */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}

describe('packet-size guard', () => {
  it('follows packet boundaries however the stream is chunked: packets within the limit pass', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 3_000 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (sizes, cuts) => {
          const packets = sizes.map((s) => publishOf(s));
          const limit = Math.max(...packets.map((p) => p.length));
          const scanner = new PacketScanner(limit);
          for (const chunk of split(Buffer.concat(packets), cuts))
            assert.deepEqual(scanner.scan(chunk), { ok: true });
          assert.equal(
            scanner.bytesRead,
            packets.reduce((n, p) => n + p.length, 0),
          );
        },
      ),
    );
  });

  it('refuses the first packet over the limit, wherever it sits and however it is chunked', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 500 }), { maxLength: 5 }),
        fc.integer({ min: 1, max: 2_000 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (before, over, cuts) => {
          const small = before.map((s) => publishOf(s));
          const limit = Math.max(600, ...small.map((p) => p.length));
          const big = publishOf(limit + over);
          const scanner = new PacketScanner(limit);
          let verdict: ReturnType<PacketScanner['scan']> = { ok: true };
          for (const chunk of split(Buffer.concat([...small, big]), cuts)) {
            verdict = scanner.scan(chunk);
            if (!verdict.ok) break;
          }
          assert.deepEqual(verdict, { ok: false, reason: 'packet-too-large', declaredBytes: big.length });
        },
      ),
    );
  });

  it('refuses a remaining length of more than four bytes [MQTT-2.2.3]', () => {
    const scanner = new PacketScanner(1_000);
    assert.deepEqual(scanner.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), {
      ok: false,
      reason: 'malformed-length',
      declaredBytes: -1,
    });
  });

  it('accepts zero-length packets (PINGREQ, DISCONNECT) back to back', () => {
    const scanner = new PacketScanner(2);
    assert.deepEqual(scanner.scan(Buffer.from([0xc0, 0x00, 0xe0, 0x00, 0xc0, 0x00])), { ok: true });
  });

  it('guardStream never buffers a refused chunk and destroys the stream', async () => {
    const stream = new PassThrough();
    const events: GuardEvent[] = [];
    guardStream(stream, 1_000, (e) => events.push(e));
    stream.push(publishOf(10));
    const header = Buffer.from([0x30, 0x80, 0x80, 0x80, 0x64]); // 200 MiB declared
    assert.equal(stream.push(Buffer.concat([header, Buffer.alloc(60_000)])), false);
    await new Promise((r) => setImmediate(r));
    assert.ok(stream.destroyed);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.reason, 'packet-too-large');
    assert.equal(events[0]!.declaredBytes, 1 + 4 + 200 * 1024 * 1024);
    assert.equal(events[0]!.packetBytesRead, 60_005);
    assert.equal(stream.readableLength, publishOf(10).length, 'only the valid packet was buffered');
  });
});

describe('connection rate limit', () => {
  it('allows `burst` at once, then `perSecond`, per address', () => {
    let now = 0;
    const limiter = new ConnectionRateLimiter({ perSecond: 2, burst: 3, now: () => now });
    const take = (a: string) => limiter.take(a);
    assert.deepEqual([take('a'), take('a'), take('a'), take('a')], [true, true, true, false]);
    assert.equal(take('b'), true, 'another address has its own bucket');
    now = 499;
    assert.equal(take('a'), false);
    now = 500;
    assert.equal(take('a'), true, 'one token back after 1/perSecond');
    assert.equal(take('::ffff:127.0.0.9'), true);
    assert.equal(addressKey('::ffff:127.0.0.9'), '127.0.0.9');
    assert.equal(limiter.refused, 2);
    now = 10_000;
    limiter.sweep();
    assert.equal(limiter.size, 0, 'full buckets are forgotten');
  });

  it('is off with perSecond 0', () => {
    const limiter = new ConnectionRateLimiter({ perSecond: 0, burst: 10 });
    for (let i = 0; i < 100; i++) assert.equal(limiter.take('a'), true);
    assert.equal(limiter.enabled, false);
  });
});
