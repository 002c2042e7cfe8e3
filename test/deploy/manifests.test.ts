/**
 * deploy/compose and deploy/k8s, checked without an engine (issue 9): the YAML parses, and its ports, volumes,
 * environment and config keys agree with the config validators and with the images (deploy/docker).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { type EdgeConfig, loadEdgeConfig } from '../../packages/edge/src/config.ts';
import { type HubConfig, loadHubConfig } from '../../packages/hub/src/config.ts';
import { parseDockerfile } from './dockerfile.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'tm-manifests-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noExplicitAny: parsed YAML of a known shape, checked by the assertions
type Any = any;

// ---- compose ----

const COMPOSE = join(root, 'deploy/compose/compose.yaml');
/** What `docker compose` would interpolate: `${VAR:?msg}`, `${VAR:-default}`, `${VAR}`. */
const VARS: Record<string, string> = {
  TM_HUB_TOKEN: 'compose-test-token-0123456789',
  TM_EDGE1_SECRET: 'compose-edge1-secret',
  TM_EDGE2_SECRET: 'compose-edge2-secret',
};
const interpolate = (value: string): string =>
  value.replace(/\$\{([A-Z0-9_]+)(?::[?-][^}]*)?\}/g, (_, name: string) => {
    assert.ok(name in VARS, `compose uses \${${name}}, not in the test's list`);
    return VARS[name]!;
  });
/** The variable a `${VAR…}` value names. */
const varOf = (value: string): string | undefined => /^\$\{([A-Z0-9_]+)/.exec(value)?.[1];

/** `source:target[:ro]` of a service's volumes. */
const mounts = (service: Any): { source: string; target: string }[] =>
  (service.volumes ?? []).map((v: string) => {
    const [source, target] = v.split(':');
    return { source: source!, target: target! };
  });

const containerPort = (mapping: string): number => Number(mapping.split(':').pop());

describe('deploy/compose/compose.yaml', () => {
  const compose: Any = parse(readFileSync(COMPOSE, 'utf8'), { merge: true });
  const services: Record<string, Any> = compose.services;
  const hubDf = parseDockerfile(join(root, 'deploy/docker/hub.Dockerfile'));
  const edgeDf = parseDockerfile(join(root, 'deploy/docker/edge.Dockerfile'));
  const dockerfileOf: Record<string, typeof hubDf> = {
    'tablemesh-hub:dev': hubDf,
    'tablemesh-edge:dev': edgeDf,
  };
  const edges = Object.entries(services).filter(
    ([, s]) => s.image === 'tablemesh-edge:dev' && s.entrypoint === undefined,
  );

  /** The service's config as its container would load it: mounted file, image ENV, service environment. */
  function configOf(
    name: string,
    load: typeof loadHubConfig | typeof loadEdgeConfig,
  ): HubConfig | EdgeConfig {
    const service = services[name];
    const df = dockerfileOf[service.image]!;
    const file = mounts(service).find((m) => m.target === df.cmd[1]);
    assert.ok(file, `${name} mounts its config at ${df.cmd[1]}`);
    const source = resolve(dirname(COMPOSE), file.source);
    assert.ok(existsSync(source), `${file.source} exists`);
    const env = {
      ...df.env,
      ...Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]),
      ),
    };
    return load({ file: source, env });
  }

  it('builds every image it runs from deploy/docker', () => {
    for (const [name, service] of Object.entries(services)) {
      assert.ok(service.image in dockerfileOf, `${name} runs one of our images`);
      if (service.build) {
        assert.equal(resolve(dirname(COMPOSE), service.build.context), resolve(root));
        assert.ok(existsSync(join(root, service.build.dockerfile)), service.build.dockerfile);
      }
    }
    const built = new Set(
      Object.values(services)
        .filter((s) => s.build)
        .map((s) => s.image),
    );
    assert.deepEqual([...built].sort(), Object.keys(dockerfileOf).sort());
  });

  it('the hub: a valid config, its volume at dataDir, its ports published (the API on loopback only)', () => {
    const cfg = configOf('hub', loadHubConfig) as HubConfig;
    assert.ok(mounts(services['hub']).some((m) => m.target === cfg.dataDir && m.source in compose.volumes));
    const ports: string[] = services['hub'].ports;
    assert.deepEqual(ports.map(containerPort).sort(), [cfg.mqtt.port, cfg.http.port].sort());
    assert.ok(
      ports.includes(`127.0.0.1:${cfg.http.port}:${cfg.http.port}`),
      'the API is published on loopback',
    );
  });

  it('two edges: valid configs, distinct node ids known to the hub with matching secrets, nothing published', () => {
    const hub = configOf('hub', loadHubConfig) as HubConfig;
    const hubEnv = services['hub'].environment;
    assert.equal(edges.length, 2);
    const ids = new Set<string>();
    for (const [name, service] of edges) {
      const cfg = configOf(name, loadEdgeConfig) as EdgeConfig;
      ids.add(cfg.nodeId);
      assert.equal(cfg.http.host, '127.0.0.1', `${name}: the API stays on the container's loopback`);
      assert.equal(service.ports, undefined, `${name}: no published port`);
      assert.ok(mounts(service).some((m) => m.target === cfg.dataDir && m.source in compose.volumes));
      const url = new URL(cfg.hub.url);
      assert.equal(url.hostname, 'hub');
      assert.equal(Number(url.port), hub.mqtt.port);
      const index = hub.nodes.findIndex((n) => n.id === cfg.nodeId);
      assert.ok(index >= 0, `${cfg.nodeId} is enrolled on the hub`);
      const node = hub.nodes[index]!;
      for (const p of cfg.publish)
        assert.ok(node.publish.includes(p.table), `${cfg.nodeId} may publish ${p.table}`);
      for (const s of cfg.subscribe)
        assert.ok(node.subscribe.includes(s.table), `${cfg.nodeId} may subscribe ${s.table}`);
      const secretVar = varOf(hubEnv[`TM_HUB_NODES__${index}__SECRET`]);
      assert.ok(secretVar, `the hub gets ${cfg.nodeId}'s secret`);
      assert.equal(varOf(service.environment.TM_EDGE_HUB__PASSWORD), secretVar, `${cfg.nodeId}'s password`);
      assert.deepEqual(service.depends_on, { hub: { condition: 'service_healthy' } });
    }
    assert.equal(ids.size, 2);
  });

  it("each example app shares its edge's network namespace and talks to its loopback API", () => {
    const apps = Object.entries(services).filter(([, s]) =>
      String(s.entrypoint?.[1]).endsWith('/edge-app.mjs'),
    );
    assert.equal(apps.length, edges.length);
    for (const [name, app] of apps) {
      const edgeName = /^service:(\w+)$/.exec(app.network_mode)?.[1];
      assert.ok(edgeName && edges.some(([n]) => n === edgeName), `${name} runs beside an edge`);
      const cfg = configOf(edgeName, loadEdgeConfig) as EdgeConfig;
      const edgeUrl = new URL(app.command[app.command.indexOf('--edge') + 1]);
      assert.equal(edgeUrl.hostname, '127.0.0.1');
      assert.equal(Number(edgeUrl.port), cfg.http.port);
      assert.ok(existsSync(join(root, app.entrypoint[1].replace('/app/', ''))), 'the app is in the image');
      assert.deepEqual(app.depends_on, { [edgeName]: { condition: 'service_healthy' } });
    }
  });

  it('the cloud side reaches the hub API by service name with the hub token', () => {
    const hub = configOf('hub', loadHubConfig) as HubConfig;
    for (const name of ['thresholds', 'cloud']) {
      const env = services[name].environment;
      const url = new URL(env.TM_HUB_URL);
      assert.equal(url.hostname, 'hub');
      assert.equal(Number(url.port), hub.http.port);
      assert.equal(varOf(env.TM_HUB_TOKEN), varOf(services['hub'].environment.TM_HUB_HTTP__TOKEN));
      assert.notEqual(
        hub.http.host,
        '127.0.0.1',
        'the hub API listens beyond its loopback inside the network',
      );
      assert.deepEqual(services[name].healthcheck, { disable: true }, `${name}: no edge here to check`);
    }
  });
});

// ---- Kubernetes ----

describe('deploy/k8s/hub.yaml', () => {
  const docs: Any[] = parseAllDocuments(readFileSync(join(root, 'deploy/k8s/hub.yaml'), 'utf8')).map((d) =>
    d.toJS(),
  );
  const byKind = (kind: string): Any[] => docs.filter((d) => d.kind === kind);
  const [sts] = byKind('StatefulSet');
  const pod = sts.spec.template.spec;
  const container = pod.containers[0];
  const labels = sts.spec.template.metadata.labels;
  const matches = (selector: Record<string, string>) =>
    Object.entries(selector).every(([k, v]) => labels[k] === v);
  const hubDf = parseDockerfile(join(root, 'deploy/docker/hub.Dockerfile'));

  /** The config the pod loads: the ConfigMap file named by --config, the pod env (secrets as test values). */
  function podConfig(): HubConfig {
    const configPath: string = container.args[container.args.indexOf('--config') + 1];
    const mount = container.volumeMounts.find((m: Any) => configPath.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `${configPath} is on a mounted volume`);
    const volume = pod.volumes.find((v: Any) => v.name === mount.name);
    const map = byKind('ConfigMap').find((c) => c.metadata.name === volume.configMap?.name);
    assert.ok(map, 'the config volume is the ConfigMap');
    const key = configPath.slice(mount.mountPath.length + 1);
    assert.ok(key in map.data, `the ConfigMap holds ${key}`);
    const file = join(scratch, 'k8s-hub.yaml');
    writeFileSync(file, map.data[key]);
    const env: Record<string, string> = { ...hubDf.env };
    for (const e of container.env)
      env[e.name] = e.value ?? `secret-${e.valueFrom.secretKeyRef.key}-0123456789`;
    return loadHubConfig({ file, env });
  }

  it('the pod config is valid and names only enrolled nodes in its secrets', () => {
    const cfg = podConfig();
    for (const e of container.env) {
      const m = /^TM_HUB_NODES__(\d+)__SECRET$/.exec(e.name);
      if (m) assert.ok(cfg.nodes[Number(m[1])], `${e.name} names a node of the config`);
    }
    assert.equal(cfg.http.token, 'secret-http-token-0123456789', 'the token comes from the Secret');
  });

  it('one replica with a persistent volume at dataDir', () => {
    const cfg = podConfig();
    assert.equal(sts.spec.replicas, 1);
    const data = container.volumeMounts.find((m: Any) => m.mountPath === cfg.dataDir);
    assert.ok(data, 'dataDir is a mount');
    assert.ok(
      sts.spec.volumeClaimTemplates.some((t: Any) => t.metadata.name === data.name),
      'from a volume claim template',
    );
    assert.ok(hubDf.volumes.includes(cfg.dataDir), 'the image declares the same volume');
  });

  it('ports, probes and services agree with the config', () => {
    const cfg = podConfig();
    const ports = Object.fromEntries(container.ports.map((p: Any) => [p.name, p.containerPort]));
    assert.deepEqual(ports, { mqtt: cfg.mqtt.port, http: cfg.http.port });
    assert.equal(cfg.http.host, '0.0.0.0', 'probes reach the API on the pod address');
    for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
      assert.deepEqual(container[probe].httpGet, { path: '/health', port: 'http' }, probe);
    }
    const services = byKind('Service');
    assert.ok(services.some((s) => s.metadata.name === sts.spec.serviceName && s.spec.clusterIP === 'None'));
    for (const s of services) {
      assert.ok(matches(s.spec.selector), `${s.metadata.name} selects the pod`);
      for (const p of s.spec.ports) assert.ok(p.targetPort in ports, `${s.metadata.name}: ${p.targetPort}`);
    }
    assert.ok(matches(sts.spec.selector.matchLabels));
    const mqtt = services.find((s) => s.spec.type === 'LoadBalancer');
    assert.deepEqual(
      mqtt.spec.ports.map((p: Any) => p.targetPort),
      ['mqtt'],
      'only MQTT leaves the cluster',
    );
  });

  it('runs unprivileged on a read-only root with the image entrypoint', () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 1000, 'the image user `node`');
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.equal(container.command, undefined, 'keeps the image ENTRYPOINT');
    assert.deepEqual(container.args, hubDf.cmd, 'the same arguments as the image CMD');
  });
});
