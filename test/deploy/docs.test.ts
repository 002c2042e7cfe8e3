/**
 * The docs stay true (issue 9): links and file paths in README, ARCHITECTURE, CHANGELOG and docs/ resolve; the
 * README's configuration reference names every key the validators know (defaults and optional keys); its metrics
 * list names every metric a running hub and edge expose; its status-line sample has the demo's format.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { useTestkit } from '@tablemesh/testkit';
import { parse } from 'yaml';
import { loadEdgeConfig } from '../../packages/edge/src/config.ts';
import { loadHubConfig } from '../../packages/hub/src/config.ts';
import { leafPaths, uncommentOptional } from './yaml-keys.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const readme = read('README.md');
const scratch = mkdtempSync(join(tmpdir(), 'tm-docs-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function markdownFiles(): string[] {
  const out = ['README.md', 'ARCHITECTURE.md', 'CHANGELOG.md'];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, name.name);
      if (name.isDirectory()) walk(path);
      else if (name.name.endsWith('.md')) out.push(path);
    }
  };
  for (const dir of ['docs', 'deploy', 'examples']) walk(dir);
  return out;
}

/** Dotted paths as the README writes them: `publish[].quotaBytes`. */
const asDocPath = (path: string) => path.replace(/\.(\d+)(?=\.|$)/g, '[]');

describe('docs', () => {
  it('every relative link and every repository path in backticks resolves', () => {
    // build output and local state (.gitignore) exist only after a run
    const ignored = read('.gitignore')
      .split('\n')
      .filter((l) => l.includes('/') && !l.startsWith('#'));
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const text = read(file);
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(https?:|mailto:|#)/.test(target!)) continue;
        const path = resolve(root, dirname(file), target!.replace(/#.*$/, ''));
        if (relative(root, path).startsWith('..')) continue; // ../shared/SPEC.md lives outside the repository
        if (!existsSync(path)) broken.push(`${file}: link ${target}`);
      }
      for (const [, path] of text.matchAll(
        /`((?:packages|test|deploy|examples|docs|scripts|proto|bench)\/[A-Za-z0-9_./-]+)`/g,
      )) {
        if (ignored.some((prefix) => path!.startsWith(prefix))) continue;
        // from the repository root, or from the document's folder (deploy/README.md names examples/hub.yaml)
        if (!existsSync(join(root, path!)) && !existsSync(join(root, dirname(file), path!))) {
          broken.push(`${file}: path ${path}`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  it('the README configuration reference names every key of both binaries', () => {
    const keysOf = (file: string, load: (file: string) => unknown, minimal: object) => {
      const full = join(scratch, `${file}-full.yaml`);
      writeFileSync(full, uncommentOptional(read(`deploy/examples/${file}.yaml`)));
      const minimalFile = join(scratch, `${file}-minimal.yaml`);
      writeFileSync(minimalFile, JSON.stringify(minimal));
      return [
        ...leafPaths(load(full)),
        ...leafPaths(load(minimalFile)),
        ...leafPaths(parse(read(`deploy/examples/${file}.yaml`))),
      ];
    };
    const token = { TM_HUB_HTTP__TOKEN: 'docs-test-token-0123456789' };
    const keys = [
      ...keysOf('edge', (file) => loadEdgeConfig({ file, env: {} }), {
        nodeId: 'e',
        dataDir: '/d',
        hub: { url: 'mqtt://h' },
      }),
      ...keysOf('hub', (file) => loadHubConfig({ file, env: token }), { dataDir: '/d' }),
    ].map(asDocPath);
    // `tables` of a minimal config is an empty list: its item keys come from the examples
    const leaves = [...new Set(keys)].filter((key) => !keys.some((k) => k.startsWith(`${key}[]`)));
    const missing = leaves.filter((key) => !readme.includes(`\`${key}\``));
    assert.deepEqual(missing, [], 'add these keys to README "Configuration"');
  });

  it('the README metrics list names every metric a running hub and edge expose', async (t) => {
    const kit = useTestkit(t);
    const secret = 'docs-test-edge-secret';
    const hub = await kit.startHub({
      tables: [{ name: 'thresholds' }],
      nodes: [{ id: 'edge1', secret, publish: ['alerts'], subscribe: ['thresholds'] }],
    });
    const edge = await kit.startEdge({
      name: 'edge1',
      hub,
      secret,
      publish: ['alerts'],
      subscribe: ['thresholds'],
    });
    await kit.waitFor(async () => (await edge.http.health())['link'] === 'connected', {
      message: 'edge connected',
    });
    const names = new Set<string>();
    for (const node of [hub, edge]) {
      const text = (await node.http.request<string>('GET', '/metrics')).text;
      for (const [, name] of text.matchAll(/^# TYPE (\S+) /gm)) names.add(name!);
    }
    assert.ok(names.size > 30, `${names.size} metrics`);
    const missing = [...names].filter((name) => !new RegExp(`\`${name}(\\{[^}]*\\})?\``).test(readme));
    assert.deepEqual(missing, [], 'add these metrics to README "Metrics"');
  });

  it("the README's status line sample has the demo's format", () => {
    const sample =
      /^\[\d+s\] link \S+ │ thresholds received \d+ │ sensor rows written \d+ │ alerts sent \d+ \(at the hub \d+\) │ backlog \d+$/m;
    assert.match(readme, sample);
    const demo = read('scripts/demo.mjs');
    for (const part of [
      'link ',
      'thresholds received ',
      'sensor rows written ',
      'alerts sent ',
      '(at the hub ',
      'backlog ',
    ]) {
      assert.ok(demo.includes(part), `the demo prints "${part}"`);
    }
  });
});
