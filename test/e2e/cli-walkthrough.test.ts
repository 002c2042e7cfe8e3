/**
 * The README's CLI walkthrough runs as written (issue 6 'Done when': the reference use case set up from scratch
 * with CLI commands alone). Every `tablemesh …` line of its `sh` blocks runs through bash in a scratch directory
 * with the built CLI on PATH and must exit 0; the lines that start `tablemesh-hub` and `tablemesh-edge` start them
 * through the testkit instead (free ports; the edge with the config file the walkthrough wrote). Then the outcome
 * is checked: alerts at the hub, the new threshold at the edge, the certificates, and the README's sample status
 * has the CLI's current columns. TM_WALKTHROUGH_PRINT=1 prints every command's output (to refresh the samples).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type EdgeNode, type HubNode, useTestkit } from '@tablemesh/testkit';
import { parse } from 'yaml';
import { CLI_BIN } from './_cli.ts';

const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

/** The walkthrough section of the README. */
function walkthrough(): string {
  const start = readme.indexOf('## A 5-minute walkthrough with the CLI');
  assert.ok(start >= 0, 'README has the walkthrough section');
  const end = readme.indexOf('\n## ', start + 10);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The lines of its `sh` blocks, without blank lines and comments. */
function shLines(section: string): string[] {
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap(([, body]) =>
    body!
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith('#')),
  );
}

/** The lines of the fenced block after `marker` (a sample output). */
function sample(section: string, marker: string): string[] {
  const at = section.indexOf(marker);
  assert.ok(at >= 0, `README walkthrough has ${marker}`);
  const block = /```\n([\s\S]*?)```/.exec(section.slice(at));
  assert.ok(block, `a sample block follows ${marker}`);
  return block[1]!.split('\n');
}

/** Header lines of a status output (upper-case table heads), spaces collapsed. */
const heads = (lines: readonly string[]) =>
  lines.filter((l) => /^[A-Z][A-Z /]+$/.test(l.trim())).map((l) => l.trim().replace(/ +/g, ' '));

it('the README CLI walkthrough runs as written and sets up the reference use case', async (t) => {
  const kit = useTestkit(t);
  const cwd = join(kit.root, 'walkthrough');
  const bin = join(kit.root, 'bin');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(bin, { recursive: true });
  const wrapper = join(bin, 'tablemesh');
  writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${CLI_BIN}" "$@"\n`);
  chmodSync(wrapper, 0o755);

  const section = walkthrough();
  const lines = shLines(section);
  assert.ok(lines.filter((l) => l.startsWith('tablemesh ')).length >= 25, 'the walkthrough has its commands');
  let hub: HubNode | undefined;
  let edge: EdgeNode | undefined;
  const outputs = new Map<string, string>();
  for (const line of lines) {
    if (/^npm /.test(line) || /^export (PATH|TABLEMESH_TOKEN)=/.test(line)) continue; // setup; the kit's token
    if (/(^|\s)tablemesh-hub\s/.test(line)) {
      assert.match(line, /tablemesh-hub --set dataDir=\S+ .*&$/);
      hub = await kit.startHub({ nodes: [] });
      continue;
    }
    const edgeStart = /^tablemesh-edge --config (\S+) .*&$/.exec(line);
    if (edgeStart) {
      assert.ok(hub, 'the hub starts first');
      const config = parse(readFileSync(join(cwd, edgeStart[1]!), 'utf8')) as Record<string, unknown>;
      const { dataDir: _ignored, ...rest } = config;
      edge = await kit.startEdge({ name: String(config['nodeId']), hub, config: rest });
      continue;
    }
    assert.match(line, /^tablemesh /, `a walkthrough line the test knows how to run: ${line}`);
    assert.ok(hub, `the hub runs before: ${line}`);
    const run = spawnSync('bash', ['-c', line], {
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TABLEMESH_'))),
        PATH: `${bin}:${process.env['PATH']}`,
        TABLEMESH_HUB: `http://127.0.0.1:${hub.httpPort}`,
        TABLEMESH_TOKEN: hub.token,
        TABLEMESH_EDGE: edge ? `http://127.0.0.1:${edge.httpPort}` : 'http://127.0.0.1:1',
      },
    });
    if (process.env['TM_WALKTHROUGH_PRINT'] === '1') console.log(`$ ${line}\n${run.stdout}${run.stderr}`);
    assert.equal(run.status, 0, `${line}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
    outputs.set(line, run.stdout);
  }
  assert.ok(hub && edge, 'the walkthrough started a hub and an edge');

  // the edge config `nodes add` wrote carries the secret the hub enrolled
  const config = parse(readFileSync(join(cwd, 'edge1.yaml'), 'utf8')) as { hub: { password: string } };
  assert.match(config.hub.password, /^[A-Za-z0-9_-]{40,}$/);
  // what the app wrote is at the hub; what the cloud changed is at the edge
  const alert = await hub.http.get('alerts', 'a1');
  assert.equal(alert?.['sensor'], 'temp');
  assert.equal((await hub.http.get('alert_chunks', 'a1:0'))?.['alertId'], 'a1');
  assert.equal(
    await hub.http.get('sensor_data', 'r1').catch(() => undefined),
    undefined,
    'sensor_data stays local',
  );
  assert.equal((await edge.http.get('thresholds', 'temp'))?.['max'], 35);
  // the certificates: edge1's is signed by the CA, CN = node id
  const ca = new X509Certificate(readFileSync(join(cwd, 'certs/ca.pem')));
  const leaf = new X509Certificate(readFileSync(join(cwd, 'certs/edge1.pem')));
  assert.equal(leaf.subject, 'CN=edge1');
  assert.ok(leaf.verify(ca.publicKey));
  assert.ok(existsSync(join(cwd, 'certs/hub-key.pem')));
  // the README's sample status outputs have the columns the CLI prints now
  const edgeStatus = outputs.get('tablemesh status');
  const hubStatus = outputs.get('tablemesh status --on-hub');
  assert.ok(edgeStatus && hubStatus);
  assert.deepEqual(heads(sample(section, '`tablemesh status` on the edge')), heads(edgeStatus.split('\n')));
  assert.deepEqual(heads(sample(section, 'and `tablemesh status --on-hub`')), heads(hubStatus.split('\n')));
  assert.match(edgeStatus, /^data\.alerts +0 +0 B /m);
  assert.match(edgeStatus, /^data\.thresholds +live /m);
});
