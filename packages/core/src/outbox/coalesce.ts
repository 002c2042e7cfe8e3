/**
 * `onFull: coalesce` (SPEC §5): removes operations fully superseded by a later queued write to the same key.
 * A later put or delete supersedes every earlier op on the key; a later patch supersedes an earlier patch whose
 * every attribute it (or several later patches together) covers. Sound under I4: all stamps are this node's and
 * increase with seq, so dropping a superseded op leaves the joined state at any receiver unchanged. Pure: only
 * whole ops are removed, nothing is re-stamped or renumbered.
 */
import type { Op, PrimaryKey, Transaction } from '../types.js';

type Coverage = 'all' | Set<string>;

// "1" and 1 are different keys (SPEC §3).
const keyId = (key: PrimaryKey): string => JSON.stringify(key);

function covered(op: Op, coverage: Coverage | undefined): boolean {
  if (coverage === undefined) return false;
  if (coverage === 'all') return true;
  // A put or delete is never superseded by patches: it sets W (I4).
  if (op.kind !== 'patch') return false;
  return Object.keys(op.attrs).every((name) => coverage.has(name));
}

function cover(op: Op, coverages: Map<string, Coverage>): void {
  const id = keyId(op.key);
  if (op.kind !== 'patch') {
    coverages.set(id, 'all');
    return;
  }
  const current = coverages.get(id);
  if (current === 'all') return;
  const set = current ?? new Set<string>();
  for (const name of Object.keys(op.attrs)) set.add(name);
  coverages.set(id, set);
}

/**
 * Given queued transactions in seq order (none in flight) and the newest write, returns for every transaction
 * that loses ops the ops it keeps (possibly none), by seq. The newest write itself is never changed.
 */
export function planCoalesce(
  queued: readonly { readonly seq: number; readonly txn: Transaction }[],
  newest: Transaction,
): Map<number, Op[]> {
  const coverages = new Map<string, Coverage>();
  for (const op of newest.ops) cover(op, coverages);
  const plan = new Map<number, Op[]>();
  for (let i = queued.length - 1; i >= 0; i--) {
    const { seq, txn } = queued[i]!;
    // One op per key in a transaction (SPEC §4), so its ops never cover each other.
    const kept = txn.ops.filter((op) => !covered(op, coverages.get(keyId(op.key))));
    for (const op of kept) cover(op, coverages);
    if (kept.length < txn.ops.length) plan.set(seq, kept);
  }
  return plan;
}
