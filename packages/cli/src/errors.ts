/**
 * Exit codes and the CLI's error type. Scripts branch on the exit code (and on `code` in `--json` errors), never on
 * message text. The table is printed by `tablemesh --help` and documented in docs/cli.md.
 */

/** Exit codes of every command. */
export const EXIT = {
  /** done (diff: no difference; sync: synced) */
  OK: 0,
  /** the node refused the request (bad input, conflict, server error) */
  FAILED: 1,
  /** bad command line */
  USAGE: 2,
  /** the edge or hub could not be reached */
  UNREACHABLE: 3,
  /** the node refused the bearer token (or one is missing) */
  UNAUTHORIZED: 4,
  /** the record, table, node or quarantined transaction does not exist */
  NOT_FOUND: 5,
  /** not in sync: `sync --wait` timed out, `sync` found a backlog, `diff` found differences */
  NOT_SYNCED: 6,
} as const;

/** One of the exit codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports and exits with: message says what to do, code is stable. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** the node's TM_* code, or a CLI code such as TM_CLI_UNREACHABLE */
    readonly code: string,
    /** the node's answer, when there was one */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A usage error (exit 2). */
export function usage(message: string): CliError {
  return new CliError(message, EXIT.USAGE, 'TM_CLI_USAGE');
}
