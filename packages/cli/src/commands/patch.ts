/** `tablemesh patch <table> <id> <json>` — set some attributes of a record (patch; SPEC §4). */
import { Command } from 'commander';
import { contextOf, type Io } from '../context.js';
import {
  type ConfirmOptions,
  confirmOptions,
  confirmQuery,
  jsonArg,
  printWrite,
  recordPath,
} from '../records.js';

/** `patch`. */
export function makePatchCommand(io: Io): Command {
  return confirmOptions(
    new Command('patch')
      .description('set the given attributes of a record (others are kept)')
      .argument('<table>', '`alerts` or `db.table`')
      .argument('<id>', 'primary key')
      .argument('<json>', 'the attributes as a JSON object, - for stdin, or @file')
      .option('-n, --number', 'the id is a number'),
  )
    .addHelpText('after', `\nExample:\n  $ tablemesh patch thresholds temp '{"max":35}' --on-hub`)
    .action(
      async (
        tableName: string,
        id: string,
        json: string,
        o: ConfirmOptions & { number?: boolean },
        c: Command,
      ) => {
        const ctx = contextOf(c, io);
        const attrs = jsonArg(json, 'the attributes');
        const { path, query } = recordPath(tableName, id, o.number === true);
        const answer = await ctx
          .target()
          .request('PATCH', path, attrs, { query: { ...query, ...confirmQuery(o) } });
        printWrite(ctx, answer, 'patched', `${tableName}/${id}`);
      },
    );
}
