// Hub memory per idle MQTT connection (SPEC §10 "hub memory per idle connection reported"): a hub in its own
// process (bench/_hub-child.mjs, --expose-gc) with BENCH_CONNECTIONS (default 2,000) authenticated, idle clients
// over TLS (server certificate from a throw-away CA made with `openssl`) and, for comparison, over plain TCP.
// Memory is read in the hub process after full GCs, before and after the connections; the difference divided by
// the count is the figure. The clients spread over 40 loopback source addresses (127.0.1.0 … 127.0.1.39, 50 each)
// so the hub's default per-address rate limit (10/s, burst 50) stays ON. A figure, not a target.
// Needs `npm run build`. Run: node bench/hub-connections.mjs [--json]
import { execFileSync, fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import mqttPacket from 'mqtt-packet';
import { median, RUNS, report, withTempDir } from './_lib.mjs';

const N = Number(process.env.BENCH_CONNECTIONS ?? 2_000);
const ADDRESSES = 40;
const TOKEN = 'bench-token-0123456789abcdef';

/** A throw-away CA and a hub certificate for 127.0.0.1, made with openssl in `dir`. */
function makeCerts(dir) {
  const openssl = (args) =>
    execFileSync('openssl', args.split(' '), { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const key = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';
  const caExt = '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign';
  openssl(`req -x509 ${key} -keyout ca-key.pem -out ca.pem -subj /CN=bench-ca -days 2 ${caExt}`);
  openssl(`req ${key} -keyout hub-key.pem -out hub.csr -subj /CN=localhost`);
  writeFileSync(join(dir, 'hub.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509 -req -in hub.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out hub.pem -days 2 -extfile hub.ext',
  );
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'hub.pem'), key: join(dir, 'hub-key.pem') };
}

function startHub(dir, certs) {
  const config = {
    dataDir: join(dir, 'hub'),
    durability: 'none',
    mqtt: {
      host: '127.0.0.1',
      port: 0,
      tls: { port: 0, cert: certs.cert, key: certs.key },
    },
    http: { host: '127.0.0.1', port: 0, token: TOKEN },
    heartbeatMs: 60_000,
    // plain config secrets: checked with one SHA-256 each, so 2,000 CONNECTs do not queue behind scrypt
    nodes: Array.from({ length: N }, (_, i) => ({
      id: `n${i}`,
      secret: `secret-of-n${i}`,
      publish: ['alerts'],
    })),
    log: { level: 'warn' },
  };
  const child = fork(new URL('./_hub-child.mjs', import.meta.url), [JSON.stringify(config)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () => new Promise((resolve) => child.once('message', resolve));
  return {
    ready: next(),
    measure: async () => {
      const reply = next();
      child.send({ measure: true });
      return (await reply).memory;
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.send({ stop: true });
      }),
  };
}

/** Opens one authenticated, idle MQTT connection; resolves with the socket once CONNACK 0 arrived. */
function connectOne(i, port, ca) {
  const localAddress = `127.0.1.${i % ADDRESSES}`;
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          keepalive: 60,
          clientId: `n${i}`,
          username: `n${i}`,
          password: Buffer.from(`secret-of-n${i}`),
        }),
      );
    };
    const socket = ca
      ? tls.connect({ host: '127.0.0.1', port, ca, localAddress, minVersion: 'TLSv1.2' }, onConnect)
      : net.connect({ host: '127.0.0.1', port, localAddress }, onConnect);
    const parser = mqttPacket.parser();
    parser.on('packet', (p) => {
      if (p.cmd === 'connack' && p.returnCode === 0) resolve(socket);
      else reject(new Error(`CONNACK ${p.returnCode}`));
    });
    socket.on('data', (d) => parser.parse(d));
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`connection ${i} closed before CONNACK`)));
  });
}

async function run(transport, certs) {
  return withTempDir('tm-bench-conns-', async (dir) => {
    const hub = startHub(dir, certs);
    const { ports } = await hub.ready;
    const before = await hub.measure();
    const ca = transport === 'tls' ? readFileSync(certs.ca) : undefined;
    const port = transport === 'tls' ? ports.tls : ports.tcp;
    const sockets = [];
    const started = performance.now();
    for (let i = 0; i < N; i += 100) {
      const batch = [];
      for (let j = i; j < Math.min(N, i + 100); j++) batch.push(connectOne(j, port, ca));
      sockets.push(...(await Promise.all(batch)));
    }
    const connectMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, 2_000)); // idle
    const after = await hub.measure();
    for (const s of sockets) s.destroy();
    await hub.stop();
    const per = (k) => (after[k] - before[k]) / N;
    return {
      rss: per('rss'),
      heapUsed: per('heapUsed'),
      external: per('external'),
      connectMs,
      baselineRssMb: before.rss / 2 ** 20,
      rssMb: after.rss / 2 ** 20,
    };
  });
}

await withTempDir('tm-bench-certs-', async (certDir) => {
  const certs = makeCerts(certDir);
  const runs = { tls: [], tcp: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const transport of ['tls', 'tcp']) runs[transport].push(await run(transport, certs));
  }
  const measure = (transport, key, name, unit) => ({
    name,
    median: median(runs[transport].map((x) => x[key])),
    unit,
    runs: runs[transport].map((x) => x[key]),
  });
  const tlsRss = median(runs.tls.map((x) => x.rss));
  const tcpRss = median(runs.tcp.map((x) => x.rss));
  report({
    scenario: `hub memory per idle connection (${N.toLocaleString('en-US')} connections)`,
    runsPerMeasure: RUNS,
    runMs: 0,
    measures: [
      measure('tls', 'rss', 'TLS: hub RSS per connection', 'bytes'),
      measure('tls', 'heapUsed', 'TLS: hub JS heap per connection', 'bytes'),
      measure('tls', 'external', 'TLS: hub external (buffers, OpenSSL) per connection', 'bytes'),
      measure('tcp', 'rss', 'TCP: hub RSS per connection', 'bytes'),
      measure('tcp', 'heapUsed', 'TCP: hub JS heap per connection', 'bytes'),
      measure('tls', 'rssMb', 'TLS: hub RSS with all connections', 'MiB'),
      measure('tls', 'baselineRssMb', 'hub RSS before (no connections)', 'MiB'),
      measure('tls', 'connectMs', `TLS: time to connect ${N}`, 'ms'),
    ],
    targets: [],
    notes: [
      `TLS per connection ≈ ${(tlsRss / 1024).toFixed(1)} KiB RSS (TCP ≈ ${(tcpRss / 1024).toFixed(1)} KiB): reported, not a target (SPEC §10)`,
      `clients spread over ${ADDRESSES} source addresses 127.0.1.x (${N / ADDRESSES} each) with the default rate limit on (10/s, burst 50)`,
      'server-authenticated TLS (no client certificates), password auth, MQTT keepalive 60 s, 2 s idle before measuring',
    ],
  });
});
