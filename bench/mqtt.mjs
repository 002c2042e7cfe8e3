// Ceiling (SPEC §10): raw Aedes + mqtt.js QoS 1 message rate over loopback between separate processes. A bare
// Aedes broker (in-memory persistence, no tablemesh hooks) runs in a child process; this process runs one
// mqtt.js publisher with WINDOW QoS 1 publishes outstanding and one mqtt.js subscriber (QoS 1) on the topic.
// Measures: messages/s PUBACKed to the publisher, and messages/s delivered to the subscriber, for a ~100 B
// payload and a ~10 KB payload (one replication batch of 100 records). Run: node bench/mqtt.mjs [--json]
import { fork } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { median, RUN_MS, RUNS, report } from './_lib.mjs';

const WINDOW = Number(process.env.BENCH_MQTT_WINDOW ?? 64);

if (process.argv[2] === '--broker') {
  const { Aedes } = await import('aedes');
  const broker = await Aedes.createBroker();
  const server = createServer({ noDelay: true }, broker.handle); // as the hub's listeners (TCP_NODELAY)
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', () => process.exit(0));
} else {
  const mqtt = (await import('mqtt')).default;
  const child = fork(fileURLToPath(import.meta.url), ['--broker'], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
  const url = `mqtt://127.0.0.1:${port}`;
  const connect = (clientId) =>
    new Promise((resolve, reject) => {
      const c = mqtt.connect(url, { clientId, clean: true, reconnectPeriod: 0 });
      c.once('connect', () => {
        c.stream.setNoDelay?.(true); // as the edge's link
        resolve(c);
      });
      c.once('error', reject);
    });

  /** One timed run: WINDOW publishes outstanding for RUN_MS; returns acked/s and delivered/s. */
  async function run(payloadBytes, i) {
    const topic = `bench/${payloadBytes}/${i}`;
    const pub = await connect(`pub-${payloadBytes}-${i}`);
    const sub = await connect(`sub-${payloadBytes}-${i}`);
    await sub.subscribeAsync(topic, { qos: 1 });
    let delivered = 0;
    sub.on('message', () => delivered++);
    const payload = Buffer.alloc(payloadBytes, 120);
    let acked = 0;
    const start = performance.now();
    const deadline = start + RUN_MS;
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (performance.now() < deadline) {
          await pub.publishAsync(topic, payload, { qos: 1 });
          acked++;
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const sent = acked;
    const waitUntil = performance.now() + 5_000;
    while (delivered < sent && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 5));
    const deliveredSeconds = (performance.now() - start) / 1000;
    await Promise.all([pub.endAsync(), sub.endAsync()]);
    return { acked: acked / seconds, delivered: delivered / deliveredSeconds };
  }

  const sizes = [100, 10_000];
  const runs = Object.fromEntries(sizes.map((s) => [s, []]));
  for (let i = 0; i < RUNS; i++) for (const s of sizes) runs[s].push(await run(s, i));
  child.send({ stop: true });
  const measure = (name, values) => ({ name, unit: 'msg/s', median: median(values), runs: values });
  report({
    scenario: 'mqtt',
    runsPerMeasure: RUNS,
    runMs: RUN_MS,
    measures: sizes.flatMap((s) => [
      measure(
        `Aedes+mqtt.js QoS 1, ${s} B, PUBACKed (${WINDOW} outstanding)`,
        runs[s].map((r) => r.acked),
      ),
      measure(
        `Aedes+mqtt.js QoS 1, ${s} B, delivered to a QoS 1 subscriber`,
        runs[s].map((r) => r.delivered),
      ),
    ]),
    targets: [],
    notes: [
      'ceiling: bare Aedes (memory persistence, no hooks) in its own process; publisher and subscriber in this one',
      `10000 B ≈ one replication batch of 100 records: × 100 = records/s the bare broker could carry`,
    ],
  });
}
