/**
 * `tablemesh quarantine list|retry|drop` — transactions the hub refused for their content (I11: poison), kept on
 * the edge with the error. `retry` re-enqueues a transaction's ops as a new transaction (new stamp and seq), e.g.
 * after the hub's limits or schema changed; `drop` forgets it. Edge routes `/_quarantine…`.
 */
import { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { contextOf, type Io } from '../context.js';
import { usage } from '../errors.js';
import { duration, qualified, table } from '../format.js';

/** A quarantined transaction as the edge shows it. */
export interface QuarantinedView {
  readonly id: string;
  readonly table: string;
  readonly epoch: string;
  readonly seq: number;
  readonly code: string;
  readonly message: string;
  readonly quarantinedMs: number;
  readonly ops: readonly { kind: string; key: string | number }[];
}

async function listOf(edge: ApiClient, tableName?: string): Promise<QuarantinedView[]> {
  const query = tableName ? { table: qualified(tableName) } : {};
  return (await edge.get<{ quarantined: QuarantinedView[] }>('/_quarantine', { query })).quarantined;
}

async function idsOf(edge: ApiClient, ids: string[], all: boolean | undefined): Promise<string[]> {
  if (all && ids.length > 0) throw usage('give ids or --all, not both');
  if (all) return (await listOf(edge)).map((q) => q.id);
  if (ids.length === 0) throw usage('give the ids to act on (see `tablemesh quarantine list`) or --all');
  return ids;
}

/** `quarantine list`. */
function makeQuarantineListCommand(io: Io): Command {
  return new Command('list')
    .alias('ls')
    .description('quarantined transactions with the refusal code')
    .option('--table <table>', 'only this table')
    .addHelpText('after', '\nExample:\n  $ tablemesh quarantine list --table alerts --json')
    .action(async (o: { table?: string }, c: Command) => {
      const ctx = contextOf(c, io);
      const list = await listOf(ctx.edge(), o.table);
      const now = Date.now();
      ctx.print({ quarantined: list }, () =>
        list.length === 0
          ? 'nothing quarantined'
          : table(
              ['id', 'ops', 'keys', 'code', 'message', 'age'],
              list.map((q) => [
                q.id,
                q.ops.length,
                q.ops
                  .slice(0, 3)
                  .map((op) => JSON.stringify(op.key))
                  .join(',') + (q.ops.length > 3 ? ',…' : ''),
                q.code,
                q.message.length > 60 ? `${q.message.slice(0, 57)}…` : q.message,
                duration(now - q.quarantinedMs),
              ]),
            ),
      );
    });
}

/** `quarantine retry`. */
function makeQuarantineRetryCommand(io: Io): Command {
  return new Command('retry')
    .description('send quarantined transactions again, as new transactions')
    .argument('[ids...]', 'quarantine ids (`table:epoch:seq`)')
    .option('--all', 'every quarantined transaction')
    .addHelpText('after', "\nExample:\n  $ tablemesh quarantine retry 'data.alerts:4f1c…:17'")
    .action(async (ids: string[], o: { all?: boolean }, c: Command) => {
      const ctx = contextOf(c, io);
      const edge = ctx.edge();
      const retried: { id: string; retried: { table: string; seq: number } }[] = [];
      for (const id of await idsOf(edge, ids, o.all)) {
        const body = (
          await edge.request<{ id: string; retried: { table: string; seq: number } }>(
            'POST',
            `/_quarantine/${encodeURIComponent(id)}/retry`,
          )
        ).body;
        retried.push(body);
      }
      ctx.print({ retried }, () =>
        retried.length === 0
          ? 'nothing quarantined'
          : retried.map((r) => `retried ${r.id} as ${r.retried.table} seq ${r.retried.seq}`).join('\n'),
      );
    });
}

/** `quarantine drop`. */
function makeQuarantineDropCommand(io: Io): Command {
  return new Command('drop')
    .description('forget quarantined transactions (their writes are never applied at the hub)')
    .argument('[ids...]', 'quarantine ids (`table:epoch:seq`)')
    .option('--all', 'every quarantined transaction')
    .addHelpText('after', "\nExample:\n  $ tablemesh quarantine drop 'data.alerts:4f1c…:17'")
    .action(async (ids: string[], o: { all?: boolean }, c: Command) => {
      const ctx = contextOf(c, io);
      const edge = ctx.edge();
      const dropped: string[] = [];
      for (const id of await idsOf(edge, ids, o.all)) {
        await edge.request('DELETE', `/_quarantine/${encodeURIComponent(id)}`);
        dropped.push(id);
      }
      ctx.print({ dropped }, () =>
        dropped.length === 0 ? 'nothing quarantined' : dropped.map((id) => `dropped ${id}`).join('\n'),
      );
    });
}

/** `quarantine …`. */
export function makeQuarantineCommand(io: Io): Command {
  const cmd = new Command('quarantine')
    .description('transactions the hub refused for their content (I11): list, retry, drop')
    .addHelpText(
      'after',
      `
Examples:
  $ tablemesh quarantine list
  $ tablemesh quarantine retry 'data.alerts:4f1c…:17'
  $ tablemesh quarantine drop --all`,
    );

  for (const sub of [
    makeQuarantineListCommand(io),
    makeQuarantineRetryCommand(io),
    makeQuarantineDropCommand(io),
  ])
    cmd.addCommand(sub);
  return cmd;
}
