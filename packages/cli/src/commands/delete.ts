/** `tablemesh delete <table> <id...>` — delete records (each leaves a tombstone, I5), in one request. */
import { Command } from 'commander';
import { contextOf, type Io } from '../context.js';
import { type ConfirmOptions, confirmOptions, confirmQuery, printWrite, recordPath } from '../records.js';

/** `delete`. */
export function makeDeleteCommand(io: Io): Command {
  return confirmOptions(
    new Command('delete')
      .alias('del')
      .description('delete records (several ids: one transaction)')
      .argument('<table>', '`alerts` or `db.table`')
      .argument('<ids...>', 'primary keys')
      .option('-n, --number', 'the ids are numbers'),
  )
    .addHelpText('after', '\nExample:\n  $ tablemesh delete alerts a1 a2')
    .action(
      async (tableName: string, ids: string[], o: ConfirmOptions & { number?: boolean }, c: Command) => {
        const ctx = contextOf(c, io);
        const node = ctx.target();
        const numeric = o.number === true;
        if (ids.length === 1) {
          const { path, query } = recordPath(tableName, ids[0]!, numeric);
          const answer = await node.request('DELETE', path, undefined, {
            query: { ...query, ...confirmQuery(o) },
          });
          printWrite(ctx, answer, 'deleted', `${tableName}/${ids[0]}`);
          return;
        }
        for (const id of ids) recordPath(tableName, id, numeric); // validates --number ids
        const ops = ids.map((id) => ({ kind: 'delete', key: numeric ? Number(id) : id }));
        const answer = await node.request(
          'POST',
          '/_batch',
          { writes: [{ table: tableName, ops }] },
          { query: confirmQuery(o) },
        );
        printWrite(ctx, answer, 'deleted', `${ids.length} records of ${tableName}`);
      },
    );
}
