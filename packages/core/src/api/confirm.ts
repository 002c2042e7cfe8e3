/**
 * Per-write confirmation level (SPEC §8): by default a write is answered after the local durable commit (I6);
 * `X-Tablemesh-Confirm: hub` (or `?confirm=hub`, or `"confirm": "hub"` in an operations body) waits until the hub
 * has receipted every transaction of the request (I7). When that does not happen within the timeout
 * (`X-Tablemesh-Confirm-Timeout-Ms`, default 10 s) the answer is **202** with where to look — never a false
 * success: 200/201 with `"confirmed": "hub"` means the hub applied it.
 *
 * On the hub itself the local commit is the hub's commit, so `confirm=hub` is satisfied by it.
 */
import { TmError } from '../errors.js';
import type { Transaction } from '../types.js';

/** Request header naming the confirmation level: `local` (default) or `hub`. */
export const CONFIRM_HEADER = 'x-tablemesh-confirm';
/** Request header with the hub confirmation timeout in ms. */
export const CONFIRM_TIMEOUT_HEADER = 'x-tablemesh-confirm-timeout-ms';
/** Default wait for the hub's receipt, ms. */
export const DEFAULT_CONFIRM_TIMEOUT_MS = 10_000;
/** Longest wait a request may ask for, ms. */
export const MAX_CONFIRM_TIMEOUT_MS = 120_000;

/** What the hub did with one transaction, as far as this node knows. */
export type HubState =
  /** the hub applied it (receipted without error) */
  | 'applied'
  /** not receipted yet (offline, held by a transient refusal, or simply slow) */
  | 'pending'
  /** refused for its content and moved to quarantine (I11) */
  | 'quarantined'
  /** given up before it was sent (drop-oldest, ttl) or superseded by a later queued write (coalesce) */
  | 'skipped'
  /** its publish epoch was replaced (I9, I10): its data was re-uploaded under the current epoch */
  | 'superseded'
  /** receipted, but from before this process started: whether it was skipped is no longer known */
  | 'receipted';

/** The hub's view of one transaction of a request. */
export interface HubOutcome {
  readonly table: string;
  readonly epoch: string;
  readonly seq: number;
  readonly state: HubState;
  /** error code (quarantined) or skip reason (skipped) */
  readonly code?: string;
  readonly message?: string;
}

/** The answer of the status URL: the outcome plus the table's progress. */
export interface ReceiptStatus extends HubOutcome {
  readonly currentEpoch: string;
  readonly receiptedThrough: number;
}

/** Hub confirmation as an edge offers it (edge `ReceiptWaiter`). */
export interface ReceiptTracker {
  /** throws TM_INVALID_ARGUMENT for a table whose writes never reach the hub (not published) */
  assertConfirmable(table: string): void;
  /** resolves once every transaction has an outcome other than `pending`, or when `timeoutMs` has passed */
  wait(txns: readonly Transaction[], timeoutMs: number): Promise<HubOutcome[]>;
  /** the outcome of one transaction now (status URL) */
  status(table: string, epoch: string, seq: number): Promise<ReceiptStatus>;
}

/** A request's confirmation option. */
export interface ConfirmOption {
  readonly hub: boolean;
  readonly timeoutMs: number;
}

/** The confirmation level when nothing is asked. */
export const CONFIRM_LOCAL: ConfirmOption = Object.freeze({ hub: false, timeoutMs: 0 });

function parseLevel(raw: unknown, from: string): boolean | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (raw === 'hub') return true;
  if (raw === 'local') return false;
  throw new TmError('TM_INVALID_ARGUMENT', `${from} must be 'local' or 'hub', got ${JSON.stringify(raw)}`);
}

function parseTimeout(raw: unknown, from: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_CONFIRM_TIMEOUT_MS) {
    throw new TmError(
      'TM_INVALID_ARGUMENT',
      `${from} must be a whole number of ms from 0 to ${MAX_CONFIRM_TIMEOUT_MS}, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

/**
 * Reads the confirmation option from the headers, the query string (`confirm`, `confirmTimeoutMs`) and, for
 * operations, the body (`confirm`, `confirm_timeout_ms`). Later sources win. TM_INVALID_ARGUMENT on bad values.
 */
export function parseConfirm(
  headers: Readonly<Record<string, string | undefined>>,
  query: URLSearchParams,
  body?: { readonly confirm?: unknown; readonly confirm_timeout_ms?: unknown },
): ConfirmOption {
  const hub =
    parseLevel(body?.confirm, 'confirm') ??
    parseLevel(query.get('confirm') ?? undefined, 'the confirm parameter') ??
    parseLevel(headers[CONFIRM_HEADER], `the ${CONFIRM_HEADER} header`) ??
    false;
  const timeoutMs =
    parseTimeout(body?.confirm_timeout_ms, 'confirm_timeout_ms') ??
    parseTimeout(query.get('confirmTimeoutMs') ?? undefined, 'the confirmTimeoutMs parameter') ??
    parseTimeout(headers[CONFIRM_TIMEOUT_HEADER], `the ${CONFIRM_TIMEOUT_HEADER} header`) ??
    DEFAULT_CONFIRM_TIMEOUT_MS;
  return hub ? { hub, timeoutMs } : CONFIRM_LOCAL;
}

/** Where a transaction's hub status can be read: `GET /_receipts/{db.table}/{epoch}/{seq}`. */
export function receiptPath(table: string, epoch: string, seq: number): string {
  return `/_receipts/${encodeURIComponent(table)}/${encodeURIComponent(epoch)}/${seq}`;
}

/** What confirmation needs from the node. */
export interface ConfirmDeps {
  readonly role?: 'edge' | 'hub';
  readonly receipts?: ReceiptTracker;
}

/** Refuses, before anything is written, a hub confirmation this node cannot give. */
export function assertConfirmable(deps: ConfirmDeps, option: ConfirmOption, tables: readonly string[]): void {
  if (!option.hub || deps.role === 'hub') return;
  if (!deps.receipts) {
    throw new TmError('TM_INVALID_ARGUMENT', 'this node cannot wait for hub receipts (confirm=hub)');
  }
  for (const table of tables) deps.receipts.assertConfirmable(table);
}

/** A write answer: status, headers and a JSON object body. */
export interface WriteAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: Record<string, unknown>;
}

/**
 * Applies the confirmation option to a committed write's answer: unchanged for `local`; for `hub`, waits for the
 * receipts and adds `"confirmed": "hub"`, or answers 202 with `"confirmed": "local"`, the outcome of each
 * transaction (`hub`) and `Location` of the first one's status URL.
 */
export async function confirmWrite(
  deps: ConfirmDeps,
  option: ConfirmOption,
  txns: readonly Transaction[],
  answer: WriteAnswer,
): Promise<WriteAnswer> {
  if (!option.hub) return answer;
  if (deps.role === 'hub' || txns.length === 0) {
    return { ...answer, body: { ...answer.body, confirmed: 'hub' } };
  }
  const outcomes = await deps.receipts!.wait(txns, option.timeoutMs);
  if (outcomes.every((o) => o.state === 'applied')) {
    return { ...answer, body: { ...answer.body, confirmed: 'hub' } };
  }
  const open = outcomes.find((o) => o.state !== 'applied')!;
  // 202's Location is the status to watch; a created record's own path moves to the body.
  const { location: created, ...headers } = answer.headers ?? {};
  return {
    status: 202,
    headers: { ...headers, location: receiptPath(open.table, open.epoch, open.seq) },
    body: {
      ...answer.body,
      ...(created !== undefined ? { location: created } : {}),
      confirmed: 'local',
      hub: outcomes.map((o) => ({ ...o, status: receiptPath(o.table, o.epoch, o.seq) })),
    },
  };
}
