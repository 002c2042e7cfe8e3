#!/usr/bin/env node
// The demo behind `npm start`: the reference use case (SPEC §1) on one machine, with a live status line.
//   - starts tablemesh-hub and tablemesh-edge (the built JS) with deploy/examples/{hub,edge}.yaml, on loopback,
//     random free ports, embedded LevelDB under ./.tablemesh-demo/ (emptied at each start)
//   - runs examples/sensor-alerts: the edge app writes sensor_data locally, is pushed thresholds, and raises
//     alerts (with the sensor rows of the last 60 s) that the edge publishes to the hub; the cloud side changes the
//     threshold every 15 s on the hub
//   - the status line shows thresholds received, sensor rows written, alerts sent (and held by the hub), the
//     edge's outbox backlog (tablemesh_backlog_count from its /metrics) and the link state
// Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or SIGTERM stops the app, then the hub and
// the edge (SIGTERM, SIGKILL after 10 s), and exits once both are gone. The pids of the demo and of its children
// are printed, and written with the URLs and the hub token to .tablemesh-demo/demo.json (mode 0600) while it runs.
//
// Environment: TM_DEMO_DIR (data directory, default ./.tablemesh-demo), TM_DEMO_SECONDS=N (stop after N seconds;
// exit 0 only if alerts were raised and every one reached the hub), TM_HUB_HTTP__TOKEN (default: random). edge1's
// MQTT secret is random per run, given to the hub as TM_HUB_NODES__0__SECRET and to the edge as TM_EDGE_HUB__PASSWORD.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubClient, setThreshold } from '../examples/sensor-alerts/cloud.mjs';
import { startEdgeApp } from '../examples/sensor-alerts/edge-app.mjs';
import { client } from '../examples/sensor-alerts/http.mjs';
import { simulatedSensors } from '../examples/sensor-alerts/sensor.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = process.env.TM_DEMO_DIR ?? join(root, '.tablemesh-demo');
const MARKER = '.tablemesh-demo'; // only a directory holding this file is ever emptied
const seconds = Number(process.env.TM_DEMO_SECONDS ?? 0);
const token = process.env.TM_HUB_HTTP__TOKEN ?? randomBytes(16).toString('hex');
// MQTT secrets of edge1 and edge2 (nodes[0] and nodes[1] of hub.yaml); only edge1 runs in the demo.
const edgeSecret = randomBytes(16).toString('hex');
const tty = process.stdout.isTTY === true;
const children = [];
let stopping = false;

// ---- output: event lines above one status line (redrawn in a terminal, printed every 5 s otherwise) ----

let statusText = '';
function say(line) {
  if (tty && statusText) process.stdout.write(`\r\x1b[2K${line}\n${statusText}`);
  else console.log(line);
}
function showStatus(text) {
  statusText = text;
  if (tty) process.stdout.write(`\r\x1b[2K${text}`);
}
function clearStatus() {
  if (tty && statusText) process.stdout.write('\r\x1b[2K');
  statusText = '';
}

// ---- processes ----

function prepareDataDir() {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    if (!existsSync(join(dataDir, MARKER))) {
      throw new Error(
        `${dataDir} is not empty and was not made by the demo; refusing to use it (set TM_DEMO_DIR)`,
      );
    }
    for (const name of ['hub', 'edge1', 'demo.json', 'hub.log', 'edge1.log'])
      rmSync(join(dataDir, name), { recursive: true, force: true });
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, MARKER), 'made by `npm start` (scripts/demo.mjs); emptied at each start\n');
}

/** Spawns a node binary and resolves with its JSON start line (which carries the ports). */
function start(name, bin, args, env) {
  const child = spawn(process.execPath, [join(root, bin), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const log = createWriteStream(join(dataDir, `${name}.log`));
  child.stdout.pipe(log);
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 15 s`)), 15_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          continue; // not a log line
        }
        if (entry.level >= 40 && !stopping) say(`  [${name}] ${entry.msg}`); // warnings and errors; all in the log file
        if (entry.msg === `tablemesh-${name === 'hub' ? 'hub' : 'edge'} started`) {
          clearTimeout(timer);
          resolve(entry);
        }
      }
    });
    child.stderr.on('data', (chunk) => process.stderr.write(`  [${name}] ${chunk}`));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (code ${code}, signal ${signal})`));
      if (!stopping) {
        say(`${name} exited unexpectedly (code ${code}, signal ${signal}); stopping the demo`);
        void shutdown(1);
      }
    });
  });
}

const running = (child) => child.exitCode === null && child.signalCode === null;

/** SIGTERM every child (they may already have had the terminal's SIGINT), SIGKILL after 10 s; resolves once gone. */
function stopChildren() {
  return Promise.all(
    children.filter(running).map(
      (child) =>
        new Promise((resolve) => {
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

let app;
const timers = [];

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  for (const timer of timers) clearInterval(timer);
  clearStatus();
  console.log('stopping the edge app, the edge and the hub …');
  await Promise.race([app?.stop(), new Promise((r) => setTimeout(r, 3_000))]);
  await stopChildren();
  rmSync(join(dataDir, 'demo.json'), { force: true });
  console.log(`stopped; data kept in ${relative(process.cwd(), dataDir) || '.'} until the next start`);
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('exit', () => {
  for (const child of children) if (running(child)) child.kill('SIGKILL'); // last resort: never leave one behind
});

// ---- the demo ----

async function main() {
  prepareDataDir();
  const shown = relative(root, dataDir).startsWith('..') ? dataDir : relative(root, dataDir);
  console.log(`tablemesh demo — the reference use case on one machine (data in ${shown})`);
  const hubLine = await start(
    'hub',
    'packages/hub/dist/bin.js',
    ['--config', 'deploy/examples/hub.yaml']
      .concat(['--set', `dataDir=${join(dataDir, 'hub')}`, '--set', 'mqtt.host=127.0.0.1'])
      .concat(['--set', 'mqtt.port=0', '--set', 'http.port=0']),
    {
      TM_HUB_HTTP__TOKEN: token,
      TM_HUB_NODES__0__SECRET: edgeSecret,
      TM_HUB_NODES__1__SECRET: randomBytes(16).toString('hex'),
    },
  );
  const edgeLine = await start(
    'edge1',
    'packages/edge/dist/bin.js',
    ['--config', 'deploy/examples/edge.yaml', '--set', `dataDir=${join(dataDir, 'edge1')}`].concat([
      '--set',
      `hub.url=mqtt://127.0.0.1:${hubLine.mqttPort}`,
      '--set',
      'http.port=0',
    ]),
    { TM_EDGE_HUB__PASSWORD: edgeSecret },
  );
  const [hubProc, edgeProc] = children;
  const pids = { demo: process.pid, hub: hubProc.pid, edge: edgeProc.pid };
  const hubUrl = `http://127.0.0.1:${hubLine.httpPort}`;
  const edgeUrl = `http://127.0.0.1:${edgeLine.httpPort}`;
  const about = {
    pids,
    hub: { api: hubUrl, mqtt: `mqtt://127.0.0.1:${hubLine.mqttPort}`, token },
    edge: { api: edgeUrl },
  };
  writeFileSync(join(dataDir, 'demo.json'), `${JSON.stringify(about, null, 2)}\n`, { mode: 0o600 });
  console.log(`hub   MQTT 127.0.0.1:${hubLine.mqttPort}  API ${hubUrl}  (pid ${pids.hub})`);
  console.log(`edge1 API ${edgeUrl}  (pid ${pids.edge}; loopback only, its one outbound link is MQTT)`);
  console.log(`demo  pid ${pids.demo}; Ctrl-C stops everything`);
  console.log(
    `try:  curl -s -H 'Authorization: Bearer ${token}' '${hubUrl}/alerts/?select=id,sensor,value,rowCount'\n`,
  );

  const hub = hubClient(hubUrl, token);
  const edge = client(edgeUrl);
  let max = 30;
  await setThreshold(hub, 'temp', { max });
  say(`cloud: thresholds/temp max = ${max} (written on the hub)`);

  let watching = false;
  app = startEdgeApp({
    edge: edgeUrl,
    sensors: ['temp'],
    intervalMs: 200,
    readSensor: simulatedSensors({ periodMs: 12_000 }),
    onEvent: (e) => {
      if (e.type === 'threshold') say(`edge app: thresholds/${e.sensor} max = ${e.max} arrived at the edge`);
      else if (e.type === 'alert') {
        say(
          `edge app: ${e.sensor} ${e.value} > ${e.threshold.max} → alert with ${e.rows} rows of the last 60 s`,
        );
      } else if (e.type === 'watching') {
        if (!watching) say("edge app: subscribed to the edge's thresholds change stream (SSE)");
        watching = true;
      } else say(`edge app: ${e.message}`);
    },
  });

  const startedAt = Date.now();
  const view = { atHub: 0, backlog: 0, link: '?' };
  const refresh = async () => {
    const [digest, metrics, health] = await Promise.allSettled([
      hub.request('GET', '/_digest/alerts'),
      edge.request('GET', '/metrics'),
      edge.request('GET', '/health'),
    ]);
    if (digest.status === 'fulfilled') view.atHub = digest.value.count;
    if (metrics.status === 'fulfilled') view.backlog = sumMetric(metrics.value, 'tablemesh_backlog_count');
    if (health.status === 'fulfilled') view.link = health.value.link;
  };
  const line = () => {
    const s = app.stats;
    const t = Math.round((Date.now() - startedAt) / 1000);
    return (
      `[${t}s] link ${view.link} │ thresholds received ${s.thresholdsReceived} │ sensor rows written ` +
      `${s.rowsWritten} │ alerts sent ${s.alertsSent} (at the hub ${view.atHub}) │ backlog ${view.backlog}`
    );
  };
  let lastPrinted = 0;
  timers.push(
    setInterval(() => {
      void refresh().then(() => {
        if (stopping) return;
        if (tty) showStatus(line());
        else if (Date.now() - lastPrinted >= 5_000) {
          lastPrinted = Date.now();
          console.log(line());
        }
      });
    }, 1_000),
    setInterval(() => {
      max = max === 30 ? 28 : 30;
      void setThreshold(hub, 'temp', { max }).then(
        () => say(`cloud: thresholds/temp max = ${max} (written on the hub)`),
        (err) => say(`cloud: ${err.message}`),
      );
    }, 15_000),
  );

  if (seconds > 0) {
    await new Promise((r) => setTimeout(r, seconds * 1000));
    await app.stop();
    const deadline = Date.now() + 10_000;
    await refresh();
    while ((view.backlog > 0 || view.atHub < app.stats.alertsSent) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      await refresh();
    }
    clearStatus();
    console.log(line());
    const ok = app.stats.alertsSent > 0 && view.atHub === app.stats.alertsSent;
    console.log(ok ? 'done: every alert reached the hub' : 'done: NOT every alert reached the hub');
    await shutdown(ok ? 0 : 1);
  }
}

/** Sum of a metric's samples in Prometheus text (all label sets). */
function sumMetric(text, name) {
  let sum = 0;
  for (const l of text.split('\n'))
    if (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) sum += Number(l.split(' ').pop());
  return sum;
}

main().catch((err) => {
  if (stopping) return;
  clearStatus();
  console.error(`demo failed: ${err.message}`);
  void shutdown(1);
});
