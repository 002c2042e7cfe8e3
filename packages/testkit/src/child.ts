/**
 * One node binary run as a child process: started with its ready line awaited, its log kept (bounded), stopped
 * by pid with SIGTERM then SIGKILL after a timeout, or killed. Every child is registered so that the test
 * process kills whatever is left on exit or on SIGINT/SIGTERM — a failing test never leaks a hub or an edge.
 */
import { type ChildProcess, spawn } from 'node:child_process';

/** How to run a child. */
export interface ChildSpec {
  /** for messages: `hub`, `edgeA` … */
  readonly name: string;
  /** the JS file to run with this Node (`process.execPath`) */
  readonly script: string;
  readonly args: readonly string[];
  /** Node options before the script, e.g. `['--cpu-prof']` */
  readonly nodeArgs?: readonly string[];
  /**
   * a command that execs Node, e.g. `['ip', 'netns', 'exec', 'ns1']` (it must exec, not fork: the pid signalled
   * is the wrapper's)
   */
  readonly wrapper?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** the pino `msg` of the line that says the node is up */
  readonly readyMsg: string;
  /** default 20 s */
  readonly startTimeoutMs?: number;
}

/** A parsed pino line (or `{msg: text}` for a line that is not JSON). */
export type LogLine = Readonly<Record<string, unknown>> & { readonly msg?: string };

/** How a child ended. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const MAX_LINES = 5_000;
const live = new Set<ChildProcess>();
let hooked = false;

function killAllNow(): void {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Installs, once, the hooks that kill every child when the test process ends. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAllNow();
      process.kill(process.pid, signal); // the default action, now that our handler is gone
    });
  }
}

/** A running (or stopped) child process with its log. */
export class Child {
  private proc: ChildProcess | undefined;
  private exited: Promise<ChildExit> | undefined;
  private readonly lines: LogLine[] = [];
  private readonly watchers = new Set<(line: LogLine) => void>();
  lastExit: ChildExit | undefined;

  constructor(readonly spec: ChildSpec) {}

  /** The pid while running. */
  get pid(): number | undefined {
    return this.running ? this.proc?.pid : undefined;
  }

  /** True between start and exit. */
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The log lines kept so far (the last 5 000), across restarts. */
  get log(): readonly LogLine[] {
    return this.lines;
  }

  /** Starts the child and resolves with its ready line; rejects (and kills it) on early exit or timeout. */
  async start(): Promise<LogLine> {
    if (this.running) throw new Error(`${this.spec.name} is already running (pid ${this.proc?.pid})`);
    hookExit();
    // Node itself is the child (no wrapper process), so the pid we signal is the node's.
    const wrapper = this.spec.wrapper ?? [];
    const proc = spawn(
      wrapper[0] ?? process.execPath,
      [
        ...(wrapper.length > 0 ? [...wrapper.slice(1), process.execPath] : []),
        ...(this.spec.nodeArgs ?? []),
        this.spec.script,
        ...this.spec.args,
      ],
      {
        env: this.spec.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.proc = proc;
    live.add(proc);
    this.exited = new Promise<ChildExit>((resolve) => {
      // 'close', not 'exit': it comes after stdout and stderr ended, so the log holds every line the child wrote.
      proc.once('close', (code, signal) => {
        live.delete(proc);
        this.lastExit = { code, signal };
        resolve(this.lastExit);
      });
    });
    this.pipeLines(proc);
    const timeoutMs = this.spec.startTimeoutMs ?? 20_000;
    let onLine: ((line: LogLine) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        new Promise<LogLine>((resolve) => {
          onLine = (line) => {
            if (line.msg === this.spec.readyMsg) resolve(line);
          };
          this.watchers.add(onLine);
        }),
        this.exited.then((exit) => {
          throw new Error(
            `${this.spec.name} exited before it was ready (code ${exit.code}, signal ${exit.signal}):\n${this.tail(20)}`,
          );
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${this.spec.name} not ready within ${timeoutMs} ms:\n${this.tail(20)}`)),
            timeoutMs,
          );
        }),
      ]);
    } catch (err) {
      await this.kill();
      throw err;
    } finally {
      if (onLine) this.watchers.delete(onLine);
      clearTimeout(timer);
    }
  }

  private pipeLines(proc: ChildProcess): void {
    for (const [stream, source] of [
      [proc.stdout, 'stdout'],
      [proc.stderr, 'stderr'],
    ] as const) {
      let rest = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        for (const text of parts) if (text.trim() !== '') this.push(text, source);
      });
      stream?.on('end', () => {
        if (rest.trim() !== '') this.push(rest, source);
        rest = '';
      });
    }
  }

  private push(text: string, source: 'stdout' | 'stderr'): void {
    let line: LogLine;
    try {
      const parsed: unknown = JSON.parse(text);
      line = typeof parsed === 'object' && parsed !== null ? (parsed as LogLine) : { msg: text, source };
    } catch {
      line = { msg: text, source };
    }
    this.lines.push(line);
    if (this.lines.length > MAX_LINES) this.lines.splice(0, this.lines.length - MAX_LINES);
    for (const watcher of this.watchers) watcher(line);
  }

  /** The last `n` log lines as text, for failure messages. */
  tail(n = 40): string {
    return this.lines
      .slice(-n)
      .map((l) => `  [${this.spec.name}] ${JSON.stringify(l)}`)
      .join('\n');
  }

  /** Calls `fn` with every further log line (also after a restart of this Child). */
  watch(fn: (line: LogLine) => void): void {
    this.watchers.add(fn);
  }

  /** Stops calling `fn`. */
  unwatch(fn: (line: LogLine) => void): void {
    this.watchers.delete(fn);
  }

  /** Log lines (kept so far) matching `predicate`. */
  grep(predicate: (line: LogLine) => boolean): LogLine[] {
    return this.lines.filter(predicate);
  }

  /** SIGTERM, wait up to `timeoutMs` (default 10 s), then SIGKILL. Resolves with how it ended. */
  async stop(timeoutMs = 10_000): Promise<ChildExit | undefined> {
    if (!this.running || !this.proc?.pid) return this.lastExit;
    const pid = this.proc.pid;
    process.kill(pid, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited!, forced]);
    clearTimeout(timer);
    if (result === 'timeout') return this.kill();
    return result;
  }

  /** SIGKILL now; resolves once it is gone. */
  async kill(): Promise<ChildExit | undefined> {
    if (this.running && this.proc?.pid) {
      try {
        process.kill(this.proc.pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    return this.exited ? await this.exited : undefined;
  }
}
