/**
 * What every command needs: the clients for the edge and the hub (from the global options and environment), and
 * output in the chosen form — `--json` for machines, tables for people. Commands get it with `contextOf(cmd)`.
 */
import type { Command } from 'commander';
import { ApiClient } from './client.js';

/** Default URL of an edge's local HTTP API (edge config `http.port`). */
export const DEFAULT_EDGE_URL = 'http://127.0.0.1:9380';
/** Default URL of a hub's HTTP API (hub config `http.port`). */
export const DEFAULT_HUB_URL = 'http://127.0.0.1:9480';

/** Where output goes (tests give their own). */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  /** true when stdout is a terminal (progress bars, screen refresh) */
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The process's io. */
export const processIo: Io = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  isTTY: process.stdout.isTTY === true,
  env: process.env,
};

/** Options every command accepts (program-level). */
export interface GlobalOptions {
  readonly edge?: string;
  readonly edgeToken?: string;
  readonly hub?: string;
  readonly token?: string;
  readonly onHub?: boolean;
  readonly json?: boolean;
}

/** A command's view of the options, clients and output. */
export class Context {
  readonly json: boolean;

  constructor(
    private readonly options: GlobalOptions,
    readonly io: Io,
  ) {
    this.json = options.json === true;
  }

  /** The edge's local API: --edge, TABLEMESH_EDGE, or http://127.0.0.1:9380. */
  edge(): ApiClient {
    const url = this.options.edge ?? this.io.env['TABLEMESH_EDGE'] ?? DEFAULT_EDGE_URL;
    return new ApiClient('edge', url, this.options.edgeToken ?? this.io.env['TABLEMESH_EDGE_TOKEN']);
  }

  /** The hub's API: --hub, TABLEMESH_HUB, or http://127.0.0.1:9480, with --token or TABLEMESH_TOKEN. */
  hub(): ApiClient {
    const url = this.options.hub ?? this.io.env['TABLEMESH_HUB'] ?? DEFAULT_HUB_URL;
    return new ApiClient('hub', url, this.options.token ?? this.io.env['TABLEMESH_TOKEN']);
  }

  /** True when a command that works on both should talk to the hub: --on-hub, or --hub URL given. */
  get onHub(): boolean {
    return this.options.onHub === true || this.options.hub !== undefined;
  }

  /** The node of a command that works on both (tables, data, status). */
  target(): ApiClient {
    return this.onHub ? this.hub() : this.edge();
  }

  /** Prints `json` with --json, else the human text (a trailing newline is added when missing). */
  print(json: unknown, human: () => string): void {
    if (this.json) this.io.stdout(`${JSON.stringify(json, null, 2)}\n`);
    else {
      const text = human();
      if (text.length > 0) this.io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  /** A note for people on stderr (nothing with --json). */
  note(text: string): void {
    if (!this.json) this.io.stderr(`${text}\n`);
  }
}

/** The context of a command's action, from its options and its parents'. */
export function contextOf(cmd: Command, io: Io): Context {
  return new Context(cmd.optsWithGlobals<GlobalOptions>(), io);
}
