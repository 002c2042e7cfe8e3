/**
 * `tablemesh tables list|describe|create|drop` — table definitions on the edge (default) or the hub (--on-hub),
 * through the operations API (describe_all, describe_table, create_table, drop_table). Tables the hub owns are
 * created on the hub; a subscribing edge takes their definition from it (SPEC §5).
 */
import { Command } from 'commander';
import { contextOf, type Io } from '../context.js';
import { usage } from '../errors.js';
import { splitRef, table } from '../format.js';

/** describe_table's answer (HarperDB 4.x shape plus tablemesh's indexes and replication). */
export interface TableDescription {
  readonly schema: string;
  readonly name: string;
  readonly hash_attribute: string;
  readonly record_count: number;
  readonly indexes: readonly (readonly string[])[];
  readonly attributes: readonly { attribute: string; indexed: boolean }[];
  readonly expiration?: number;
  readonly replication?: { publish: boolean; subscribe: boolean };
}

const replicationText = (r: TableDescription['replication']) =>
  r
    ? [r.publish ? 'publish' : '', r.subscribe ? 'subscribe' : ''].filter(Boolean).join('+') || 'local'
    : null;

function describeText(d: TableDescription): string {
  return [
    `table        ${d.schema}.${d.name}`,
    `primary key  ${d.hash_attribute}`,
    `records      ${d.record_count}`,
    `indexes      ${d.indexes.length > 0 ? d.indexes.map((i) => `(${i.join(', ')})`).join(' ') : '-'}`,
    `attributes   ${d.attributes.map((a) => a.attribute).join(', ')}`,
    ...(d.expiration !== undefined ? [`expiration   ${d.expiration}s (local retention)`] : []),
    ...(d.replication ? [`replication  ${replicationText(d.replication)}`] : []),
  ].join('\n');
}

/** `tables list`. */
function makeTablesListCommand(io: Io): Command {
  return new Command('list')
    .alias('ls')
    .description('every table with its primary key, record count and replication')
    .addHelpText('after', '\nExample:\n  $ tablemesh tables list --on-hub --json')
    .action(async (_o, c: Command) => {
      const ctx = contextOf(c, io);
      const all = await ctx.target().operation<Record<string, Record<string, TableDescription>>>({
        operation: 'describe_all',
      });
      const tables = Object.values(all)
        .flatMap((db) => Object.values(db))
        .sort((a, b) => (`${a.schema}.${a.name}` < `${b.schema}.${b.name}` ? -1 : 1));
      ctx.print({ tables }, () =>
        tables.length === 0
          ? 'no tables'
          : table(
              ['table', 'primary key', 'records', 'indexes', 'replication', 'expiration'],
              tables.map((d) => [
                `${d.schema}.${d.name}`,
                d.hash_attribute,
                d.record_count,
                d.indexes.map((i) => `(${i.join(',')})`).join(' '),
                replicationText(d.replication),
                d.expiration === undefined ? null : `${d.expiration}s`,
              ]),
            ),
      );
    });
}

/** `tables describe`. */
function makeTablesDescribeCommand(io: Io): Command {
  return new Command('describe')
    .description("a table's definition, attributes and record count")
    .argument('<table>', '`alerts` or `db.table`')
    .addHelpText('after', '\nExample:\n  $ tablemesh tables describe sensor_data')
    .action(async (name: string, _o, c: Command) => {
      const ctx = contextOf(c, io);
      const d = await ctx
        .target()
        .operation<TableDescription>({ operation: 'describe_table', ...splitRef(name) });
      ctx.print(d, () => describeText(d));
    });
}

/** `tables create`. */
function makeTablesCreateCommand(io: Io): Command {
  return new Command('create')
    .description('create a table')
    .argument('<table>', '`alerts` or `db.table`')
    .option('-k, --primary-key <attr>', 'primary key attribute', 'id')
    .option(
      '-i, --index <attrs>',
      'a secondary index; comma-separated attributes make a compound one (repeatable)',
      (v: string, prev: string[][]) => [
        ...prev,
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ],
      [] as string[][],
    )
    .option('--expiration <seconds>', 'local retention in seconds (only for tables that are not replicated)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ tablemesh tables create thresholds --on-hub\n  $ tablemesh tables create sensor_data --index sensor,ts --expiration 3600',
    )
    .action(
      async (name: string, o: { primaryKey: string; index: string[][]; expiration?: string }, c: Command) => {
        const ctx = contextOf(c, io);
        let expiration: number | undefined;
        if (o.expiration !== undefined) {
          expiration = Number(o.expiration);
          if (!Number.isSafeInteger(expiration) || expiration < 1)
            throw usage(`--expiration must be a whole number of seconds ≥ 1, got '${o.expiration}'`);
        }
        const answer = await ctx.target().operation<{ message: string }>({
          operation: 'create_table',
          ...splitRef(name),
          primary_key: o.primaryKey,
          ...(o.index.length > 0 ? { indexes: o.index } : {}),
          ...(expiration !== undefined ? { expiration } : {}),
        });
        ctx.print(answer, () => answer.message);
      },
    );
}

/** `tables drop`. */
function makeTablesDropCommand(io: Io): Command {
  return new Command('drop')
    .description('drop a table with its records (on the hub: subscribers detach and keep their data)')
    .argument('<table>', '`alerts` or `db.table`')
    .addHelpText('after', '\nExample:\n  $ tablemesh tables drop scratch')
    .action(async (name: string, _o, c: Command) => {
      const ctx = contextOf(c, io);
      const answer = await ctx
        .target()
        .operation<{ message: string }>({ operation: 'drop_table', ...splitRef(name) });
      ctx.print(answer, () => answer.message);
    });
}

/** `tables …`. */
export function makeTablesCommand(io: Io): Command {
  const cmd = new Command('tables')
    .description('table definitions on the edge (or the hub with --on-hub)')
    .addHelpText(
      'after',
      `
Examples:
  $ tablemesh tables create thresholds --on-hub
  $ tablemesh tables create sensor_data --index sensor,ts --expiration 3600
  $ tablemesh tables list`,
    );

  for (const sub of [
    makeTablesListCommand(io),
    makeTablesDescribeCommand(io),
    makeTablesCreateCommand(io),
    makeTablesDropCommand(io),
  ])
    cmd.addCommand(sub);
  return cmd;
}
