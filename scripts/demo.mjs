#!/usr/bin/env node
// The demo behind `npm start`: the reference use case (SPEC §1) on one machine.
//   - starts tablemesh-hub and tablemesh-edge (built JS) with deploy/examples/*.yaml, data under var/demo/
//   - the "cloud" writes thresholds on the hub; the edge receives them (subscribe)
//   - the "edge app" writes sensor_data locally every 200 ms, reads the threshold locally, and on a violation
//     writes an alert carrying the sensor rows of the last 60 s, in one local request; alerts go up (publish)
//   - every few seconds it shows what the hub has received
// Ctrl-C stops everything. TM_DEMO_SECONDS=N stops after N seconds and exits 0 only if alerts reached the hub.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = process.env.TM_DEMO_DIR ?? join(root, 'var', 'demo');
const seconds = Number(process.env.TM_DEMO_SECONDS ?? 0);
const token = process.env.TM_HUB_HTTP__TOKEN ?? randomBytes(16).toString('hex');
const children = [];

function start(name, bin, args, env) {
  const child = spawn(process.execPath, [join(root, bin), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 15 s`)), 15_000);
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      for (;;) {
        const nl = buffer.indexOf('\n');
        if (nl < 0) break;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const entry = JSON.parse(line);
          if (entry.level >= 40) console.log(`  [${name}] ${entry.msg}`);
          if (/started$/.test(entry.msg)) {
            clearTimeout(timer);
            resolve(entry);
          }
        } catch {
          // not JSON
        }
      }
    });
    child.stderr.on('data', (chunk) => process.stderr.write(`  [${name}] ${chunk}`));
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

async function http(base, method, path, body, auth) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function stopAll() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
}

async function main() {
  mkdirSync(dataDir, { recursive: true });
  console.log(`tablemesh demo — data in ${dataDir}`);
  const hub = await start(
    'hub',
    'packages/hub/dist/bin.js',
    [
      '--config',
      'deploy/examples/hub.yaml',
      '--set',
      `dataDir=${join(dataDir, 'hub')}`,
      '--set',
      'mqtt.host=127.0.0.1',
      '--set',
      'mqtt.port=0',
      '--set',
      'http.port=0',
    ],
    { TM_HUB_HTTP__TOKEN: token },
  );
  const edge = await start(
    'edge1',
    'packages/edge/dist/bin.js',
    [
      '--config',
      'deploy/examples/edge.yaml',
      '--set',
      `dataDir=${join(dataDir, 'edge1')}`,
      '--set',
      `hub.url=mqtt://127.0.0.1:${hub.mqttPort}`,
      '--set',
      'http.port=0',
    ],
    {},
  );
  const hubApi = `http://127.0.0.1:${hub.httpPort}`;
  const edgeApi = `http://127.0.0.1:${edge.httpPort}`;
  console.log(`hub  MQTT 127.0.0.1:${hub.mqttPort}, API ${hubApi} (token ${token})`);
  console.log(`edge API ${edgeApi}\n`);

  let max = 30;
  await http(hubApi, 'PUT', '/thresholds/temp', { sensor: 'temp', max }, true);
  console.log(`cloud: threshold temp.max = ${max}`);

  const startedAt = Date.now();
  let n = 0;
  let alerts = 0;
  let lastReport = 0;
  for (;;) {
    if (seconds > 0 && Date.now() - startedAt > seconds * 1000) break;
    const ts = Date.now();
    const value = 22 + 10 * Math.sin(n / 15) + Math.random() * 2;
    const id = `temp-${ts}-${n++}`;
    await http(edgeApi, 'PUT', `/sensor_data/${id}`, { sensor: 'temp', ts, value: Number(value.toFixed(2)) });
    const threshold = await http(edgeApi, 'GET', '/thresholds/temp');
    const limit = threshold.status === 200 ? threshold.body.max : undefined;
    if (limit !== undefined && value > limit) {
      const window = await http(edgeApi, 'GET', `/sensor_data/?sensor="temp"&ts.ge=${ts - 60_000}&sort=ts`);
      const rows = window.body.map((r) => ({ ts: r.ts, value: r.value }));
      const alert = { id: `alert-${ts}`, sensor: 'temp', value: Number(value.toFixed(2)), limit, rows };
      const res = await http(edgeApi, 'POST', '/_batch', {
        writes: [{ table: 'alerts', ops: [{ kind: 'put', key: alert.id, attrs: alert }] }],
      });
      if (res.status === 200) {
        alerts++;
        console.log(
          `edge app: ${value.toFixed(1)} > ${limit} → alert ${alert.id} with ${rows.length} rows of the last 60 s`,
        );
      }
    }
    if (Date.now() - lastReport > 5_000) {
      lastReport = Date.now();
      const atHub = await http(hubApi, 'GET', '/alerts/?select=id', undefined, true);
      console.log(`hub: ${atHub.body.length} alerts received (${alerts} raised at the edge)`);
      max = max === 30 ? 28 : 30;
      await http(hubApi, 'PUT', '/thresholds/temp', { sensor: 'temp', max }, true);
      console.log(`cloud: threshold temp.max = ${max}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1_000));
  const atHub = await http(hubApi, 'GET', '/alerts/?select=id', undefined, true);
  console.log(`\ndone: ${alerts} alerts raised at the edge, ${atHub.body.length} at the hub`);
  stopAll();
  process.exitCode = alerts > 0 && atHub.body.length === alerts ? 0 : 1;
}

process.on('SIGINT', () => {
  stopAll();
  process.exit(0);
});
main().catch((err) => {
  console.error(`demo failed: ${err.message}`);
  stopAll();
  process.exit(1);
});
