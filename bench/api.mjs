// Data API benchmark (SPEC §10, issue 4): durable local writes through the edge's HTTP API, over the built binaries
// as real processes (a hub and an edge on loopback), next to the ceilings measured in the same run:
//   - LevelDB batch-100 with fsync and single put with fsync (raw classic-level),
//   - the store alone with the same shapes of work (8 writers × 1 outstanding single-op tx; 8 writers × 100-op tx),
//   - the API: 1 record per request with 8 concurrent clients (PUT), and 100 records per request (POST /_batch)
//     with 8 concurrent clients (raw keep-alive sockets, see RawHttp; PUT local once more with node:http's
//     client), each on a local table and on a table the edge publishes to the hub (after each API run the
//     edge's outbox is drained to the hub before the next measure starts, so replication does not slow the
//     next one down; the published rates include the replication running during their own run).
// Ceilings and store first, then the API (runs interleaved within each phase); medians of BENCH_RUNS (3) runs of
// BENCH_MS (2000) ms.
// Needs `npm run build`. Run: node bench/api.mjs [--json]
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { ClassicLevel } from 'classic-level';
import { LevelKv, Store } from '../packages/core/dist/index.js';
import { Testkit } from '../packages/testkit/dist/index.js';
import { median, RUN_MS, RUNS, report, sensorRow, withTempDir } from './_lib.mjs';

const CLIENTS = 8;
const rowBytes = (i) => Buffer.from(JSON.stringify(sensorRow(i)));

async function timed(loop, writers) {
  const start = performance.now();
  const deadline = start + RUN_MS;
  let done = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline) {
        const n = await loop(); // not `done += await loop()`: that reads `done` before the await and loses counts
        done += n;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

function rawLevel(perBatch) {
  return withTempDir('tm-bench-', async (dir) => {
    const db = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    let n = 0;
    try {
      return await timed(async () => {
        const ops = [];
        for (let j = 0; j < perBatch; j++, n++) ops.push({ type: 'put', key: `r/${n}`, value: rowBytes(n) });
        await db.batch(ops, { sync: true });
        return perBatch;
      }, 1);
    } finally {
      await db.close();
    }
  });
}

function storeWriters(perTx) {
  return withTempDir('tm-bench-', async (dir) => {
    const store = await Store.open({ kv: new LevelKv(dir), nodeId: 'bench' });
    try {
      await store.createTable({ name: 'sensors' });
      let n = 0;
      return await timed(async () => {
        const ops = [];
        for (let j = 0; j < perTx; j++, n++) ops.push({ kind: 'put', key: `r${n}`, attrs: sensorRow(n) });
        await store.writeLocal([{ table: 'sensors', ops }]);
        return perTx;
      }, CLIENTS);
    } finally {
      await store.close();
    }
  });
}

/** Waits until the edge has sent everything to the hub, so replication does not run into the next measure. */
async function settle(edge) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const backlog = (await edge.http.metrics()).sum('tablemesh_backlog_count');
    if (backlog === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the edge did not drain its outbox within 120 s');
}

/**
 * One keep-alive HTTP/1.1 connection with one request outstanding: the load generator kept cheap (a raw socket,
 * as autocannon does), so the rate is the edge's and not this process's. On the 2-core dev VM node:http's client
 * (keep-alive agent) took 150–450 µs of CPU per PUT and this one 35–100 µs, while the edge's main thread spends
 * 120–230 µs: with node:http the client alone ate most of a core the edge and the hub needed (the `node:http
 * client` measure keeps the comparison). Every answer is read in full: status line, headers, the Content-Length
 * body; the caller checks status and body.
 */
class RawHttp {
  constructor(port) {
    this.port = port;
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.buf = Buffer.alloc(0);
    this.pending = undefined;
    this.socket.on('data', (chunk) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.parse();
    });
    const fail = (err) => {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(err ?? new Error('connection closed'));
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail());
  }

  /** Sends one request; resolves with `{status, text}` once the whole answer is read. */
  request(method, path, body) {
    if (this.pending) throw new Error('one request at a time per connection');
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const head =
      `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${this.port}\r\n` +
      (payload ? `content-type: application/json\r\ncontent-length: ${payload.length}\r\n` : '') +
      '\r\n';
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.write(payload ? Buffer.concat([Buffer.from(head, 'latin1'), payload]) : head);
    });
  }

  parse() {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.toString('latin1', 0, end);
    const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!status || !length) {
      this.pending?.reject(new Error(`unexpected answer head: ${head.slice(0, 200)}`));
      this.pending = undefined;
      this.socket.destroy();
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.buf.length < total) return;
    const text = this.buf.toString('utf8', end + 4, total);
    this.buf = this.buf.subarray(total);
    const p = this.pending;
    this.pending = undefined;
    p?.resolve({ status, text });
  }

  close() {
    this.socket.destroy();
  }
}

/** CPU seconds (user + system) of a process so far, all threads, or only its main thread. */
function cpuOf(pid, mainOnly = false) {
  const stat = readFileSync(mainOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks (USER_HZ 100 on Linux)
}

/** CPU per request of each API measure's runs: edge (all threads, main thread) and this client, µs. */
const cpuPerRequest = new Map();

let run = 0;
async function api(edge, table, perRequest, client = 'raw') {
  const prefix = `run${run++}-`;
  let n = 0;
  const conns = client === 'raw' ? Array.from({ length: CLIENTS }, () => new RawHttp(edge.httpPort)) : [];
  const free = [...conns]; // each of the CLIENTS writers holds one connection while its request is out
  const request = async (method, path, body) => {
    if (client !== 'raw') return edge.http.request(method, path, body);
    const conn = free.pop();
    try {
      return await conn.request(method, path, body);
    } finally {
      free.push(conn);
    }
  };
  let requests = 0;
  const edge0 = cpuOf(edge.pid);
  const main0 = cpuOf(edge.pid, true);
  const self0 = process.cpuUsage();
  const rate = await timed(async () => {
    requests++;
    if (perRequest === 1) {
      const i = n++;
      const key = `${prefix}${i}`;
      const res = await request('PUT', `/${table}/${key}`, sensorRow(i));
      if (res.status !== 200 || JSON.parse(res.text).key !== key)
        throw new Error(`PUT answered ${res.status}: ${res.text}`);
      return 1;
    }
    const ops = [];
    for (let j = 0; j < perRequest; j++, n++)
      ops.push({ kind: 'put', key: `${prefix}${n}`, attrs: sensorRow(n) });
    const res = await request('POST', '/_batch', { writes: [{ table, ops }] });
    if (res.status !== 200 || JSON.parse(res.text).transactions?.[0]?.ops !== perRequest)
      throw new Error(`POST /_batch answered ${res.status}: ${res.text}`);
    return perRequest;
  }, CLIENTS);
  const self = process.cpuUsage(self0);
  const us = (s) => Math.round((s * 1e6) / requests);
  const figures = {
    edge: us(cpuOf(edge.pid) - edge0),
    edgeMain: us(cpuOf(edge.pid, true) - main0),
    client: us((self.user + self.system) / 1e6),
  };
  const key = `${table} ${perRequest} ${client}`;
  cpuPerRequest.set(key, [...(cpuPerRequest.get(key) ?? []), figures]);
  for (const c of conns) c.close();
  await settle(edge);
  return rate;
}

/** 1,600 PUTs per table before anything is timed, so the first measure does not pay for the edge's JIT warm-up. */
async function warmUp(edge, tables) {
  for (const table of tables) {
    const conns = Array.from({ length: CLIENTS }, () => new RawHttp(edge.httpPort));
    await Promise.all(
      conns.map(async (conn, w) => {
        for (let i = 0; i < 200; i++) {
          const res = await conn.request('PUT', `/${table}/warm-${w}-${i}`, sensorRow(i));
          if (res.status !== 200) throw new Error(`PUT answered ${res.status}: ${res.text}`);
        }
      }),
    );
    for (const c of conns) c.close();
  }
  await settle(edge);
}

/** Interleaves the runs of `measures` (A B C, A B C, …) so slow drift spreads over all of them. */
async function measureAll(measures) {
  const runs = measures.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (const [i, m] of measures.entries()) runs[i].push(await m.run());
  }
  return measures.map((m, i) => ({ name: m.name, unit: m.unit, runs: runs[i], median: median(runs[i]) }));
}

// Phase 1, before any node runs: the ceilings and the store alone (the API runs leave LevelDB compactions behind
// in the edge and the hub, which would slow whatever is measured next).
const ceilings = await measureAll([
  { name: 'leveldb batch-100 fsync (ceiling)', unit: 'records/s', run: () => rawLevel(100) },
  { name: 'leveldb single put fsync (ceiling)', unit: 'ops/s', run: () => rawLevel(1) },
  { name: 'store, 8 writers × 1-op tx', unit: 'records/s', run: () => storeWriters(1) },
  { name: 'store, 8 writers × 100-op tx', unit: 'records/s', run: () => storeWriters(100) },
]);

// Phase 2: the API of a running edge (with its hub).
const kit = new Testkit('tm-bench-api-');
try {
  const hub = await kit.startHub({ nodes: [{ id: 'edgeA', publish: ['published'] }] });
  const edge = await kit.startEdge({
    name: 'edgeA',
    hub,
    publish: [{ table: 'published', quotaBytes: '4GiB' }],
    tables: [{ name: 'local' }],
  });
  await warmUp(edge, ['local', 'published']);
  const apis = await measureAll([
    { name: 'API PUT, 8 clients, local table', unit: 'records/s', run: () => api(edge, 'local', 1) },
    { name: 'API PUT, 8 clients, published table', unit: 'records/s', run: () => api(edge, 'published', 1) },
    { name: 'API _batch of 100, 8 clients, local', unit: 'records/s', run: () => api(edge, 'local', 100) },
    {
      name: 'API _batch of 100, 8 clients, published',
      unit: 'records/s',
      run: () => api(edge, 'published', 100),
    },
    {
      name: 'API PUT, 8 clients, local, node:http client',
      unit: 'records/s',
      run: () => api(edge, 'local', 1, 'node:http'),
    },
  ]);
  const results = [...ceilings, ...apis];
  const [batch, , store1, store100, putLocal, putPublished, batchLocal, batchPublished] = results.map(
    (r) => r.median,
  );
  const targets = [
    { name: 'API PUT 8 clients, k records/s (SPEC §10: ≥ 8)', value: putPublished / 1000, target: 8 },
    { name: 'API PUT / store 1-op (same work without HTTP)', value: putPublished / store1, target: 0.5 },
    { name: 'API _batch 100 / batch-100 fsync ceiling', value: batchPublished / batch, target: 0.2 },
  ].map((t) => ({ ...t, pass: t.value >= t.target }));
  report({
    scenario: 'api',
    runsPerMeasure: RUNS,
    runMs: RUN_MS,
    measures: results,
    targets,
    notes: [
      `HTTP + JSON cost: PUT local at ${((putLocal / store1) * 100).toFixed(0)}% of the store's 1-op rate, ` +
        `_batch local at ${((batchLocal / store100) * 100).toFixed(0)}% of its 100-op rate`,
      'the edge runs as its own process; the client (this process) and the hub share the machine with it',
      'clients: 8 keep-alive connections on raw sockets (one request outstanding each, answers read in full), ' +
        "except the 'node:http client' measure (the testkit's HttpClient, node:http with a keep-alive agent)",
      ...[...cpuPerRequest].map(([key, runs]) => {
        const med = (k) => median(runs.map((r) => r[k]));
        return (
          `CPU per request (${key}, median of ${runs.length}): edge ${med('edge')} µs ` +
          `(main thread ${med('edgeMain')} µs), client ${med('client')} µs`
        );
      }),
    ],
  });
} finally {
  await kit.cleanup();
}
