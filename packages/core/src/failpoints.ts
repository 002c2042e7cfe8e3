/**
 * Failpoints for the reliability suite (SPEC §7): deliberate bugs and traces that a test switches on to prove its
 * checks can fail. They are read from `TM_FAILPOINTS` only when `TM_TESTKIT=1` (the binaries' config modules pass
 * their environment here; core reads no environment itself) and the binaries log them at warn level at start.
 *
 *   TM_TESTKIT=1 TM_FAILPOINTS=dedup-off,trace-receipts tablemesh-hub …
 *
 * Every name is a mutant of one invariant; none is reachable in production (TM_TESTKIT unset → none active).
 */
import { TmError } from './errors.js';
import { compareHlc, compareStamp } from './hlc.js';
import { joinStates } from './merge.js';
import type { RecordState, StampedValue } from './types.js';

/** The failpoints and the invariant each one breaks. */
export const FAILPOINTS = {
  'receipt-before-fsync': 'hub: send the receipt of a batch before its fsync resolved (breaks I7)',
  'dedup-off': 'hub: apply duplicates (seq ≤ the applied mark) again (breaks I9)',
  'tie-break-off':
    'store: on equal HLCs the incoming value wins, ignoring node and epoch (breaks I4 convergence)',
  'w-filter-off':
    'store: attributes older than W are kept (W is dropped instead) — late patches resurrect records (breaks I4)',
  'trace-receipts':
    'hub: log a `tm_trace` line when an ingest batch is durable and when a receipt is sent (ordering checks)',
} as const;

/** A failpoint name. */
export type FailpointName = keyof typeof FAILPOINTS;

/** The active failpoints of a process (empty in production). */
export class Failpoints {
  /** no failpoint active */
  static readonly none = new Failpoints([]);
  readonly #active: ReadonlySet<FailpointName>;

  constructor(names: readonly FailpointName[]) {
    this.#active = new Set(names);
  }

  /** True when `name` is on. */
  has(name: FailpointName): boolean {
    return this.#active.has(name);
  }

  /** The active names, sorted (for the start-up warning). */
  get names(): FailpointName[] {
    return [...this.#active].sort();
  }

  /** True when none is active. */
  get empty(): boolean {
    return this.#active.size === 0;
  }
}

/** Parses `a,b,c` (spaces allowed); TM_INVALID_CONFIG naming an unknown failpoint. */
export function parseFailpoints(text: string): Failpoints {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const name of names) {
    if (!Object.hasOwn(FAILPOINTS, name)) {
      throw new TmError(
        'TM_INVALID_CONFIG',
        `TM_FAILPOINTS: unknown failpoint '${name}' (known: ${Object.keys(FAILPOINTS).join(', ')})`,
      );
    }
  }
  return new Failpoints(names as FailpointName[]);
}

/** SPEC §7: `TM_FAILPOINTS` counts only with `TM_TESTKIT=1`; otherwise nothing is active. */
export function failpointsFromEnv(env: Readonly<Record<string, string | undefined>>): Failpoints {
  if (env['TM_TESTKIT'] !== '1') return Failpoints.none;
  return parseFailpoints(env['TM_FAILPOINTS'] ?? '');
}

/** A join of two record states (the store's merge step). */
export type JoinFn = (current: RecordState, incoming: RecordState) => RecordState;

/** The store's join: core's `joinStates` (I4), or a mutant when a merge failpoint is on. */
export function joinFor(failpoints: Failpoints): JoinFn {
  const tieBreakOff = failpoints.has('tie-break-off');
  const wFilterOff = failpoints.has('w-filter-off');
  if (!tieBreakOff && !wFilterOff) return joinStates;
  return (current, incoming) => {
    const joined = tieBreakOff ? tieBreakOffJoin(current, incoming) : joinStates(current, incoming);
    return wFilterOff ? keepOldAttributes(current, incoming, joined) : joined;
  };
}

/** Mutant: stamps are compared by HLC only; on a tie the incoming side wins (arrival order decides). */
function tieBreakOffJoin(current: RecordState, incoming: RecordState): RecordState {
  const cw = current.w;
  const iw = incoming.w;
  const w = cw === undefined ? iw : iw === undefined ? cw : compareHlc(cw.stamp, iw.stamp) > 0 ? cw : iw;
  const attrs: Record<string, StampedValue> = {};
  for (const name of new Set([...Object.keys(current.attrs), ...Object.keys(incoming.attrs)])) {
    const a = ownAttr(current, name);
    const b = ownAttr(incoming, name);
    const best = a === undefined ? b! : b === undefined ? a : compareHlc(a.stamp, b.stamp) > 0 ? a : b;
    if (survives(best, w)) attrs[name] = best;
  }
  return w === undefined ? { attrs } : { w, attrs };
}

/**
 * Mutant: attributes that W supersedes are kept. A stored state may not hold an attribute older than its W
 * (decodeState refuses it), so the mutant drops W instead: the record keeps (or regains) stale attributes.
 */
function keepOldAttributes(current: RecordState, incoming: RecordState, joined: RecordState): RecordState {
  const attrs: Record<string, StampedValue> = { ...joined.attrs };
  let kept = false;
  for (const name of new Set([...Object.keys(current.attrs), ...Object.keys(incoming.attrs)])) {
    if (Object.hasOwn(attrs, name)) continue;
    const a = ownAttr(current, name);
    const b = ownAttr(incoming, name);
    attrs[name] = a === undefined ? b! : b === undefined ? a : compareStamp(a.stamp, b.stamp) >= 0 ? a : b;
    kept = true;
  }
  return kept ? { attrs } : joined;
}

function ownAttr(state: RecordState, name: string): StampedValue | undefined {
  return Object.hasOwn(state.attrs, name) ? state.attrs[name] : undefined;
}

/** The store's own rule (I4, merge.ts): an attribute survives W if newer, or equal under a put. */
function survives(value: StampedValue, w: RecordState['w']): boolean {
  if (w === undefined) return true;
  const c = compareStamp(value.stamp, w.stamp);
  return c > 0 || (c === 0 && w.kind === 'put');
}
