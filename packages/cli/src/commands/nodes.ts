/**
 * `tablemesh nodes list|add|remove|grant|revoke|rotate` — node enrolment and per-table grants on the hub (SPEC §7,
 * §8) through its admin API (`/_admin/nodes…`, bearer token). `add` and `rotate` print the node's secret once,
 * with an edge config snippet ready to paste; the hub keeps only its scrypt hash.
 */
import { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { type Context, contextOf, type Io } from '../context.js';
import { usage } from '../errors.js';
import { list, qualified, table } from '../format.js';

/** A node as the admin API shows it. */
export interface NodeView {
  readonly id: string;
  readonly source: 'config' | 'admin';
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  readonly hasSecret: boolean;
  readonly connected: boolean;
  readonly createdMs?: number;
  readonly rotatedMs?: number;
}

const enc = encodeURIComponent;

/** The hub's MQTT URL for edges: --mqtt-url, else the hub HTTP host with the port its /_status reports. */
async function mqttUrlOf(hub: ApiClient, given: string | undefined): Promise<string> {
  if (given) return given;
  const host = new URL(hub.baseUrl).hostname;
  const status = await hub.get<{ mqtt: { tcp: number; tls?: number } | null }>('/_status');
  const tcp = status.mqtt?.tcp ?? 1883;
  return `mqtt://${host.includes(':') ? `[${host}]` : host}:${tcp}`;
}

/** The edge config (object and YAML) for a node and its secret. */
export function edgeConfigSnippet(node: NodeView, secret: string, mqttUrl: string) {
  const config = {
    nodeId: node.id,
    dataDir: `./var/${node.id}`,
    hub: { url: mqttUrl, username: node.id, password: secret },
    publish: node.publish.map((t) => ({ table: t })),
    subscribe: node.subscribe.map((t) => ({ table: t, start: 'beginning' })),
  };
  const lines = [
    `# tablemesh-edge config for ${node.id}: runs as it is, or merge into its edge.yaml (the password is shown once)`,
    `nodeId: ${node.id}`,
    `dataDir: ./var/${node.id} # its store (LevelDB), outbox and cursors`,
    'hub:',
    `  url: ${mqttUrl}`,
    `  username: ${node.id}`,
    `  password: ${JSON.stringify(secret)} # or set TM_EDGE_HUB__PASSWORD`,
    config.publish.length === 0 ? 'publish: []' : 'publish:',
    ...config.publish.map((p) => `  - table: ${p.table}`),
    config.subscribe.length === 0 ? 'subscribe: []' : 'subscribe:',
    ...config.subscribe.flatMap((s) => [`  - table: ${s.table}`, `    start: ${s.start}`]),
  ];
  return { config, yaml: `${lines.join('\n')}\n` };
}

function grantsText(n: NodeView): string {
  const p = n.publish.length > 0 ? n.publish.join(', ') : '-';
  const s = n.subscribe.length > 0 ? n.subscribe.join(', ') : '-';
  return `publish: ${p}; subscribe: ${s}`;
}

function direction(o: { publish?: boolean; subscribe?: boolean }): {
  publish?: boolean;
  subscribe?: boolean;
} {
  // neither flag = both (admin API: neither given = both)
  return {
    ...(o.publish ? { publish: true } : {}),
    ...(o.subscribe ? { subscribe: true } : {}),
  };
}

function printNode(ctx: Context, node: NodeView, verb: string): void {
  ctx.print({ node }, () => `${verb} ${node.id} (${grantsText(node)})`);
}

/** `nodes list`. */
function makeNodesListCommand(io: Io): Command {
  return new Command('list')
    .alias('ls')
    .description('enrolled nodes, their grants and whether they are connected')
    .addHelpText('after', '\nExample:\n  $ tablemesh nodes list --json')
    .action(async (_o, c: Command) => {
      const ctx = contextOf(c, io);
      const { nodes } = await ctx.hub().get<{ nodes: NodeView[] }>('/_admin/nodes');
      ctx.print({ nodes }, () =>
        nodes.length === 0
          ? 'no nodes enrolled: add one with `tablemesh nodes add NODE --publish … --subscribe …`'
          : table(
              ['node', 'source', 'publish', 'subscribe', 'secret', 'connected'],
              nodes.map((n) => [
                n.id,
                n.source,
                n.publish.join(','),
                n.subscribe.join(','),
                n.hasSecret,
                n.connected,
              ]),
            ),
      );
    });
}

/** `nodes add`. */
function makeNodesAddCommand(io: Io): Command {
  return new Command('add')
    .description('enrol a node: prints its secret once and an edge config snippet')
    .argument('<node>', 'node id ([A-Za-z_][A-Za-z0-9_]{0,63}; also its MQTT client id)')
    .option('-p, --publish <tables>', 'tables it may publish (comma-separated)', list, [])
    .option('-s, --subscribe <tables>', 'tables it may subscribe to (comma-separated)', list, [])
    .option(
      '--mqtt-url <url>',
      "the hub's MQTT URL for the snippet (default: the hub host and its MQTT port)",
    )
    .addHelpText(
      'after',
      '\nExample:\n  $ tablemesh nodes add edge1 --publish alerts,alert_chunks --subscribe thresholds > edge1-hub.yaml',
    )
    .action(
      async (id: string, o: { publish: string[]; subscribe: string[]; mqttUrl?: string }, c: Command) => {
        const ctx = contextOf(c, io);
        const hub = ctx.hub();
        const answer = (
          await hub.request<{ node: NodeView; secret: string }>('POST', '/_admin/nodes', {
            id,
            publish: o.publish.map(qualified),
            subscribe: o.subscribe.map(qualified),
          })
        ).body;
        const mqttUrl = await mqttUrlOf(hub, o.mqttUrl);
        const snippet = edgeConfigSnippet(answer.node, answer.secret, mqttUrl);
        ctx.print(
          { node: answer.node, secret: answer.secret, mqttUrl, config: snippet.config, yaml: snippet.yaml },
          () => {
            ctx.note(
              `enrolled ${id} on the hub (${grantsText(answer.node)}); its secret is shown this once:`,
            );
            return snippet.yaml;
          },
        );
      },
    );
}

/** `nodes remove`. */
function makeNodesRemoveCommand(io: Io): Command {
  return new Command('remove')
    .alias('rm')
    .description('remove a node: its credentials stop working and it is disconnected now')
    .argument('<node>', 'node id')
    .addHelpText('after', '\nExample:\n  $ tablemesh nodes remove edge7')
    .action(async (id: string, _o, c: Command) => {
      const ctx = contextOf(c, io);
      const body = await ctx.hub().request<{ message: string }>('DELETE', `/_admin/nodes/${enc(id)}`);
      ctx.print({ removed: id, message: body.body.message }, () => body.body.message);
    });
}

/** `nodes rotate`. */
function makeNodesRotateCommand(io: Io): Command {
  return new Command('rotate')
    .description('give a node a new secret (printed once); the old one stops working now')
    .argument('<node>', 'node id')
    .option('--mqtt-url <url>', "the hub's MQTT URL for the snippet")
    .addHelpText('after', '\nExample:\n  $ tablemesh nodes rotate edge1 --json | jq -r .secret')
    .action(async (id: string, o: { mqttUrl?: string }, c: Command) => {
      const ctx = contextOf(c, io);
      const hub = ctx.hub();
      const answer = (
        await hub.request<{ node: NodeView; secret: string }>('POST', `/_admin/nodes/${enc(id)}/rotate`)
      ).body;
      const mqttUrl = await mqttUrlOf(hub, o.mqttUrl);
      const snippet = edgeConfigSnippet(answer.node, answer.secret, mqttUrl);
      ctx.print(
        { node: answer.node, secret: answer.secret, mqttUrl, config: snippet.config, yaml: snippet.yaml },
        () => {
          ctx.note(`new secret for ${id} (shown this once; the old one no longer works):`);
          return snippet.yaml;
        },
      );
    });
}

/** `nodes grant` and `nodes revoke`. */
function makeNodesGrantCommand(io: Io, action: 'grant' | 'revoke'): Command {
  return new Command(action)
    .description(
      action === 'grant'
        ? 'let a node publish and/or subscribe a table (neither flag = both)'
        : 'take a grant back; the node is disconnected now (neither flag = both)',
    )
    .argument('<node>', 'node id')
    .argument('<tables...>', 'table names')
    .option('-p, --publish', `${action} publish`)
    .option('-s, --subscribe', `${action} subscribe`)
    .addHelpText('after', `\nExample:\n  $ tablemesh nodes ${action} edge1 thresholds --subscribe`)
    .action(
      async (id: string, tables: string[], o: { publish?: boolean; subscribe?: boolean }, c: Command) => {
        const ctx = contextOf(c, io);
        const hub = ctx.hub();
        let node: NodeView | undefined;
        for (const t of tables) {
          node = (
            await hub.request<{ node: NodeView }>('POST', `/_admin/nodes/${enc(id)}/${action}`, {
              table: qualified(t),
              ...direction(o),
            })
          ).body.node;
        }
        if (!node) throw usage('name at least one table');
        printNode(ctx, node, action === 'grant' ? 'granted' : 'revoked; now');
      },
    );
}

/** `nodes …`. */
export function makeNodesCommand(io: Io): Command {
  const cmd = new Command('nodes')
    .description('enrol edges on the hub and grant them tables (hub admin API)')
    .addHelpText(
      'after',
      `
The hub is --hub URL or TABLEMESH_HUB (default http://127.0.0.1:9480), its token --token or TABLEMESH_TOKEN.

Examples:
  $ tablemesh nodes add edge1 --publish alerts,alert_chunks --subscribe thresholds
  $ tablemesh nodes grant edge1 sensor_stats --publish
  $ tablemesh nodes list`,
    );

  for (const sub of [
    makeNodesListCommand(io),
    makeNodesAddCommand(io),
    makeNodesRemoveCommand(io),
    makeNodesGrantCommand(io, 'grant'),
    makeNodesGrantCommand(io, 'revoke'),
    makeNodesRotateCommand(io),
  ])
    cmd.addCommand(sub);
  return cmd;
}
