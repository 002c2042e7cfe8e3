/**
 * The edge's status and quarantine routes on its local HTTP API, for `tablemesh status`, `sync --wait` and
 * `quarantine` (SPEC §8 CLI, I11):
 *
 *   GET    /_status                    → link state; per published table backlog count/bytes, oldest unsent age,
 *                                        in flight, receipted through, held (why), quarantined, skipped, drain rate,
 *                                        last error; per subscribed table phase, cursor, head seen, lag; `synced`
 *   GET    /_quarantine[?table=t]      → {quarantined: [{id, table, epoch, seq, code, message, ops, …}]}
 *   POST   /_quarantine/{id}/retry     → re-enqueues its ops as a new transaction (I11) → {id, retried: {…}}
 *   DELETE /_quarantine/{id}           → forgets it → {id, dropped: true}
 *
 * The drain rate is sampled once a second (receipted seqs per table over the last DRAIN_WINDOW_MS), so a single
 * `status` call can show an ETA. Everything else is read when asked. Other paths go to the wrapped REST handler.
 */
import {
  encodeKey,
  errorResponse,
  handleRest,
  type Outbox,
  type OutboxStats,
  type RestDeps,
  type RestRequest,
  type RestResponse,
  type Store,
  TmError,
} from '@tablemesh/core';

/** The window the drain rate is measured over. */
export const DRAIN_WINDOW_MS = 10_000;
/** How often the drain rate is sampled. */
export const DRAIN_SAMPLE_MS = 1_000;

const META_HUB_EPOCH = encodeKey(['m', 'hubEpoch']);

/** What the status routes read. */
export interface EdgeStatusDeps {
  readonly nodeId: string;
  readonly hubUrl: string;
  readonly store: Pick<Store, 'epoch' | 'kv'>;
  readonly outbox: Pick<
    Outbox,
    'publishedTables' | 'stats' | 'listQuarantine' | 'retryQuarantined' | 'dropQuarantined'
  >;
  readonly link: {
    readonly state: string;
    readonly connected: boolean;
    readonly lastError: string | undefined;
    readonly counters: { readonly connects: number; readonly disconnects: number };
  };
  readonly subscriber: {
    state(): readonly {
      table: string;
      phase: string;
      cursor?: { hubSeq: number } | undefined;
      headSeen: number;
      lastError?: string;
    }[];
  };
  /** after a retry: wake the publisher */
  notify?(): void;
  readonly now?: () => number;
}

/** One receipt-progress sample of a table. */
interface Sample {
  readonly at: number;
  readonly epoch: string;
  readonly receipted: number;
}

/** Receipted seqs per second per table over the recent window; null until two samples of one epoch exist. */
export class DrainSampler {
  private readonly samples = new Map<string, Sample[]>();

  constructor(private readonly windowMs = DRAIN_WINDOW_MS) {}

  /** Records a table's receipted-through mark at `at`. */
  add(table: string, at: number, epoch: string, receipted: number): void {
    const list = (this.samples.get(table) ?? []).filter(
      (s) => s.epoch === epoch && at - s.at <= this.windowMs,
    );
    list.push({ at, epoch, receipted });
    this.samples.set(table, list);
  }

  /** Forgets tables not in `tables`. */
  keep(tables: readonly string[]): void {
    for (const t of this.samples.keys()) if (!tables.includes(t)) this.samples.delete(t);
  }

  /** Seqs receipted per second over the window, or null with fewer than two samples 500 ms apart. */
  rate(table: string): number | null {
    const list = this.samples.get(table) ?? [];
    const first = list[0];
    const last = list[list.length - 1];
    if (!first || !last || last.at - first.at < 500) return null;
    return ((last.receipted - first.receipted) * 1000) / (last.at - first.at);
  }
}

/** The status routes plus the sampler's timer (the edge clears it on stop). */
export interface EdgeStatus {
  readonly timer: NodeJS.Timeout;
  /** `GET /_status` body */
  snapshot(): Promise<Record<string, unknown>>;
  /** REST handler with the status and quarantine routes in front of `handleRest(rest)` */
  wrap(rest: RestDeps, onInternalError?: (err: unknown) => void): (req: RestRequest) => Promise<RestResponse>;
}

/** A URL without credentials. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function publishedView(st: OutboxStats, drain: number | null, lastError: string | null) {
  return {
    table: st.table,
    epoch: st.epoch,
    backlogCount: st.backlogCount,
    backlogBytes: st.backlogBytes,
    quotaBytes: st.quotaBytes,
    oldestUnsentAgeMs: st.oldestUnsentAgeMs,
    inFlight: st.inFlight,
    sentThrough: st.sentThrough,
    receiptedThrough: st.receiptedThrough,
    nextSeq: st.nextSeq,
    held: st.held,
    quarantined: st.quarantined,
    skipped: st.skipped,
    skippedTotal: st.skippedTotal,
    drainPerSec: drain === null ? null : Math.round(drain * 10) / 10,
    drainWindowMs: DRAIN_WINDOW_MS,
    lastError,
  };
}

/** The quarantine routes (I11): list, retry (a new transaction, then wake the publisher), drop. */
async function handleQuarantine(
  deps: EdgeStatusDeps,
  req: RestRequest,
  segments: readonly string[],
): Promise<RestResponse> {
  const method = req.method.toUpperCase();
  const [, id, action] = segments;
  if (id === undefined) {
    if (method !== 'GET') return notAllowed('GET');
    const table = req.query.get('table') ?? undefined;
    const list = await deps.outbox.listQuarantine(table);
    return {
      status: 200,
      body: {
        quarantined: list.map((q) => ({
          id: q.id,
          table: q.table,
          epoch: q.epoch,
          seq: q.seq,
          code: q.code,
          message: q.message,
          quarantinedMs: q.quarantinedMs,
          stamp: q.txn.stamp,
          ops: q.txn.ops,
        })),
      },
    };
  }
  if (action === 'retry' && segments.length === 3) {
    if (method !== 'POST') return notAllowed('POST');
    const txn = await deps.outbox.retryQuarantined(id);
    deps.notify?.();
    return {
      status: 200,
      body: { id, retried: { table: txn.table, epoch: txn.stamp.epoch, seq: txn.seq, stamp: txn.stamp } },
    };
  }
  if (action === undefined) {
    if (method !== 'DELETE') return notAllowed('DELETE');
    await deps.outbox.dropQuarantined(id);
    return { status: 200, body: { id, dropped: true } };
  }
  throw new TmError('TM_NOT_FOUND', `no route ${req.path}; see GET /_quarantine`);
}

/** Builds the status routes; starts the drain sampler (an unref'd timer). */
export function makeEdgeStatus(deps: EdgeStatusDeps): EdgeStatus {
  const now = deps.now ?? Date.now;
  const sampler = new DrainSampler();
  const sample = async () => {
    const tables = deps.outbox.publishedTables();
    sampler.keep(tables);
    for (const table of tables) {
      const st = await deps.outbox.stats(table);
      sampler.add(table, now(), st.epoch, st.receiptedThrough);
    }
  };
  const timer = setInterval(() => void sample().catch(() => {}), DRAIN_SAMPLE_MS);
  timer.unref();
  void sample().catch(() => {});

  async function lastErrorOf(st: OutboxStats): Promise<string | null> {
    if (st.held) return `${st.held.code}: ${st.held.message}`;
    if (st.quarantined === 0) return null;
    const list = await deps.outbox.listQuarantine(st.table);
    const latest = list.reduce<(typeof list)[number] | undefined>(
      (a, q) => (a === undefined || q.quarantinedMs >= a.quarantinedMs ? q : a),
      undefined,
    );
    return latest ? `${latest.code}: ${latest.message}` : null;
  }

  async function snapshot(): Promise<Record<string, unknown>> {
    const published = [];
    for (const table of deps.outbox.publishedTables()) {
      const st = await deps.outbox.stats(table);
      published.push(publishedView(st, sampler.rate(table), await lastErrorOf(st)));
    }
    const subscribed = deps.subscriber
      .state()
      .map((s) => {
        const hubSeq = s.cursor?.hubSeq ?? 0;
        return {
          table: s.table,
          phase: s.phase,
          hubSeq,
          headSeen: s.headSeen,
          lag: Math.max(0, s.headSeen - hubSeq),
          lastError: s.lastError ?? null,
        };
      })
      .sort((a, b) => (a.table < b.table ? -1 : 1));
    const { link } = deps;
    const drained = published.every((p) => p.backlogCount === 0);
    const caughtUp = subscribed.every((s) => s.phase === 'live' && s.lag === 0);
    return {
      role: 'edge',
      node: deps.nodeId,
      storeEpoch: deps.store.epoch,
      hubEpoch: (await deps.store.kv.get(META_HUB_EPOCH))?.toString('utf8') ?? null,
      timeMs: now(),
      link: {
        state: link.state,
        connected: link.connected,
        hub: redact(deps.hubUrl),
        lastError: link.lastError ?? null,
        connects: link.counters.connects,
        disconnects: link.counters.disconnects,
      },
      published,
      subscribed,
      // synced: nothing left to send, and every subscription live at the head it has seen (which needs the link)
      synced: drained && caughtUp && (subscribed.length === 0 || link.connected),
    };
  }

  function wrap(rest: RestDeps, onInternalError?: (err: unknown) => void) {
    const inner: RestDeps = { role: 'edge', ...(onInternalError ? { onInternalError } : {}), ...rest };
    return async (req: RestRequest): Promise<RestResponse> => {
      const segments = req.path.split('/').filter(Boolean);
      if (segments[0] !== '_status' && segments[0] !== '_quarantine') return handleRest(inner, req);
      try {
        const parts = segments.map((s) => decodeURIComponent(s));
        if (parts[0] === '_quarantine') return await handleQuarantine(deps, req, parts);
        if (parts.length !== 1) throw new TmError('TM_NOT_FOUND', `no route ${req.path}; see GET /_status`);
        if (req.method.toUpperCase() !== 'GET') return notAllowed('GET');
        return { status: 200, body: await snapshot() };
      } catch (err) {
        return errorResponse(
          err instanceof URIError ? new TmError('TM_INVALID_ARGUMENT', 'bad percent-encoding') : err,
          onInternalError,
        );
      }
    };
  }

  return { timer, snapshot, wrap };
}

const notAllowed = (allow: string): RestResponse => ({
  status: 405,
  headers: { allow },
  body: { error: `method not allowed; use ${allow}`, code: 'TM_INVALID_ARGUMENT' },
});
