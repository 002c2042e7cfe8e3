/**
 * `tablemesh subscriptions list|add|remove` — an edge's replication with its hub (SPEC §5, §8), per table: publish
 * (local writes go up through the outbox) and subscribe (the hub's feed comes down, from a start point). Driven
 * through the edge's operations API (add_node, update_node, cluster_status). With a hub configured (--hub or
 * TABLEMESH_HUB), `add` also reads the hub's table definitions: a published table missing locally is created with
 * the hub's primary key and indexes, and missing hub tables or grants are reported before they bite.
 */
import { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { type Context, contextOf, type Io } from '../context.js';
import { CliError, EXIT, usage } from '../errors.js';
import { qualified, splitRef, table } from '../format.js';

/** One table's replication as cluster_status shows it. */
export interface SubscriptionRow {
  readonly table: string;
  readonly publish: boolean;
  readonly subscribe: boolean;
  readonly phase: string | null;
  readonly backlog: number | null;
  readonly hubSeq: number | null;
  readonly headSeen: number | null;
}

interface ClusterStatus {
  node_name: string;
  connections: {
    node_name: string;
    status: string;
    link?: string;
    url: string;
    subscriptions: {
      schema: string;
      table: string;
      publish: boolean;
      subscribe: boolean;
      backlog?: number;
      phase?: string;
      hub_seq?: number;
      head_seen?: number;
    }[];
  }[];
}

/** The edge's replication set (cluster_status) as rows, with the hub's name and link. */
export async function readSubscriptions(edge: ApiClient) {
  const status = await edge.operation<ClusterStatus>({ operation: 'cluster_status' });
  const conn = status.connections[0];
  const rows: SubscriptionRow[] = (conn?.subscriptions ?? []).map((s) => ({
    table: `${s.schema}.${s.table}`,
    publish: s.publish,
    subscribe: s.subscribe,
    phase: s.phase ?? null,
    backlog: s.backlog ?? null,
    hubSeq: s.hub_seq ?? null,
    headSeen: s.head_seen ?? null,
  }));
  return {
    node: status.node_name,
    hub: conn ? { name: conn.node_name, status: conn.status, link: conn.link ?? null, url: conn.url } : null,
    subscriptions: rows,
  };
}

/** `now`, `beginning`, epoch ms or an ISO time. */
function parseStart(raw: string): string | number {
  if (raw === 'now' || raw === 'beginning') return raw;
  if (/^\d+$/.test(raw)) return Number(raw);
  if (/^\d{4}-\d\d-\d\d/.test(raw) && !Number.isNaN(Date.parse(raw))) return new Date(raw).toISOString();
  throw usage(`--start must be now, beginning, an ISO time (2024-01-31T12:00:00Z) or epoch ms, got '${raw}'`);
}

function hubConfigured(ctx: Context): boolean {
  return ctx.onHub || ctx.io.env['TABLEMESH_HUB'] !== undefined;
}

interface HubDef {
  hash_attribute: string;
  indexes?: string[][];
}

/** Checks against the hub before adding: its definitions (create published tables locally) and grants. */
async function checkHub(
  ctx: Context,
  edge: ApiClient,
  node: string,
  tables: readonly string[],
  want: { publish: boolean; subscribe: boolean },
): Promise<{ created: string[]; warnings: string[] }> {
  const created: string[] = [];
  const warnings: string[] = [];
  const hub = ctx.hub();
  const local = new Set(
    Object.entries(
      await edge.operation<Record<string, Record<string, unknown>>>({ operation: 'describe_all' }),
    ).flatMap(([db, ts]) => Object.keys(ts).map((t) => `${db}.${t}`)),
  );
  let grants: { publish: string[]; subscribe: string[] } | undefined;
  try {
    grants = (await hub.get<{ node: { publish: string[]; subscribe: string[] } }>(`/_admin/nodes/${node}`))
      .node;
  } catch (err) {
    if (!(err instanceof CliError) || err.exitCode !== EXIT.NOT_FOUND) throw err;
    warnings.push(`node '${node}' is not enrolled on the hub: run \`tablemesh nodes add ${node}\``);
  }
  for (const t of tables) {
    let def: HubDef | undefined;
    try {
      def = await hub.operation<HubDef>({ operation: 'describe_table', ...splitRef(t) });
    } catch (err) {
      if (!(err instanceof CliError) || err.exitCode !== EXIT.NOT_FOUND) throw err;
    }
    if (!def) {
      if (want.subscribe)
        warnings.push(
          `the hub has no table ${t} yet: create it with \`tablemesh tables create ${t} --on-hub\``,
        );
    } else if (want.publish && !local.has(t)) {
      // SPEC §5: definitions are the hub's; a published table keyed differently would be TM_SCHEMA_MISMATCH
      await edge.operation({
        operation: 'create_table',
        ...splitRef(t),
        primary_key: def.hash_attribute,
        ...(def.indexes && def.indexes.length > 0 ? { indexes: def.indexes } : {}),
      });
      created.push(t);
    }
    for (const dir of ['publish', 'subscribe'] as const) {
      if (want[dir] && grants && !grants[dir].includes(t)) {
        warnings.push(
          `the hub has not granted ${node} ${dir} on ${t}: run \`tablemesh nodes grant ${node} ${t} --${dir}\``,
        );
      }
    }
  }
  return { created, warnings };
}

/** Options of `subscriptions add`. */
interface AddOptions {
  readonly publish?: boolean;
  readonly subscribe?: boolean;
  readonly start: string;
}

/** checkHub, but a hub that is down or refuses the token is a warning: the edge takes subscriptions offline. */
async function checkHubOrWarn(
  ctx: Context,
  edge: ApiClient,
  node: string,
  tables: readonly string[],
  want: { publish: boolean; subscribe: boolean },
): Promise<{ created: string[]; warnings: string[]; checked: boolean }> {
  try {
    return { ...(await checkHub(ctx, edge, node, tables, want)), checked: true };
  } catch (err) {
    const skip =
      err instanceof CliError && (err.exitCode === EXIT.UNREACHABLE || err.exitCode === EXIT.UNAUTHORIZED);
    if (!skip) throw err;
    return { created: [], warnings: [`not checked against the hub: ${err.message}`], checked: false };
  }
}

/** Adds new tables (add_node) and extends existing entries (update_node); existing flags are kept. */
async function applyAdd(
  edge: ApiClient,
  before: Awaited<ReturnType<typeof readSubscriptions>>,
  tables: readonly string[],
  o: AddOptions,
  start: string | number,
): Promise<{ added: string[]; updated: string[]; unchanged: string[] }> {
  const nodeName = before.hub?.name ?? 'hub';
  const existing = new Map(before.subscriptions.map((s) => [s.table, s]));
  const entry = (t: string) => {
    const cur = existing.get(t);
    return {
      ...splitRef(t),
      publish: o.publish === true || cur?.publish === true,
      subscribe: o.subscribe === true || cur?.subscribe === true,
      ...(o.subscribe ? { start_time: start } : {}),
    };
  };
  const added = tables.filter((t) => !existing.has(t));
  const updated = tables.filter((t) => {
    const cur = existing.get(t);
    return (
      cur !== undefined && ((o.publish === true && !cur.publish) || (o.subscribe === true && !cur.subscribe))
    );
  });
  const unchanged = tables.filter((t) => !added.includes(t) && !updated.includes(t));
  if (added.length > 0) {
    await edge.operation({ operation: 'add_node', node_name: nodeName, subscriptions: added.map(entry) });
  }
  if (updated.length > 0) {
    await edge.operation({
      operation: 'update_node',
      node_name: nodeName,
      subscriptions: updated.map(entry),
    });
  }
  return { added, updated, unchanged };
}

/** `subscriptions list`. */
function makeSubscriptionsListCommand(io: Io): Command {
  return new Command('list')
    .description("the edge's replicated tables, their direction, phase and backlog")
    .addHelpText('after', '\nExample:\n  $ tablemesh subscriptions list --json')
    .action(async (_o, c: Command) => {
      const ctx = contextOf(c, io);
      const subs = await readSubscriptions(ctx.edge());
      ctx.print(subs, () => {
        if (subs.subscriptions.length === 0) {
          return 'no tables replicated: add one with `tablemesh subscriptions add TABLE --publish|--subscribe`';
        }
        const head = subs.hub
          ? `edge ${subs.node} ↔ ${subs.hub.name} (${subs.hub.url}): ${subs.hub.link ?? subs.hub.status}\n`
          : '';
        return (
          head +
          table(
            ['table', 'publish', 'subscribe', 'phase', 'backlog', 'feed lag'],
            subs.subscriptions.map((s) => [
              s.table,
              s.publish,
              s.subscribe,
              s.phase,
              s.backlog,
              s.headSeen === null ? null : Math.max(0, s.headSeen - (s.hubSeq ?? 0)),
            ]),
          )
        );
      });
    });
}

/** `subscriptions add`. */
function makeSubscriptionsAddCommand(io: Io): Command {
  return new Command('add')
    .description('publish and/or subscribe tables (kept across restarts; existing entries are extended)')
    .argument('<tables...>', 'table names (`alerts` or `db.table`)')
    .option('-p, --publish', 'send local writes of these tables to the hub')
    .option('-s, --subscribe', "follow the hub's feed of these tables (read-only here)")
    .option('--start <when>', 'where a new subscription starts: now | beginning | ISO time | epoch ms', 'now')
    .addHelpText(
      'after',
      `
With a hub configured (--hub URL, --on-hub, or TABLEMESH_HUB and TABLEMESH_TOKEN), a published table missing
locally is first created with the hub's primary key and indexes, and missing hub tables or grants are reported.

Examples:
  $ tablemesh subscriptions add thresholds --subscribe --start beginning
  $ TABLEMESH_HUB=http://hub:9480 TABLEMESH_TOKEN=… tablemesh subscriptions add alerts --publish`,
    )
    .action(async (names: string[], o: AddOptions, c: Command) => {
      const ctx = contextOf(c, io);
      if (!o.publish && !o.subscribe) throw usage('say --publish, --subscribe or both');
      const start = parseStart(o.start);
      const edge = ctx.edge();
      const tables = [...new Set(names.map(qualified))];
      const before = await readSubscriptions(edge);
      const want = { publish: o.publish === true, subscribe: o.subscribe === true };
      const checked = hubConfigured(ctx)
        ? await checkHubOrWarn(ctx, edge, before.node, tables, want)
        : undefined;
      const { added, updated, unchanged } = await applyAdd(edge, before, tables, o, start);
      const after = await readSubscriptions(edge);
      const result = {
        added,
        updated,
        unchanged,
        createdLocally: checked?.created ?? [],
        hubChecked: checked?.checked === true,
        warnings: checked?.warnings ?? [],
        subscriptions: after.subscriptions.filter((s) => tables.includes(s.table)),
      };
      const verb = (t: string) =>
        added.includes(t) ? 'added' : updated.includes(t) ? 'updated' : 'unchanged';
      ctx.print(result, () =>
        [
          ...result.createdLocally.map((t) => `created ${t} locally from the hub's definition`),
          ...result.subscriptions.map(
            (s) =>
              `${verb(s.table)} ${s.table}: ` +
              [s.publish ? 'publish' : '', s.subscribe ? 'subscribe' : ''].filter(Boolean).join(' + '),
          ),
          ...result.warnings.map((w) => `warning: ${w}`),
        ].join('\n'),
      );
    });
}

/** `subscriptions remove`. */
function makeSubscriptionsRemoveCommand(io: Io): Command {
  return new Command('remove')
    .alias('rm')
    .description('stop publishing and/or subscribing tables (local data is kept)')
    .argument('<tables...>', 'table names')
    .option('-p, --publish', 'stop only publishing')
    .option('-s, --subscribe', 'stop only subscribing')
    .addHelpText(
      'after',
      '\nExamples:\n  $ tablemesh subscriptions remove alert_chunks\n  $ tablemesh subscriptions remove alerts --publish',
    )
    .action(async (names: string[], o: { publish?: boolean; subscribe?: boolean }, c: Command) => {
      const ctx = contextOf(c, io);
      const edge = ctx.edge();
      const before = await readSubscriptions(edge);
      const existing = new Map(before.subscriptions.map((s) => [s.table, s]));
      const tables = [...new Set(names.map(qualified))];
      const missing = tables.filter((t) => !existing.has(t));
      if (missing.length > 0) {
        throw new CliError(
          `not replicated on this edge: ${missing.join(', ')} (see \`tablemesh subscriptions list\`)`,
          EXIT.NOT_FOUND,
          'TM_NOT_FOUND',
        );
      }
      const both = !o.publish && !o.subscribe;
      const entries = tables.map((t) => {
        const cur = existing.get(t)!;
        return {
          ...splitRef(t),
          publish: both || o.publish ? false : cur.publish,
          subscribe: both || o.subscribe ? false : cur.subscribe,
        };
      });
      await edge.operation({
        operation: 'update_node',
        node_name: before.hub?.name ?? 'hub',
        subscriptions: entries,
      });
      const after = await readSubscriptions(edge);
      const result = {
        removed: entries.filter((e) => !e.publish && !e.subscribe).map((e) => `${e.database}.${e.table}`),
        subscriptions: after.subscriptions,
      };
      ctx.print(result, () =>
        entries
          .map((e) => {
            const t = `${e.database}.${e.table}`;
            return e.publish || e.subscribe
              ? `${t}: now ${e.publish ? 'publish' : 'subscribe'} only`
              : `removed ${t} (its local data is kept)`;
          })
          .join('\n'),
      );
    });
}

/** `subscriptions list|add|remove`. */
export function makeSubscriptionsCommand(io: Io): Command {
  const cmd = new Command('subscriptions')
    .alias('subs')
    .description("an edge's publish/subscribe per table with its hub")
    .addHelpText(
      'after',
      `
Examples:
  $ tablemesh subscriptions add thresholds --subscribe --start beginning
  $ tablemesh subscriptions add alerts alert_chunks --publish
  $ tablemesh subscriptions list
  $ tablemesh subscriptions remove alert_chunks`,
    );

  for (const sub of [
    makeSubscriptionsListCommand(io),
    makeSubscriptionsAddCommand(io),
    makeSubscriptionsRemoveCommand(io),
  ])
    cmd.addCommand(sub);
  return cmd;
}
