#!/usr/bin/env node
// The edge app of the reference use case (SPEC §1). It talks only to its local tablemesh-edge over HTTP:
//   - every reading goes into `sensor_data` — a local table (not published; the edge expires rows after an hour)
//   - `thresholds` is owned by the cloud: the edge subscribes to it, the app reads it locally and is pushed
//     every change (Server-Sent Events from the edge)
//   - when a reading crosses its threshold, the app writes one `alerts` record holding the sensor rows of the
//     preceding 60 s; a window too large for one record goes in `alert_chunks` records keyed by the alert id,
//     written in the same local request (all or nothing). The edge publishes both tables to the hub, holding them
//     in its durable outbox while the link is down.
//
// Run it next to an edge (deploy/examples/edge.yaml):   node examples/sensor-alerts/edge-app.mjs --edge http://127.0.0.1:9380
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { client, watchTable } from './http.mjs';
import { simulatedSensors } from './sensor.mjs';

/** Defaults of startEdgeApp, with units. */
export const APP_DEFAULTS = Object.freeze({
  edge: 'http://127.0.0.1:9380', // the local edge's HTTP API
  sensors: ['temp'],
  intervalMs: 200, // ms between readings of each sensor
  windowMs: 60_000, // ms of sensor rows an alert carries
  maxRecordBytes: 64 * 1024, // bytes of rows kept inline in the alert; more go to alert_chunks (edge limit 128 KiB)
  hysteresis: 1, // a sensor in alarm clears once back inside its threshold by this much
});

const bytes = (value) => Buffer.byteLength(JSON.stringify(value));
const sleep = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/** Splits rows into groups of at most `budget` bytes of JSON each (a row larger than that gets a group of its own). */
export function chunkRows(rows, budget) {
  const chunks = [];
  let current = [];
  let size = 2;
  for (const row of rows) {
    const rowSize = bytes(row) + 1;
    if (current.length > 0 && size + rowSize > budget) {
      chunks.push(current);
      current = [];
      size = 2;
    }
    current.push(row);
    size += rowSize;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/**
 * The alert record for a violation, plus its chunk records when the rows do not fit in `maxRecordBytes`:
 * `{ alert, chunks }`. An alert always says how many rows it covers (`rowCount`) and in how many chunks.
 */
export function buildAlert({
  id = randomUUID(),
  edge,
  sensor,
  ts,
  value,
  threshold,
  rows,
  windowMs,
  maxRecordBytes,
}) {
  const alert = {
    id,
    edge,
    sensor,
    ts,
    value,
    threshold: { max: threshold.max ?? null, min: threshold.min ?? null },
    window: { from: ts - windowMs, to: ts },
    rowCount: rows.length,
    chunks: 0,
    rows,
  };
  if (bytes(alert) <= maxRecordBytes) return { alert, chunks: [] };
  const parts = chunkRows(rows, maxRecordBytes - 256); // room for the chunk's own attributes
  const chunks = parts.map((part, i) => ({ id: `${id}:${i}`, alertId: id, part: i, rows: part }));
  return { alert: { ...alert, rows: [], chunks: chunks.length }, chunks };
}

/** True when `value` is outside `threshold` (`max` and/or `min`). */
export function violates(threshold, value) {
  if (!threshold) return false;
  return (
    (typeof threshold.max === 'number' && value > threshold.max) ||
    (typeof threshold.min === 'number' && value < threshold.min)
  );
}

/**
 * Starts the app; `onEvent` receives `{type: 'threshold' | 'alert' | 'watching' | 'error', …}`. Returns live `stats`
 * and `stop()`. `readSensor(sensor, nowMs)` gives a reading (default: simulated).
 */
export function startEdgeApp(options = {}) {
  const o = { ...APP_DEFAULTS, readSensor: simulatedSensors(), onEvent: () => {}, ...options };
  const api = client(o.edge);
  const abort = new AbortController();
  const { signal } = abort;
  const stats = { thresholdsReceived: 0, rowsWritten: 0, alertsSent: 0, errors: 0 };
  const thresholds = new Map(); // sensor → its thresholds record (the edge's local copy, kept current by push)
  const inAlarm = new Set();
  const emit = (event) => o.onEvent(event);
  const fail = (err) => {
    stats.errors++;
    emit({ type: 'error', message: err?.message ?? String(err) });
  };

  const watching = watchTable(api, 'thresholds', {
    signal,
    onRecord: (sensor, record) => {
      stats.thresholdsReceived++;
      if (record === null) thresholds.delete(sensor);
      else thresholds.set(sensor, record);
      emit({ type: 'threshold', sensor, max: record?.max ?? null, min: record?.min ?? null });
    },
    onConnected: () => emit({ type: 'watching', table: 'thresholds' }),
    onError: fail,
  });

  async function raiseAlert(edge, sensor, ts, value, threshold) {
    const window = await api.query('sensor_data', {
      sensor: JSON.stringify(sensor), // a quoted value is always a string ("1" is not 1)
      'ts.ge': ts - o.windowMs,
      'ts.le': ts,
      sort: 'ts',
    });
    const rows = window.map((r) => ({ ts: r.ts, value: r.value }));
    const { windowMs, maxRecordBytes } = o;
    const { alert, chunks } = buildAlert({
      edge,
      sensor,
      ts,
      value,
      threshold,
      rows,
      windowMs,
      maxRecordBytes,
    });
    // One local request: the alert and its chunks commit together, or not at all (SPEC §4).
    await api.batch([
      { table: 'alerts', ops: [{ kind: 'put', key: alert.id, attrs: alert }] },
      ...(chunks.length > 0
        ? [{ table: 'alert_chunks', ops: chunks.map((c) => ({ kind: 'put', key: c.id, attrs: c })) }]
        : []),
    ]);
    stats.alertsSent++;
    emit({
      type: 'alert',
      id: alert.id,
      sensor,
      value,
      threshold: alert.threshold,
      rows: rows.length,
      chunks: chunks.length,
    });
  }

  async function sample(edge, sensor) {
    const ts = Date.now();
    const value = o.readSensor(sensor, ts);
    await api.request('POST', '/sensor_data/', { sensor, ts, value }); // id generated by the edge (UUIDv7)
    stats.rowsWritten++;
    const threshold = thresholds.get(sensor);
    if (violates(threshold, value)) {
      if (inAlarm.has(sensor)) return; // one alert per excursion, not one per reading
      inAlarm.add(sensor);
      try {
        await raiseAlert(edge, sensor, ts, value, threshold);
      } catch (err) {
        inAlarm.delete(sensor); // not recorded (e.g. 507 outbox full): try again with the next reading
        throw err;
      }
    } else if (inAlarm.has(sensor)) {
      const back = {
        max: (threshold?.max ?? Infinity) - o.hysteresis,
        min: (threshold?.min ?? -Infinity) + o.hysteresis,
      };
      if (!violates(back, value)) inAlarm.delete(sensor);
    }
  }

  async function loop() {
    let edge;
    while (!signal.aborted && edge === undefined) {
      edge = await api.request('GET', '/health').then((h) => h.node, fail);
      if (edge === undefined) await sleep(1_000, signal);
    }
    while (!signal.aborted) {
      const started = Date.now();
      for (const sensor of o.sensors) await sample(edge, sensor).catch(fail);
      await sleep(Math.max(0, o.intervalMs - (Date.now() - started)), signal);
    }
  }
  const running = loop();

  return {
    stats,
    /** Stops reading and watching; resolves once the last request finished. */
    async stop() {
      abort.abort();
      await Promise.allSettled([running, watching]);
    },
  };
}

function describe(event) {
  switch (event.type) {
    case 'threshold':
      return `threshold ${event.sensor}: ${event.max === null && event.min === null ? 'removed' : `max ${event.max}${event.min === null ? '' : `, min ${event.min}`}`}`;
    case 'alert':
      return `alert ${event.id}: ${event.sensor} = ${event.value} (max ${event.threshold.max}) with ${event.rows} rows${event.chunks ? ` in ${event.chunks} chunks` : ''}`;
    case 'watching':
      return "thresholds: watching the edge's change stream (SSE)";
    default:
      return `error: ${event.message}`;
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      edge: { type: 'string', default: process.env.TM_EDGE_URL ?? APP_DEFAULTS.edge },
      sensors: { type: 'string', default: APP_DEFAULTS.sensors.join(',') },
      'interval-ms': { type: 'string', default: String(APP_DEFAULTS.intervalMs) },
      'window-ms': { type: 'string', default: String(APP_DEFAULTS.windowMs) },
      'max-record-bytes': { type: 'string', default: String(APP_DEFAULTS.maxRecordBytes) },
      'period-ms': { type: 'string', default: '20000' },
      seed: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'usage: edge-app.mjs [--edge URL] [--sensors a,b] [--interval-ms N] [--window-ms N] [--max-record-bytes N]\n' +
        '                    [--period-ms N] [--seed N] [--json]\n' +
        'Writes simulated readings to the local edge and raises alerts on threshold violations. Ctrl-C stops it.',
    );
    return;
  }
  const app = startEdgeApp({
    edge: values.edge,
    sensors: values.sensors.split(',').filter(Boolean),
    intervalMs: Number(values['interval-ms']),
    windowMs: Number(values['window-ms']),
    maxRecordBytes: Number(values['max-record-bytes']),
    readSensor: simulatedSensors({ periodMs: Number(values['period-ms']), seed: Number(values.seed) }),
    onEvent: (event) =>
      console.log(values.json ? JSON.stringify({ ...event, at: Date.now() }) : describe(event)),
  });
  const stop = async () => {
    await app.stop();
    if (values.json) console.log(JSON.stringify({ type: 'stopped', stats: app.stats }));
    else console.log(`stopped: ${app.stats.rowsWritten} readings, ${app.stats.alertsSent} alerts`);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
