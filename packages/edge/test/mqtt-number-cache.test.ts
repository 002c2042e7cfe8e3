/**
 * mqtt-packet's packet-id table (config-memory.ts `disableMqttNumberCache`): 65,536 Buffers, 6 MB of live heap. Its
 * own file: the table, once built by any MQTT write in a process, stays (a process per test file).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { disableMqttNumberCache } from '../src/config-memory.js';

describe("mqtt.js's packet-id table", () => {
  it('is off for the mqtt-packet instance mqtt.js writes with: no 65,536 Buffers kept', async () => {
    const fromMqtt = createRequire(createRequire(import.meta.url).resolve('mqtt'));
    const packet = fromMqtt('mqtt-packet');
    const numbers = fromMqtt('mqtt-packet/numbers') as { cache: Record<number, Buffer> };
    disableMqttNumberCache();
    assert.equal(packet.writeToStream.cacheNumbers, false);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    packet.writeToStream({ cmd: 'publish', topic: 't', payload: 'x', qos: 1, messageId: 513 }, out);
    await new Promise((r) => setImmediate(r)); // the stream is corked until the next tick
    const bytes = Buffer.concat(chunks);
    assert.deepEqual(
      [...bytes.subarray(bytes.length - 3)],
      [2, 1, 0x78],
      'packet id 513 written without the table',
    );
    assert.equal(Object.keys(numbers.cache).length, 0);
  });
});
