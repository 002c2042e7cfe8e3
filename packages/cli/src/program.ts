/**
 * The `tablemesh` program: global options, one subcommand per file in commands/, and the one place that turns
 * errors into output and exit codes (errors.ts EXIT).
 */
import { Command, CommanderError } from 'commander';
import { makeCertsCommand } from './commands/certs.js';
import { makeDeleteCommand } from './commands/delete.js';
import { makeDiffCommand } from './commands/diff.js';
import { makeGetCommand } from './commands/get.js';
import { makeNodesCommand } from './commands/nodes.js';
import { makePatchCommand } from './commands/patch.js';
import { makePutCommand } from './commands/put.js';
import { makeQuarantineCommand } from './commands/quarantine.js';
import { makeQueryCommand } from './commands/query.js';
import { makeStatusCommand } from './commands/status.js';
import { makeSubscriptionsCommand } from './commands/subscriptions.js';
import { makeSyncCommand } from './commands/sync.js';
import { makeTablesCommand } from './commands/tables.js';
import { DEFAULT_EDGE_URL, DEFAULT_HUB_URL, type Io, processIo } from './context.js';
import { CliError, EXIT } from './errors.js';

/** The CLI's version (the package's). */
export const VERSION = '0.1.0';

const EPILOGUE = `
Targets: the edge is --edge URL or TABLEMESH_EDGE (default ${DEFAULT_EDGE_URL}), with --edge-token or
TABLEMESH_EDGE_TOKEN when its http.token is set. The hub is --hub URL or TABLEMESH_HUB (default
${DEFAULT_HUB_URL}) with --token or TABLEMESH_TOKEN (always required). tables, get/put/patch/delete/query and
status talk to the edge unless --on-hub or --hub is given; nodes talks to the hub; diff to both.

Exit codes: 0 ok · 1 refused by the node · 2 bad command line · 3 edge/hub not reachable · 4 token refused ·
5 not found · 6 not in sync (sync timeout, diff found differences, write not confirmed by the hub)

Examples:
  $ tablemesh nodes add edge1 --publish alerts --subscribe thresholds
  $ tablemesh subscriptions add thresholds --subscribe --start beginning
  $ tablemesh status --watch
  $ tablemesh sync --wait --timeout 2m && tablemesh diff alerts`;

/** Builds the program (nothing runs until parseAsync). */
export function buildProgram(io: Io = processIo): Command {
  const program = new Command('tablemesh')
    .description(
      'set up and watch tablemesh replication: subscriptions, nodes, tables, data, status, sync, diff, certs',
    )
    .version(VERSION, '-V, --version')
    .option('--edge <url>', `the edge's local HTTP API (TABLEMESH_EDGE; default ${DEFAULT_EDGE_URL})`)
    .option('--edge-token <token>', "the edge's http.token (TABLEMESH_EDGE_TOKEN)")
    .option('--hub <url>', `the hub's HTTP API (TABLEMESH_HUB; default ${DEFAULT_HUB_URL}); implies --on-hub`)
    .option('--token <token>', "the hub's http.token (TABLEMESH_TOKEN)")
    .option('-H, --on-hub', 'run tables, data and status commands on the hub instead of the edge')
    .option('--json', 'machine-readable output (errors as JSON on stderr)')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EPILOGUE);
  for (const make of [
    makeSubscriptionsCommand,
    makeNodesCommand,
    makeTablesCommand,
    makeGetCommand,
    makePutCommand,
    makePatchCommand,
    makeDeleteCommand,
    makeQueryCommand,
    makeStatusCommand,
    makeSyncCommand,
    makeDiffCommand,
    makeQuarantineCommand,
    makeCertsCommand,
  ]) {
    program.addCommand(make(io));
  }
  // Every (sub)command reports through exitOverride, so main() decides the exit code.
  const override = (cmd: Command) => {
    cmd.exitOverride();
    // addHelpText pieces come without a final newline
    const nl = (s: string) => (s.endsWith('\n') ? s : `${s}\n`);
    cmd.configureOutput({ writeOut: (s) => io.stdout(nl(s)), writeErr: (s) => io.stderr(nl(s)) });
    for (const sub of cmd.commands) override(sub);
  };
  override(program);
  return program;
}

/** Runs the CLI with `argv` (user arguments, without node and script); resolves with the exit code. */
export async function run(argv: readonly string[], io: Io = processIo): Promise<number> {
  const program = buildProgram(io);
  const json = argv.includes('--json');
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are not errors; commander already printed its message
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.OK;
      if (err.code === 'commander.help') return EXIT.OK;
      if (json)
        io.stderr(`${JSON.stringify({ error: err.message, code: 'TM_CLI_USAGE', exitCode: EXIT.USAGE })}\n`);
      return EXIT.USAGE;
    }
    const e =
      err instanceof CliError
        ? err
        : new CliError(err instanceof Error ? err.message : String(err), EXIT.FAILED, 'TM_CLI_ERROR');
    if (json) {
      io.stderr(
        `${JSON.stringify({ error: e.message, code: e.code, exitCode: e.exitCode, ...(e.status ? { status: e.status } : {}) })}\n`,
      );
    } else {
      io.stderr(`tablemesh: ${e.message}\n`);
    }
    return e.exitCode;
  }
}
