/** KvBackend on LevelDB (classic-level). One process per directory; batches are atomic. */
import { ClassicLevel } from 'classic-level';
import type { BinKey } from './keys.js';
import type { KvBackend, KvRange, KvWrite } from './kv.js';

const toBuf = (key: BinKey): Buffer => Buffer.from(key, 'latin1');

/** LevelDB-backed store; `write(batch, true)` resolves only after LevelDB's fsync'd write (I6). */
export class LevelKv implements KvBackend {
  private readonly db: ClassicLevel<Buffer, Buffer>;

  constructor(readonly location: string) {
    this.db = new ClassicLevel<Buffer, Buffer>(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  }

  async open(): Promise<void> {
    await this.db.open({ createIfMissing: true });
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async get(key: BinKey): Promise<Buffer | undefined> {
    const value = await this.db.get(toBuf(key));
    return value ?? undefined;
  }

  async getMany(keys: readonly BinKey[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return [];
    const values = await this.db.getMany(keys.map(toBuf));
    return values.map((v) => v ?? undefined);
  }

  async *iterate(range: KvRange): AsyncIterable<[BinKey, Buffer]> {
    const options: Record<string, unknown> = { reverse: range.reverse ?? false, limit: range.limit ?? -1 };
    if (range.gte !== undefined) options['gte'] = toBuf(range.gte);
    if (range.gt !== undefined) options['gt'] = toBuf(range.gt);
    if (range.lte !== undefined) options['lte'] = toBuf(range.lte);
    if (range.lt !== undefined) options['lt'] = toBuf(range.lt);
    const iterator = this.db.iterator(options);
    try {
      for (;;) {
        const entries = await iterator.nextv(256);
        if (entries.length === 0) return;
        for (const [key, value] of entries) yield [key.toString('latin1'), value];
      }
    } finally {
      await iterator.close();
    }
  }

  async write(batch: readonly KvWrite[], sync: boolean): Promise<void> {
    if (batch.length === 0) return;
    const ops = batch.map((w) =>
      w.value === undefined
        ? { type: 'del' as const, key: toBuf(w.key) }
        : { type: 'put' as const, key: toBuf(w.key), value: w.value },
    );
    await this.db.batch(ops, { sync });
  }
}
