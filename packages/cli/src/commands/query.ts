/**
 * `tablemesh query <table> [conditions...]` — records matching conditions, as the REST query does (SPEC §8):
 * `attr=value` is equality, `attr.op=value` with op in eq|ne|gt|ge|lt|le|prefix, `attr.between=lo,hi`; ANDed.
 */
import { Command } from 'commander';
import { contextOf, type Io } from '../context.js';
import { usage } from '../errors.js';
import { recordsTable } from '../records.js';

/** `query`. */
export function makeQueryCommand(io: Io): Command {
  return new Command('query')
    .description('records matching conditions (all records without any)')
    .argument('<table>', '`alerts` or `db.table`')
    .argument('[conditions...]', 'attr=value, attr.gt=5, attr.between=1,9, attr.prefix=ab …')
    .option('-l, --limit <n>', 'at most n records')
    .option('--offset <n>', 'skip n records')
    .option('--sort <attr>', 'sort by attr (-attr: descending)')
    .option('--select <attrs>', 'only these attributes (comma-separated)')
    .option('--times', 'show __createdtime__ and __updatedtime__ in the table')
    .addHelpText(
      'after',
      `
Values are JSON when they parse as a number, true, false, null or a "quoted string"; else plain strings.

Examples:
  $ tablemesh query sensor_data sensor=temp ts.gt=1700000000000 --sort -ts --limit 10
  $ tablemesh query alerts --json`,
    )
    .action(
      async (
        tableName: string,
        conditions: string[],
        o: { limit?: string; offset?: string; sort?: string; select?: string; times?: boolean },
        c: Command,
      ) => {
        const ctx = contextOf(c, io);
        const query: Record<string, string> = {};
        const params = new URLSearchParams();
        for (const cond of conditions) {
          const eq = cond.indexOf('=');
          if (eq <= 0) throw usage(`a condition is attr=value or attr.op=value, got '${cond}'`);
          params.append(cond.slice(0, eq), cond.slice(eq + 1));
        }
        for (const k of ['limit', 'offset', 'sort', 'select'] as const)
          if (o[k] !== undefined) query[k] = o[k]!;
        const qs = params.toString();
        const path = `/${encodeURIComponent(tableName)}/${qs ? `?${qs}` : ''}`;
        const records = await ctx.target().get<Record<string, unknown>[]>(path, { query });
        ctx.print(records, () => {
          if (records.length === 0) return 'no records';
          const pk = Object.keys(records[0]!)[0] ?? 'id';
          return `${recordsTable(records, pk, o.times === true)}\n(${records.length} record${records.length === 1 ? '' : 's'})`;
        });
      },
    );
}
