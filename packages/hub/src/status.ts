/**
 * The hub's status route, for `tablemesh --hub status` (SPEC §8 CLI: connected nodes, per node last seen, per table
 * applied tx/s), behind the hub's bearer token:
 *
 *   GET /_status → {role, node, hubEpoch, timeMs, mqtt (listener ports), nodes: [{id, connected, lastSeenAgeMs,
 *                   publish, subscribe}], tables: [{table, feedHead, feedOldest, txPerSec}], ingest: {counters}}
 *
 * `txPerSec` is the growth of the table's feed head (hub seq) over the last RATE_WINDOW_MS: every transaction the
 * hub applies to the table — from an edge or from its own API — takes one hub seq. Sampled once a second.
 */
import type { Feed, IngestStats, RestRequest, RestResponse, Store } from '@tablemesh/core';
import type { EnrolledNode } from './admin/enrolment.js';

/** The window of the per-table rate. */
export const RATE_WINDOW_MS = 10_000;
/** How often feed heads are sampled. */
export const RATE_SAMPLE_MS = 1_000;

/** What the status route reads. */
export interface HubStatusDeps {
  readonly nodeId: string;
  readonly store: Pick<Store, 'epoch' | 'listTables'>;
  readonly feed: Pick<Feed, 'head' | 'oldest'>;
  readonly enrolment: { list(): readonly EnrolledNode[] } | undefined;
  /** nodes connected now */
  readonly connected: ReadonlySet<string>;
  /** node → when it was last heard from (ms) */
  readonly lastSeen: ReadonlyMap<string, number>;
  readonly stats: IngestStats;
  /** the MQTT listeners' ports */
  ports(): { readonly tcp: number; readonly tls?: number; readonly ws?: number } | undefined;
  readonly now?: () => number;
}

/** The status route plus the sampler's timer (the hub clears it on stop). */
export interface HubStatus {
  readonly timer: NodeJS.Timeout;
  /** takes a feed-head sample now (the timer does this every RATE_SAMPLE_MS) */
  sample(): void;
  /** `GET /_status` body */
  snapshot(): Record<string, unknown>;
  /** `handler` with `GET /_status` in front */
  wrap(handler: (req: RestRequest) => Promise<RestResponse>): (req: RestRequest) => Promise<RestResponse>;
}

/** Builds the status route; starts sampling feed heads (an unref'd timer). */
export function makeHubStatus(deps: HubStatusDeps): HubStatus {
  const now = deps.now ?? Date.now;
  const samples = new Map<string, { at: number; head: number }[]>();
  const sample = () => {
    const at = now();
    for (const def of deps.store.listTables()) {
      const list = (samples.get(def.name) ?? []).filter((s) => at - s.at <= RATE_WINDOW_MS);
      list.push({ at, head: deps.feed.head(def.name) });
      samples.set(def.name, list);
    }
  };
  const timer = setInterval(sample, RATE_SAMPLE_MS);
  timer.unref();
  sample();

  const rate = (table: string): number | null => {
    const list = samples.get(table) ?? [];
    const first = list[0];
    const last = list[list.length - 1];
    if (!first || !last || last.at - first.at < 500) return null;
    return Math.round((((last.head - first.head) * 1000) / (last.at - first.at)) * 10) / 10;
  };

  function snapshot(): Record<string, unknown> {
    const at = now();
    const enrolled = new Map((deps.enrolment?.list() ?? []).map((n) => [n.id, n]));
    const ids = [...new Set([...enrolled.keys(), ...deps.connected, ...deps.lastSeen.keys()])].sort();
    const nodes = ids.map((id) => {
      const seen = deps.lastSeen.get(id);
      const n = enrolled.get(id);
      return {
        id,
        enrolled: n !== undefined,
        connected: deps.connected.has(id),
        lastSeenAgeMs: seen === undefined ? null : Math.max(0, at - seen),
        publish: n?.publish ?? [],
        subscribe: n?.subscribe ?? [],
      };
    });
    const tables = deps.store
      .listTables()
      .map((def) => ({
        table: def.name,
        feedHead: deps.feed.head(def.name),
        feedOldest: deps.feed.oldest(def.name),
        txPerSec: rate(def.name),
        rateWindowMs: RATE_WINDOW_MS,
      }))
      .sort((a, b) => (a.table < b.table ? -1 : 1));
    const s = deps.stats;
    return {
      role: 'hub',
      node: deps.nodeId,
      hubEpoch: deps.store.epoch,
      timeMs: at,
      mqtt: deps.ports() ?? null,
      connectedNodes: deps.connected.size,
      nodes,
      tables,
      ingest: {
        applied: s.applied,
        duplicates: s.duplicates,
        gaps: s.gaps,
        skipped: s.skipped,
        poison: s.poison,
        conflicts: s.conflicts,
        transient: s.transient,
      },
    };
  }

  function wrap(handler: (req: RestRequest) => Promise<RestResponse>) {
    return async (req: RestRequest): Promise<RestResponse> => {
      if (req.path !== '/_status') return handler(req);
      if (req.method.toUpperCase() !== 'GET') {
        return {
          status: 405,
          headers: { allow: 'GET' },
          body: { error: 'method not allowed; use GET', code: 'TM_INVALID_ARGUMENT' },
        };
      }
      return { status: 200, body: snapshot() };
    };
  }

  return { timer, sample, snapshot, wrap };
}
