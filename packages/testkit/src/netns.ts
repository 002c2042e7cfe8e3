/**
 * Optional network-namespace mode of the reliability suite: a namespace joined to the host by a veth pair, with
 * nftables rules inside it for real packet loss and partitions (kernel TCP then retransmits, backs off and times
 * out for real — what a userspace proxy cannot show). A node runs inside through `wrapper` (`ip netns exec NS`).
 * Needs root, `ip` and `nft`; `NetnsLink.unavailable()` says why not, and tests skip with that reason.
 *
 *   host 10.B.C.1 (tmh…) ── veth ── (tmn…) 10.B.C.2  namespace tm-…  [nft: loss / drop all]
 */
import { execFileSync } from 'node:child_process';

function run(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

let counter = 0;

/** A namespace with one veth link to the host and an nftables table for faults. */
export class NetnsLink {
  /** `ip netns exec NS`: give it to a node's `wrapper` */
  readonly wrapper: readonly string[];
  /** address of the namespace side (where a node inside listens) */
  readonly nsAddress: string;
  /** address of the host side */
  readonly hostAddress: string;
  private closed = false;

  private constructor(
    readonly name: string,
    private readonly hostIf: string,
    private readonly nsIf: string,
    /** `B.C` of 10.B.C.0/30 */
    subnet: string,
  ) {
    this.wrapper = ['ip', 'netns', 'exec', name];
    this.hostAddress = `10.${subnet.split('.')[0]}.${subnet.split('.')[1]}.1`;
    this.nsAddress = `10.${subnet.split('.')[0]}.${subnet.split('.')[1]}.2`;
  }

  /** Why the mode cannot run here (not root, `ip` or `nft` missing, namespaces refused), or undefined. */
  static unavailable(): string | undefined {
    if (process.getuid?.() !== 0) return 'network-namespace mode needs root';
    for (const [tool, args] of [
      ['ip', ['-V']],
      ['nft', ['--version']],
    ] as const) {
      try {
        run(tool, args);
      } catch {
        return `network-namespace mode needs ${tool} (apt-get install ${tool === 'ip' ? 'iproute2' : 'nftables'})`;
      }
    }
    const probe = `tm-probe-${process.pid}`;
    try {
      run('ip', ['netns', 'add', probe]);
      run('ip', ['netns', 'exec', probe, 'nft', 'list', 'ruleset']);
    } catch (err) {
      return `network namespaces or nftables are refused here: ${String((err as { stderr?: string }).stderr ?? err).trim()}`;
    } finally {
      try {
        run('ip', ['netns', 'del', probe]);
      } catch {
        // not created
      }
    }
    return undefined;
  }

  /** Creates the namespace, the veth pair, addresses, and an empty nft table `tm` with an input and output chain. */
  static create(): NetnsLink {
    counter++;
    const id = `${process.pid}x${counter}`;
    const subnet = `${77 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 64) * 4}`;
    const link = new NetnsLink(`tm-${id}`, `tmh${id}`.slice(0, 15), `tmn${id}`.slice(0, 15), subnet);
    try {
      run('ip', ['netns', 'add', link.name]);
      run('ip', ['link', 'add', link.hostIf, 'type', 'veth', 'peer', 'name', link.nsIf]);
      run('ip', ['link', 'set', link.nsIf, 'netns', link.name]);
      run('ip', ['addr', 'add', `${link.hostAddress}/30`, 'dev', link.hostIf]);
      run('ip', ['link', 'set', link.hostIf, 'up']);
      link.ns('ip', ['addr', 'add', `${link.nsAddress}/30`, 'dev', link.nsIf]);
      link.ns('ip', ['link', 'set', link.nsIf, 'up']);
      link.ns('ip', ['link', 'set', 'lo', 'up']);
      link.ns('nft', ['add', 'table', 'inet', 'tm']);
      for (const hook of ['input', 'output']) {
        link.ns('nft', ['add', 'chain', 'inet', 'tm', hook, `{ type filter hook ${hook} priority 0; }`]);
      }
    } catch (err) {
      link.close();
      throw err;
    }
    return link;
  }

  private ns(cmd: string, args: readonly string[]): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args]);
  }

  /** Drops `percent` of the packets crossing the veth, each way (0 clears). */
  loss(percent: number): void {
    this.flush();
    if (percent <= 0) return;
    // numgen compares with 1…99; 100 % is a plain drop
    const odds =
      percent >= 100 ? [] : ['numgen', 'random', 'mod', '100', '<', String(Math.max(1, Math.round(percent)))];
    for (const [chain, dir] of [
      ['input', 'iifname'],
      ['output', 'oifname'],
    ] as const) {
      this.ns('nft', ['add', 'rule', 'inet', 'tm', chain, dir, this.nsIf, ...odds, 'drop']);
    }
  }

  /** Drops every packet crossing the veth (a partition: no RST, peers find out by timeouts). */
  partition(): void {
    this.loss(100);
  }

  /** No loss. */
  heal(): void {
    this.flush();
  }

  private flush(): void {
    for (const chain of ['input', 'output']) this.ns('nft', ['flush', 'chain', 'inet', 'tm', chain]);
  }

  /** Deletes the namespace (and with it the veth pair). Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      run('ip', ['netns', 'del', this.name]);
    } catch {
      // already gone
    }
    try {
      run('ip', ['link', 'del', this.hostIf]);
    } catch {
      // deleted with the namespace
    }
  }
}
