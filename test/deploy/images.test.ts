/**
 * deploy/docker and deploy/systemd, checked without a container engine or a systemd (issue 9): the unit passes
 * `systemd-analyze verify` and its sandbox rates OK; each Dockerfile is multi-stage, runs unprivileged with a data
 * volume and a health check; and their entrypoints run outside a container — the final stage's files are laid out
 * in a scratch root as its COPY lines say (from the built tree), the ENTRYPOINT + CMD run with the image's ENV and
 * container paths mapped into that root, the HEALTHCHECK command passes, and the STOPSIGNAL stops it with exit 0.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Child, HttpClient, waitFor } from '@tablemesh/testkit';
import { loadEdgeConfig } from '../../packages/edge/src/config.ts';
import { loadHubConfig } from '../../packages/hub/src/config.ts';
import { type Dockerfile, parseDockerfile } from './dockerfile.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'tm-deploy-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const TOKEN = 'deploy-test-token-0123456789';
const SECRET = 'deploy-test-edge1-secret';

// ---- systemd ----

const UNIT = join(root, 'deploy/systemd/tablemesh-edge.service');

/** `Key=value` lines of a unit file (repeated keys keep every value). */
function unitEntries(text: string): [string, string][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('['))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}

function systemdAnalyze(args: string[]): ReturnType<typeof spawnSync> | undefined {
  const found = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (found.error) return undefined;
  return spawnSync('systemd-analyze', args, { encoding: 'utf8' });
}

/** The unit as it would be installed here: node where this machine has it (verify checks the binary exists). */
function unitCopy(): string {
  const text = readFileSync(UNIT, 'utf8');
  const path = join(scratch, 'tablemesh-edge.service');
  writeFileSync(
    path,
    existsSync('/usr/bin/node') ? text : text.replaceAll('/usr/bin/node', process.execPath),
  );
  return path;
}

describe('deploy/systemd/tablemesh-edge.service', () => {
  const entries = unitEntries(readFileSync(UNIT, 'utf8'));
  const get = (key: string) => entries.filter(([k]) => k === key).map(([, v]) => v);
  // CI installs systemd (APT_PACKAGES in .ci/run); elsewhere the check is skipped when it is missing.
  const skip = process.env['CI'] !== 'true' && !systemdAnalyze(['--version']) ? 'no systemd-analyze' : false;

  it('passes systemd-analyze verify without a warning', { skip }, () => {
    const res = systemdAnalyze(['verify', unitCopy()]);
    assert.ok(res, 'systemd-analyze is installed');
    assert.equal(res.status, 0, String(res.stderr));
    assert.equal(String(res.stderr).trim(), '');
  });

  it('rates its sandbox OK (systemd-analyze security, exposure ≤ 2.0)', { skip }, () => {
    const res = systemdAnalyze(['security', '--offline=true', '--no-pager', unitCopy()]);
    assert.ok(res, 'systemd-analyze is installed');
    const m = /Overall exposure level for tablemesh-edge\.service: (\d+\.\d+)/.exec(String(res.stdout));
    assert.ok(m, String(res.stdout) + String(res.stderr));
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]}`);
  });

  it('runs as a dedicated user with a strict sandbox, a state directory and a restart policy', () => {
    assert.deepEqual(get('User'), ['tablemesh']);
    assert.deepEqual(get('ProtectSystem'), ['strict']);
    assert.deepEqual(get('StateDirectory'), ['tablemesh-edge']);
    assert.deepEqual(get('Restart'), ['on-failure']);
    assert.deepEqual(get('NoNewPrivileges'), ['yes']);
    assert.deepEqual(get('CapabilityBoundingSet'), ['']);
    assert.deepEqual(get('RestartPreventExitStatus'), ['2'], 'a config error (exit 2) is not retried');
  });

  it('its ExecStart starts the edge with the example config and the state directory, and stops on SIGTERM', async () => {
    const [node, script, ...args] = get('ExecStart')[0]!.split(/\s+/);
    assert.equal(node, '/usr/bin/node');
    const env = Object.fromEntries(get('Environment').map((e) => e.split('=') as [string, string]));
    assert.equal(env['TM_EDGE_DATA_DIR'], `/var/lib/${get('StateDirectory')[0]}`);
    assert.deepEqual(get('KillSignal'), ['SIGTERM']);
    const stateDir = join(scratch, 'systemd-state');
    const map = (p: string) =>
      p
        .replace('/opt/tablemesh/', root)
        .replace('/etc/tablemesh/edge.yaml', join(root, 'deploy/examples/edge.yaml'))
        .replace(/^\/var\/lib\/tablemesh-edge$/, stateDir);
    const cfg = loadEdgeConfig({ file: map(args[1]!), env: { ...env, TM_EDGE_DATA_DIR: stateDir } });
    assert.equal(cfg.dataDir, stateDir);
    const child = new Child({
      name: 'edge (systemd ExecStart)',
      script: map(script!),
      args: [...args.map(map), '--set', 'http.port=0', '--set', 'hub.url=mqtt://127.0.0.1:9'],
      env: { PATH: process.env['PATH'] ?? '', TM_EDGE_DATA_DIR: stateDir, NODE_ENV: env['NODE_ENV'] ?? '' },
      readyMsg: 'tablemesh-edge started',
    });
    const ready = await child.start();
    const http = new HttpClient(() => `http://127.0.0.1:${ready['httpPort']}`);
    assert.equal((await http.health())['node'], 'edge1', 'serves its API with the hub unreachable');
    assert.ok(existsSync(join(stateDir, 'store')), 'the store is in the state directory');
    assert.deepEqual(await child.stop(10_000), { code: 0, signal: null });
  });
});

// ---- Docker ----

/** Lays out the final stage's files under a scratch root as its COPY lines say; returns the path mapper. */
function layOut(df: Dockerfile, name: string): { rootfs: string; map: (p: string) => string } {
  const rootfs = join(scratch, `rootfs-${name}`);
  for (const { src, dest } of df.copies) {
    // --from=build copies come from the build stage's /src, which is this built tree; others from the context.
    const from = join(root, src.replace(/^\/src\/?/, ''));
    assert.ok(existsSync(from), `COPY source ${src} exists (${from})`);
    const to = join(rootfs, dest);
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  }
  for (const volume of df.volumes) mkdirSync(join(rootfs, volume), { recursive: true });
  const map = (p: string) => (p.startsWith('/') ? join(rootfs, p) : p);
  return { rootfs, map };
}

/** The image's ENV with container paths mapped, plus what `docker run -e` would add. */
function runEnv(
  df: Dockerfile,
  map: (p: string) => string,
  extra: Record<string, string>,
): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '' };
  for (const [k, v] of Object.entries(df.env)) env[k] = map(v);
  return { ...env, ...extra };
}

function checkImage(df: Dockerfile, binary: string): void {
  assert.ok(df.stages.length >= 2 && / AS build$/i.test(df.stages[0]!), 'multi-stage, building first');
  assert.equal(df.user, 'node', 'runs unprivileged');
  assert.deepEqual(df.volumes, ['/var/lib/tablemesh']);
  assert.equal(df.stopSignal, 'SIGTERM');
  assert.deepEqual(df.entrypoint, ['node', `/app/packages/${binary}/dist/bin.js`]);
  assert.ok(df.healthcheck, 'has a HEALTHCHECK');
}

/** Runs the health check command (exec form, `node -e …`) with its port replaced; resolves with the exit status. */
function healthcheck(df: Dockerfile, configPort: number, actualPort: number): number | null {
  const [cmd, ...args] = df.healthcheck!;
  assert.equal(cmd, 'node');
  const script = args.join(' ');
  assert.ok(script.includes(`127.0.0.1:${configPort}/health`), `the check asks http.port (${configPort})`);
  const patched = args.map((a) => a.replace(`:${configPort}/`, `:${actualPort}/`));
  return spawnSync(process.execPath, patched, { timeout: 5_000 }).status;
}

describe('deploy/docker', () => {
  let hubMqttPort = 0;

  it('hub.Dockerfile: unprivileged, a volume, a health check; its entrypoint runs outside a container', async () => {
    const df = parseDockerfile(join(root, 'deploy/docker/hub.Dockerfile'));
    checkImage(df, 'hub');
    const { map } = layOut(df, 'hub');
    const run = { TM_HUB_HTTP__TOKEN: TOKEN, TM_HUB_NODES__0__SECRET: SECRET };
    const cfg = loadHubConfig({ file: map(df.cmd[1]!), env: runEnv(df, map, run) });
    assert.equal(cfg.dataDir, map(df.volumes[0]!), 'the data directory is the volume');
    assert.equal(cfg.http.host, '0.0.0.0', 'the API is reachable through the container network');
    assert.deepEqual(df.expose, [cfg.mqtt.port, cfg.http.port]);
    // Free ports instead of 1883/9480 (tests run side by side); everything else as `docker run` would do.
    const child = new Child({
      name: 'hub (image entrypoint)',
      script: map(df.entrypoint[1]!),
      args: df.cmd.map(map),
      env: runEnv(df, map, { ...run, TM_HUB_MQTT__PORT: '0', TM_HUB_HTTP__PORT: '0' }),
      readyMsg: 'tablemesh-hub started',
    });
    after(() => child.kill());
    const ready = await child.start();
    assert.equal(ready['dataDir'] ?? cfg.dataDir, cfg.dataDir);
    assert.ok(existsSync(join(cfg.dataDir, 'store')), 'the store is in the volume');
    assert.equal(healthcheck(df, cfg.http.port, Number(ready['httpPort'])), 0, 'HEALTHCHECK passes');
    hubMqttPort = Number(ready['mqttPort']);

    // The edge image, against this hub.
    const edf = parseDockerfile(join(root, 'deploy/docker/edge.Dockerfile'));
    checkImage(edf, 'edge');
    assert.deepEqual(edf.expose, [], 'the edge offers nothing to the outside');
    const edge = layOut(edf, 'edge');
    const erun = { TM_EDGE_HUB__URL: `mqtt://127.0.0.1:${hubMqttPort}`, TM_EDGE_HUB__PASSWORD: SECRET };
    const ecfg = loadEdgeConfig({ file: edge.map(edf.cmd[1]!), env: runEnv(edf, edge.map, erun) });
    assert.equal(ecfg.dataDir, edge.map(edf.volumes[0]!));
    assert.equal(ecfg.http.host, '127.0.0.1');
    assert.ok(
      existsSync(edge.map('/app/examples/sensor-alerts/edge-app.mjs')),
      'the example app is in the image',
    );
    const edgeChild = new Child({
      name: 'edge (image entrypoint)',
      script: edge.map(edf.entrypoint[1]!),
      args: edf.cmd.map(edge.map),
      env: runEnv(edf, edge.map, { ...erun, TM_EDGE_HTTP__PORT: '0' }),
      readyMsg: 'tablemesh-edge started',
    });
    after(() => edgeChild.kill());
    const edgeReady = await edgeChild.start();
    const edgeHttp = new HttpClient(() => `http://127.0.0.1:${edgeReady['httpPort']}`);
    await waitFor(async () => (await edgeHttp.health())['link'] === 'connected', {
      timeoutMs: 15_000,
      message: 'the edge container to connect to the hub container',
    });
    assert.equal(
      healthcheck(edf, ecfg.http.port, Number(edgeReady['httpPort'])),
      0,
      'edge HEALTHCHECK passes',
    );
    assert.deepEqual(await edgeChild.stop(10_000), { code: 0, signal: null });
    assert.deepEqual(await child.stop(10_000), { code: 0, signal: null });
    assert.notEqual(
      healthcheck(df, cfg.http.port, Number(ready['httpPort'])),
      0,
      'HEALTHCHECK fails when down',
    );
  });

  it('.dockerignore keeps local state and build output out of the build context', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['**/node_modules', '**/dist', '.tablemesh-demo', '.git'])
      assert.ok(ignored.includes(entry), entry);
  });
});
