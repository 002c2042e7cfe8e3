/** In-memory KvBackend for unit tests: a sorted key array plus a map. Not durable by design. */

import type { BinKey } from './keys.js';
import { inRange, type KvBackend, type KvRange, type KvWrite, valueBytes } from './kv.js';

/** Finds the first index in the sorted `keys` whose key is ≥ `key`. */
function lowerBound(keys: readonly BinKey[], key: BinKey): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** An ordered in-memory store; `write` is atomic because it is synchronous. */
export class MemoryKv implements KvBackend {
  private readonly keys: BinKey[] = [];
  private readonly values = new Map<BinKey, Buffer>();
  private isOpen = false;

  async open(): Promise<void> {
    this.isOpen = true;
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }

  async get(key: BinKey): Promise<Buffer | undefined> {
    this.assertOpen();
    return this.values.get(key);
  }

  async getMany(keys: readonly BinKey[]): Promise<(Buffer | undefined)[]> {
    this.assertOpen();
    return keys.map((key) => this.values.get(key));
  }

  async *iterate(range: KvRange): AsyncIterable<[BinKey, Buffer]> {
    this.assertOpen();
    // Snapshot the matching keys first so concurrent writes do not disturb the walk.
    const start = range.gte ?? range.gt;
    const from = start === undefined ? 0 : lowerBound(this.keys, start);
    const selected: BinKey[] = [];
    for (let i = from; i < this.keys.length; i++) {
      const key = this.keys[i]!;
      if ((range.lt !== undefined && key >= range.lt) || (range.lte !== undefined && key > range.lte)) break;
      if (inRange(key, range)) selected.push(key);
    }
    if (range.reverse) selected.reverse();
    const limit = range.limit ?? Number.POSITIVE_INFINITY;
    let count = 0;
    for (const key of selected) {
      if (count >= limit) return;
      const value = this.values.get(key);
      if (value === undefined) continue;
      count++;
      yield [key, value];
    }
  }

  async write(batch: readonly KvWrite[], _sync: boolean): Promise<void> {
    this.assertOpen();
    for (const { key, value } of batch) {
      const had = this.values.has(key);
      if (value === undefined) {
        if (had) {
          this.values.delete(key);
          this.keys.splice(lowerBound(this.keys, key), 1);
        }
      } else {
        if (!had) this.keys.splice(lowerBound(this.keys, key), 0, key);
        this.values.set(key, valueBytes(value));
      }
    }
  }

  private assertOpen(): void {
    if (!this.isOpen) throw new Error('MemoryKv is not open');
  }
}
