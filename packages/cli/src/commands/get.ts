/** `tablemesh get <table> <id>` — one record from the edge (or the hub with --on-hub); exit 5 when absent. */
import { Command } from 'commander';
import { contextOf, type Io } from '../context.js';
import { recordPath, recordText } from '../records.js';

/** `get`. */
export function makeGetCommand(io: Io): Command {
  return new Command('get')
    .description('read one record')
    .argument('<table>', '`alerts` or `db.table`')
    .argument('<id>', 'primary key (a string; --number for a numeric key)')
    .option('-n, --number', 'the id is a number (SPEC §3: "1" and 1 are different keys)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ tablemesh get thresholds temp\n  $ tablemesh get counters 42 --number --on-hub --json',
    )
    .action(async (tableName: string, id: string, o: { number?: boolean }, c: Command) => {
      const ctx = contextOf(c, io);
      const { path, query } = recordPath(tableName, id, o.number === true);
      const record = await ctx.target().get<Record<string, unknown>>(path, { query });
      ctx.print(record, () => recordText(record));
    });
}
