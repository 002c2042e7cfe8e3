#!/usr/bin/env node
// The cloud side of the reference use case: it owns `thresholds` (written on the hub, pushed down to every
// subscribed edge) and reads the `alerts` the edges publish up, with their sensor rows (inline, or in
// `alert_chunks` records keyed by the alert id). Everything goes through the hub's HTTP API with its bearer token.
//
//   node examples/sensor-alerts/cloud.mjs set temp 30 [--min 5]    write thresholds/temp
//   node examples/sensor-alerts/cloud.mjs alerts                     list the alerts the hub holds
//   node examples/sensor-alerts/cloud.mjs watch                      print alerts as they arrive
// Options: --hub URL (default http://127.0.0.1:9480 or TM_HUB_URL), --token T (default TM_HUB_TOKEN), --json.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { client, watchTable } from './http.mjs';

/** A client of the hub's API. */
export function hubClient(url, token) {
  if (!token) throw new Error('the hub API needs its bearer token (--token or TM_HUB_TOKEN)');
  return client(url, token);
}

/** Writes the thresholds of one sensor (a full replace: omitted bounds are removed). */
export function setThreshold(hub, sensor, { max, min }) {
  return hub.put('thresholds', sensor, {
    sensor,
    ...(max === undefined ? {} : { max }),
    ...(min === undefined ? {} : { min }),
  });
}

/** Every alert the hub holds, oldest first, without their rows (`select`), [] before the first one arrived. */
export function listAlerts(hub) {
  return hub.query('alerts', { sort: 'ts', select: 'id,edge,sensor,ts,value,threshold,rowCount,chunks' });
}

/**
 * The alert with all its rows: inline, or gathered from its chunk records in part order. `complete` is false
 * while some chunks have not arrived yet (the two tables replicate independently, SPEC §1 and §5).
 */
export async function fullAlert(hub, id) {
  const alert = await hub.get('alerts', id);
  if (!alert) return undefined;
  if (!alert.chunks) return { ...alert, complete: alert.rows.length === alert.rowCount };
  const parts = await hub.query('alert_chunks', { alertId: JSON.stringify(id), sort: 'part' });
  const rows = parts.flatMap((p) => p.rows);
  return { ...alert, rows, complete: parts.length === alert.chunks && rows.length === alert.rowCount };
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      hub: { type: 'string', default: process.env.TM_HUB_URL ?? 'http://127.0.0.1:9480' },
      token: { type: 'string', default: process.env.TM_HUB_TOKEN },
      min: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [command, ...args] = positionals;
  const hub = hubClient(values.hub, values.token);
  const print = (human, data) => console.log(values.json ? JSON.stringify(data) : human);
  if (command === 'set' && args.length === 2) {
    const [sensor, max] = args;
    const min = values.min === undefined ? undefined : Number(values.min);
    await setThreshold(hub, sensor, { max: Number(max), min });
    print(`thresholds/${sensor}: max ${max}${min === undefined ? '' : `, min ${min}`}`, {
      sensor,
      max: Number(max),
      min,
    });
  } else if (command === 'alerts') {
    const alerts = await listAlerts(hub);
    if (values.json) console.log(JSON.stringify(alerts));
    else
      for (const a of alerts)
        console.log(
          `${new Date(a.ts).toISOString()} ${a.edge} ${a.sensor} = ${a.value} (${a.rowCount} rows) ${a.id}`,
        );
    if (!values.json) console.log(`${alerts.length} alerts`);
  } else if (command === 'watch') {
    const abort = new AbortController();
    process.once('SIGINT', () => abort.abort());
    await watchTable(hub, 'alerts', {
      signal: abort.signal,
      onRecord: (id, alert) => {
        if (alert)
          print(
            `alert from ${alert.edge}: ${alert.sensor} = ${alert.value} with ${alert.rowCount} rows (${id})`,
            alert,
          );
      },
      onError: (err) => console.error(`watch: ${err.message}`),
    });
  } else {
    console.error(
      'usage: cloud.mjs set SENSOR MAX [--min N] | alerts | watch   [--hub URL] [--token T] [--json]',
    );
    process.exit(2);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main().catch((err) => {
    console.error(`cloud: ${err.message}`);
    process.exit(1);
  });
}
