/**
 * Table digests split by key range, for `tablemesh diff` (SPEC §3 digest, §8 CLI): `GET /_digest/{table}?ranges=N`
 * answers the whole-table digest plus one digest per range; `&range=i` lists the keys of range i with a hash of each
 * live record, so a client comparing two nodes narrows a difference down to the keys that differ.
 *
 * A key's range is taken from the SHA-256 of its canonical JSON (so `"1"` and `1` are different keys, SPEC §3):
 * range = floor(u32 × N / 2^32) of the hash's first four bytes. Ranges of the key *hash* split any table evenly,
 * whatever its key types and distribution, and two nodes agree on them without exchanging boundaries. Within a
 * range the digest runs in the store's key order, as the whole-table digest does (Store.digest), which it equals.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { TmError } from '../errors.js';
import { liveRecord } from '../merge.js';
import type { Store } from '../store/store.js';
import type { JsonValue, PrimaryKey } from '../types.js';

/** Most ranges one request may ask for. */
export const MAX_DIGEST_RANGES = 4096;
/** Most keys one range listing answers (more: `truncated`). */
export const MAX_RANGE_KEYS = 100_000;

/** Digest and live-record count of a table or of one range. */
export interface DigestPart {
  readonly digest: string;
  readonly count: number;
}

/** `?ranges=N`: the table's digest and one part per range, index = range number. */
export interface RangedDigest extends DigestPart {
  readonly ranges: readonly DigestPart[];
}

/** `?ranges=N&range=i`: one range's digest and its keys, each with the SHA-256 of its live record. */
export interface RangeListing extends DigestPart {
  readonly range: number;
  readonly ranges: number;
  readonly keys: readonly { readonly key: PrimaryKey; readonly hash: string }[];
  readonly truncated: boolean;
}

/** The range (0 … n-1) of a primary key. */
export function rangeOfKey(key: PrimaryKey, n: number): number {
  const head = createHash('sha256').update(canonicalJson(key)).digest().readUInt32BE(0);
  return Math.floor((head * n) / 2 ** 32);
}

function intParam(query: URLSearchParams, name: string, min: number, max: number): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= min && n <= max)) {
    throw new TmError('TM_INVALID_ARGUMENT', `${name} must be an integer from ${min} to ${max}, got ${raw}`);
  }
  return n;
}

/**
 * The answer of `GET /_digest/{table}` for its query: no `ranges` → the plain digest; `ranges=N` → per-range
 * digests; `ranges=N&range=i` → range i's keys. Bad parameters throw TM_INVALID_ARGUMENT.
 */
export async function digestAnswer(
  store: Pick<Store, 'requireTable' | 'scanStates' | 'digest'>,
  table: string,
  query: URLSearchParams,
): Promise<DigestPart | RangedDigest | RangeListing> {
  const def = store.requireTable(table);
  const n = intParam(query, 'ranges', 1, MAX_DIGEST_RANGES);
  const only = n === undefined ? undefined : intParam(query, 'range', 0, n - 1);
  if (n === undefined) {
    if (query.has('range')) throw new TmError('TM_INVALID_ARGUMENT', 'range needs ranges=N');
    return store.digest(def.name);
  }
  const whole = createHash('sha256');
  const hashes = Array.from({ length: only === undefined ? n : 1 }, () => createHash('sha256'));
  const counts = new Array<number>(hashes.length).fill(0);
  const keys: { key: PrimaryKey; hash: string }[] = [];
  let total = 0;
  for await (const [key, state] of store.scanStates(def.name)) {
    const live = liveRecord(state, def.primaryKey, key);
    if (!live) continue;
    const line = `${canonicalJson(live as JsonValue)}\n`;
    whole.update(line);
    total++;
    const range = rangeOfKey(key, n);
    if (only !== undefined && range !== only) continue;
    const slot = only === undefined ? range : 0;
    hashes[slot]!.update(line);
    counts[slot]!++;
    if (only !== undefined && keys.length < MAX_RANGE_KEYS) {
      keys.push({ key, hash: createHash('sha256').update(line).digest('hex') });
    }
  }
  const parts = hashes.map((h, i) => ({ digest: h.digest('hex'), count: counts[i]! }));
  if (only === undefined) return { digest: whole.digest('hex'), count: total, ranges: parts };
  return {
    ...parts[0]!,
    range: only,
    ranges: n,
    keys,
    truncated: parts[0]!.count > keys.length,
  };
}
