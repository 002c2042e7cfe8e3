/** @tablemesh/cli — the `tablemesh` command: talks HTTP to a running edge or hub, never opens a store. */
export { type Io, processIo } from './context.js';
export { CliError, EXIT, type ExitCode } from './errors.js';
export { buildProgram, run, VERSION } from './program.js';
