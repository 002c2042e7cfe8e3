/**
 * `tablemesh status [--watch]` — on the edge (default): link state; per published table backlog count and bytes,
 * oldest unsent age, receipts lag (in flight), drain rate and ETA, quarantined, skipped, last error; per subscribed
 * table phase, feed cursor, head seen and lag. On the hub (--on-hub): connected nodes, last seen, per table feed
 * head and applied tx/s. Reads `GET /_status` of either.
 */
import { Command } from 'commander';
import { type Context, contextOf, type Io } from '../context.js';
import { usage } from '../errors.js';
import { bytes, duration, parseDuration, table } from '../format.js';

/** A published table in the edge's /_status. */
export interface PublishedStatus {
  readonly table: string;
  readonly backlogCount: number;
  readonly backlogBytes: number;
  readonly quotaBytes: number;
  readonly oldestUnsentAgeMs: number | null;
  readonly inFlight: number;
  readonly receiptedThrough: number;
  readonly held: { code: string; message: string } | null;
  readonly quarantined: number;
  readonly skippedTotal: number;
  readonly drainPerSec: number | null;
  readonly lastError: string | null;
}

/** A subscribed table in the edge's /_status. */
export interface SubscribedStatus {
  readonly table: string;
  readonly phase: string;
  readonly hubSeq: number;
  readonly headSeen: number;
  readonly lag: number;
  readonly lastError: string | null;
}

/** The edge's /_status. */
export interface EdgeStatus {
  readonly role: 'edge';
  readonly node: string;
  readonly storeEpoch: string;
  readonly hubEpoch: string | null;
  readonly link: {
    state: string;
    connected: boolean;
    hub: string;
    lastError: string | null;
    connects: number;
    disconnects: number;
  };
  readonly published: readonly PublishedStatus[];
  readonly subscribed: readonly SubscribedStatus[];
  readonly synced: boolean;
}

/** The hub's /_status. */
export interface HubStatus {
  readonly role: 'hub';
  readonly node: string;
  readonly hubEpoch: string;
  readonly mqtt: { tcp: number; tls?: number; ws?: number } | null;
  readonly connectedNodes: number;
  readonly nodes: readonly {
    id: string;
    connected: boolean;
    lastSeenAgeMs: number | null;
    publish: string[];
    subscribe: string[];
  }[];
  readonly tables: readonly {
    table: string;
    feedHead: number;
    feedOldest: number;
    txPerSec: number | null;
  }[];
}

/** Milliseconds until a table's backlog drains at its recent rate; 0 when empty, null when unknown. */
export function drainEtaMs(p: Pick<PublishedStatus, 'backlogCount' | 'drainPerSec'>): number | null {
  if (p.backlogCount === 0) return 0;
  if (p.drainPerSec === null || p.drainPerSec <= 0) return null;
  return Math.round((p.backlogCount / p.drainPerSec) * 1000);
}

function etaText(p: PublishedStatus, connected: boolean): string {
  if (p.backlogCount === 0) return '-';
  const eta = drainEtaMs(p);
  if (eta !== null) return duration(eta);
  if (p.held) return 'held';
  if (!connected) return 'offline';
  return p.drainPerSec === null ? 'measuring' : 'stalled';
}

/** The edge status with each published table's drain ETA (what --json prints). */
export function withEta(s: EdgeStatus) {
  return { ...s, published: s.published.map((p) => ({ ...p, drainEtaMs: drainEtaMs(p) })) };
}

const short = (epoch: string | null) => (epoch ? epoch.slice(0, 8) : '-');

/** The edge status for people. */
export function edgeStatusText(s: EdgeStatus): string {
  const l = s.link;
  const head =
    `edge ${s.node} → ${l.hub}: ${l.state}${l.lastError && !l.connected ? ` (${l.lastError})` : ''}` +
    ` · connects ${l.connects}, drops ${l.disconnects} · ${s.synced ? 'synced' : 'not synced'}\n` +
    `store epoch ${short(s.storeEpoch)} · hub epoch ${short(s.hubEpoch)}`;
  const parts = [head];
  if (s.published.length > 0) {
    parts.push(
      table(
        [
          'published',
          'backlog',
          'bytes',
          'oldest unsent',
          'in flight',
          'receipted',
          'drain/s',
          'eta',
          'quarantined',
          'skipped',
          'last error',
        ],
        s.published.map((p) => [
          p.table,
          p.backlogCount,
          bytes(p.backlogBytes),
          duration(p.oldestUnsentAgeMs),
          p.inFlight,
          p.receiptedThrough,
          p.drainPerSec,
          etaText(p, l.connected),
          p.quarantined,
          p.skippedTotal,
          p.held ? `held: ${p.lastError}` : p.lastError,
        ]),
      ),
    );
  }
  if (s.subscribed.length > 0) {
    parts.push(
      table(
        ['subscribed', 'phase', 'cursor', 'head', 'lag', 'last error'],
        s.subscribed.map((x) => [x.table, x.phase, x.hubSeq, x.headSeen, x.lag, x.lastError]),
      ),
    );
  }
  if (s.published.length === 0 && s.subscribed.length === 0) {
    parts.push('no tables replicated: see `tablemesh subscriptions add --help`');
  }
  return parts.join('\n\n');
}

/** The hub status for people. */
export function hubStatusText(s: HubStatus): string {
  const ports = s.mqtt
    ? Object.entries(s.mqtt)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
    : '-';
  const parts = [
    `hub ${s.node} (epoch ${short(s.hubEpoch)}) · mqtt ${ports} · nodes connected ${s.connectedNodes} of ${s.nodes.length}`,
  ];
  if (s.nodes.length > 0) {
    parts.push(
      table(
        ['node', 'connected', 'last seen', 'publish', 'subscribe'],
        s.nodes.map((n) => [
          n.id,
          n.connected,
          n.lastSeenAgeMs === null ? 'never' : `${duration(n.lastSeenAgeMs)} ago`,
          n.publish.join(','),
          n.subscribe.join(','),
        ]),
      ),
    );
  }
  if (s.tables.length > 0) {
    parts.push(
      table(
        ['table', 'feed head', 'applied tx/s'],
        s.tables.map((t) => [t.table, t.feedHead, t.txPerSec]),
      ),
    );
  }
  return parts.join('\n\n');
}

async function once(ctx: Context): Promise<{ json: unknown; text: string }> {
  const node = ctx.target();
  if (node.kind === 'hub') {
    const s = await node.get<HubStatus>('/_status');
    return { json: s, text: hubStatusText(s) };
  }
  const s = await node.get<EdgeStatus>('/_status');
  return { json: withEta(s), text: edgeStatusText(s) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `status`. */
export function makeStatusCommand(io: Io): Command {
  return new Command('status')
    .description('replication status of the edge (or the hub with --on-hub)')
    .option('-w, --watch [interval]', 'refresh every interval (default 2s) until Ctrl-C')
    .option('--count <n>', 'with --watch: stop after n refreshes')
    .addHelpText(
      'after',
      `
With --json --watch, one JSON document per line (NDJSON).

Examples:
  $ tablemesh status
  $ tablemesh status --watch 1s
  $ tablemesh status --on-hub --json`,
    )
    .action(async (o: { watch?: string | boolean; count?: string }, c: Command) => {
      const ctx = contextOf(c, io);
      if (o.watch === undefined) {
        const { json, text } = await once(ctx);
        ctx.print(json, () => text);
        return;
      }
      const interval = typeof o.watch === 'string' ? parseDuration(o.watch, '--watch') : 2_000;
      const count = o.count === undefined ? Number.POSITIVE_INFINITY : Number(o.count);
      if (!(count >= 1)) throw usage(`--count must be a number ≥ 1, got '${o.count}'`);
      for (let i = 0; i < count; i++) {
        if (i > 0) await sleep(interval);
        const { json, text } = await once(ctx);
        if (ctx.json) io.stdout(`${JSON.stringify(json)}\n`);
        else if (io.isTTY) io.stdout(`\x1b[2J\x1b[H${text}\n\n(every ${duration(interval)}; Ctrl-C stops)\n`);
        else io.stdout(`${i > 0 ? '\n' : ''}${new Date().toISOString()}\n${text}\n`);
      }
    });
}
