/**
 * `tablemesh diff <table>` — compares a table on the edge and on the hub by their digests over live records
 * (SPEC §3). When they differ it asks both for per-key-range digests (`/_digest/{table}?ranges=N`), then lists the
 * keys of the differing ranges only, so it names the keys that are missing on one side or hold other values.
 * Exit 0 when equal, 6 when they differ.
 */
import { Command } from 'commander';
import type { ApiClient } from '../client.js';
import { contextOf, type Io } from '../context.js';
import { CliError, EXIT, usage } from '../errors.js';
import { qualified, table } from '../format.js';

interface Digest {
  digest: string;
  count: number;
}
interface Ranged extends Digest {
  ranges: Digest[];
}
interface Listing extends Digest {
  keys: { key: string | number; hash: string }[];
  truncated: boolean;
}

/** Keys that differ between two nodes, by kind. */
export interface KeyDiff {
  readonly onlyOnEdge: (string | number)[];
  readonly onlyOnHub: (string | number)[];
  readonly different: (string | number)[];
}

const digestPath = (t: string) => `/_digest/${encodeURIComponent(t)}`;

/** Compares the key listings of one range. */
function compare(edge: Listing, hub: Listing, out: KeyDiff): void {
  const h = new Map(hub.keys.map((k) => [JSON.stringify(k.key), k]));
  const e = new Map(edge.keys.map((k) => [JSON.stringify(k.key), k]));
  for (const [id, k] of e) {
    const other = h.get(id);
    if (!other) out.onlyOnEdge.push(k.key);
    else if (other.hash !== k.hash) out.different.push(k.key);
  }
  for (const [id, k] of h) if (!e.has(id)) out.onlyOnHub.push(k.key);
}

async function digests(edge: ApiClient, hub: ApiClient, path: string, query: Record<string, number>) {
  return Promise.all([edge.get<never>(path, { query }), hub.get<never>(path, { query })]);
}

/** `diff`. */
export function makeDiffCommand(io: Io): Command {
  return new Command('diff')
    .description('compare a table on the edge and the hub; name the keys that differ')
    .argument('<table>', '`alerts` or `db.table`')
    .option('--ranges <n>', 'key ranges to split the table into when digests differ (1–4096)', '64')
    .option('--show <n>', 'keys to list per kind in the human output', '20')
    .addHelpText(
      'after',
      `
The edge is --edge (TABLEMESH_EDGE), the hub --hub (TABLEMESH_HUB) with --token (TABLEMESH_TOKEN).
Exit codes: 0 equal, 6 different. Records that are still in flight differ until they arrive: run
\`tablemesh sync --wait\` first.

Examples:
  $ tablemesh diff alerts
  $ tablemesh sync --wait && tablemesh diff alerts --json`,
    )
    .action(async (name: string, o: { ranges: string; show: string }, c: Command) => {
      const ctx = contextOf(c, io);
      const n = Number(o.ranges);
      if (!Number.isInteger(n) || n < 1 || n > 4096)
        throw usage(`--ranges must be 1–4096, got '${o.ranges}'`);
      const show = Number(o.show);
      const t = qualified(name);
      const edge = ctx.edge();
      const hub = ctx.hub();
      const path = digestPath(t);
      const [e, h] = (await digests(edge, hub, path, {})) as [Digest, Digest];
      const diff: KeyDiff = { onlyOnEdge: [], onlyOnHub: [], different: [] };
      let differingRanges: number[] = [];
      let truncated = false;
      if (e.digest !== h.digest) {
        const [er, hr] = (await digests(edge, hub, path, { ranges: n })) as [Ranged, Ranged];
        differingRanges = er.ranges.flatMap((r, i) => (r.digest === hr.ranges[i]?.digest ? [] : [i]));
        for (const i of differingRanges) {
          const [el, hl] = (await digests(edge, hub, path, { ranges: n, range: i })) as [Listing, Listing];
          truncated ||= el.truncated || hl.truncated;
          compare(el, hl, diff);
        }
      }
      const same = e.digest === h.digest;
      const result = { table: t, same, edge: e, hub: h, ranges: n, differingRanges, keys: diff, truncated };
      ctx.print(result, () => {
        if (same)
          return `${t}: same on the edge and the hub (${e.count} record${e.count === 1 ? '' : 's'}, digest ${e.digest.slice(0, 12)})`;
        const rows = [
          ...diff.onlyOnEdge.map((k) => [k, 'only on the edge']),
          ...diff.onlyOnHub.map((k) => [k, 'only on the hub']),
          ...diff.different.map((k) => [k, 'different values']),
        ];
        const kinds = [
          `${diff.onlyOnEdge.length} only on the edge`,
          `${diff.onlyOnHub.length} only on the hub`,
          `${diff.different.length} different`,
        ].join(', ');
        return [
          `${t}: differs — edge ${e.count} records, hub ${h.count}; ${kinds} (${differingRanges.length} of ${n} key ranges)`,
          table(
            ['key', 'difference'],
            rows.slice(0, show * 3).map(([k, d]) => [JSON.stringify(k), d as string]),
          ),
          ...(rows.length > show * 3 ? [`… ${rows.length - show * 3} more (--json lists all)`] : []),
          ...(truncated ? ['(a range had more keys than one listing holds: use more --ranges)'] : []),
        ].join('\n');
      });
      if (!same)
        throw new CliError(`${t} differs between the edge and the hub`, EXIT.NOT_SYNCED, 'TM_DIFFERENT');
    });
}
