/**
 * The kit: a temp root (under os.tmpdir(), removed at cleanup), the hub and edges started in it, and cleanup
 * that stops every one of them by pid (SIGTERM, then SIGKILL) even when the test failed. Use `useTestkit(t)`
 * in a test so cleanup is registered with `t.after`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgeNode, type EdgeOptions, HubNode, type HubOptions } from './nodes.js';
import { type Truthy, type WaitOptions, WaitTimeoutError, waitFor } from './wait.js';

/** A test context that can register cleanup (node:test's TestContext or SuiteContext). */
export interface AfterHook {
  after(fn: () => Promise<void> | void): void;
}

/** Owns the processes and the temp directory of one test. */
export class Testkit {
  readonly root: string;
  private readonly nodes: (HubNode | EdgeNode)[] = [];
  private cleaned = false;

  constructor(prefix = 'tablemesh-e2e-') {
    this.root = mkdtempSync(join(tmpdir(), prefix));
  }

  private dirFor(name: string): string {
    const dir = join(this.root, `${name}-${this.nodes.length}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Creates a hub (not started). */
  createHub(options: HubOptions): HubNode {
    const token = `tok-${randomBytes(12).toString('hex')}`;
    const hub = new HubNode(this.dirFor(options.name ?? 'hub'), options, token);
    this.nodes.push(hub);
    return hub;
  }

  /** Creates and starts a hub. */
  async startHub(options: HubOptions): Promise<HubNode> {
    return this.createHub(options).start();
  }

  /** Creates an edge (not started). */
  createEdge(options: EdgeOptions): EdgeNode {
    const edge = new EdgeNode(this.dirFor(options.name), options);
    this.nodes.push(edge);
    return edge;
  }

  /** Creates and starts an edge. */
  async startEdge(options: EdgeOptions): Promise<EdgeNode> {
    return this.createEdge(options).start();
  }

  /** The last log lines of every node, for failure messages. */
  tails(n = 25): string {
    return this.nodes.map((node) => node.tail(n)).join('\n');
  }

  /** waitFor whose timeout error also carries the nodes' recent logs. */
  async waitFor<T>(predicate: () => T | Promise<T>, options: WaitOptions = {}): Promise<Truthy<T>> {
    try {
      return await waitFor(predicate, options);
    } catch (err) {
      if (err instanceof WaitTimeoutError) err.message += `\nrecent logs:\n${this.tails()}`;
      throw err;
    }
  }

  /**
   * Stops every node (SIGTERM, SIGKILL after `timeoutMs`) and removes the temp root, unless TM_KEEP_TMP=1
   * (then the root is printed); with TM_E2E_LOGS=DIR every node's log is written there. Safe to call twice.
   */
  async cleanup(timeoutMs = 5_000): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await Promise.allSettled(this.nodes.map((node) => node.stop(timeoutMs)));
    await Promise.allSettled(this.nodes.map((node) => node.kill()));
    const logDir = process.env['TM_E2E_LOGS'];
    if (logDir) {
      // Keep every node's log (JSON lines) for a post-mortem: TM_E2E_LOGS=/tmp/logs npm run test:e2e
      mkdirSync(logDir, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      for (const node of this.nodes) {
        const lines = node.log.map((l) => JSON.stringify(l)).join('\n');
        writeFileSync(join(logDir, `${stamp}-${node.name}-${node.dir.split('-').pop()}.log`), `${lines}\n`);
      }
    }
    if (process.env['TM_KEEP_TMP'] === '1') console.error(`testkit: kept ${this.root}`);
    else rmSync(this.root, { recursive: true, force: true });
  }
}

/** A kit whose cleanup runs after the test (or suite), pass or fail. */
export function useTestkit(t: AfterHook): Testkit {
  const kit = new Testkit();
  t.after(() => kit.cleanup());
  return kit;
}
