/**
 * Transactions and group commit (I6).
 *
 * The logical part of every transaction (reads, merge, index and outbox updates) runs one at a time under a
 * lock, so two writers never read the same old state. Its writes join the currently open *group*; the group is
 * written as one LevelDB batch with fsync, and every transaction in it resolves only after that write resolved.
 * While one group is being fsync'd the next one fills up: many concurrent writers share one fsync.
 *
 * Writes that are prepared but not yet durable live in an overlay that later transactions read through, so a
 * transaction sees every earlier one. Reads outside transactions see durable data only (read committed).
 * A failed storage write leaves memory ahead of disk, so the committer refuses all later work (TM_STORE_FAILED).
 */
import { performance } from 'node:perf_hooks';
import { TmError } from '../errors.js';
import type { BinKey } from './keys.js';
import { inRange, type KvBackend, type KvRange, type KvValue, type KvWrite, valueBytes } from './kv.js';

/** Observes the commit pipeline; used by ordering tests and metrics. */
export interface CommitObserver {
  /** a group batch was handed to the backend */
  batchStarted?(groupId: number, keys: readonly BinKey[]): void;
  /** the backend resolved the batch (fsync'd when sync is on) */
  batchResolved?(groupId: number): void;
}

/** Options of the committer. */
export interface CommitterOptions {
  /** fsync every group (default true; `durability: fsync`) */
  readonly sync: boolean;
  /** writes added to every group batch, e.g. the HLC high-water mark (I1) */
  readonly extraWrites?: () => readonly KvWrite[];
  /** a group that held appends to a log (Tx.appendLog) is durable: `key` is the key of its segment */
  readonly onLogSegment?: (key: BinKey) => void;
  readonly observer?: CommitObserver;
  /** a group write failed: the committer refuses all later work from now on (called once) */
  readonly onFailure?: (err: unknown) => void;
  /** monotonic clock (ms) timing writes for splitBurst; performance.now by default (tests inject) */
  readonly monotonicNow?: () => number;
  /**
   * The main thread's busy time so far (ms) — event-loop utilization's `active` by default (tests inject): its
   * growth per committed transaction is what a transaction costs this process, request handling included.
   */
  readonly busyNow?: () => number;
}

/** How a transaction commits. */
export interface TransactOptions {
  /**
   * Resolve once prepared (visible to later transactions), not once durable; the writes go to disk with the next
   * group, or within LAZY_FLUSH_MS. Only for writes whose loss in a crash is harmless because they are redone:
   * outbox truncation after a receipt (the entries are resent and the hub re-receipts duplicates, I9).
   */
  readonly lazy?: boolean;
}

/** The longest lazy writes wait for an eager group before they are written on their own (ms). */
const LAZY_FLUSH_MS = 50;

/** The longest a group waits for transactions still on their way before it is written (ms). */
const GROUP_WAIT_MS = 2;

/** How many flushed groups' key sets are kept to validate prefetched reads. */
const RECENT_FLUSHES_KEPT = 16;

/** The keys of a flushed group no prefetched read can ask about. */
const NO_KEYS: ReadonlySet<BinKey> = new Set();

/** Weight of the newest sample in the moving averages of prepare and write times. */
const EWMA_WEIGHT = 0.1;

/**
 * The entries a group (or a transaction) appends to one log: they are stored as one value under the key of the
 * first of them — made only when the group is written (most appends are not the first of their group).
 */
interface LogSegment {
  readonly keyOf: () => BinKey;
  readonly entries: string[];
}

interface Group {
  readonly id: number;
  readonly writes: Map<BinKey, KvValue | undefined>;
  /** appends to logs, by log name */
  readonly logs: Map<string, LogSegment>;
  /** transactions with writes in this group */
  transactions: number;
  /** a transaction waits for this group: write it as soon as possible (else only lazy writes: write it later) */
  eager: boolean;
  readonly done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

function makeGroup(id: number): Group {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  done.catch(() => {}); // observed by each transaction; avoid unhandled rejections for empty groups
  return { id, writes: new Map(), logs: new Map(), transactions: 0, eager: false, done, resolve, reject };
}

/** Values read before the commit lock, with the number of groups flushed when the read began. */
interface Prefetched {
  readonly at: number;
  readonly values: ReadonlyMap<BinKey, Buffer | undefined>;
}

/** Tx.peek's answer when a key's value is only on disk. */
export const NOT_IN_MEMORY: unique symbol = Symbol('not in memory');

/** A transaction: reads see its own writes, then prepared-but-unsynced writes, then disk. */
export class Tx {
  /** this transaction's writes; undefined = delete */
  readonly writes = new Map<BinKey, KvValue | undefined>();
  /** this transaction's appends to logs, by log name */
  logs: Map<string, LogSegment> | undefined;
  // Allocated on first use: most transactions register one hook or none.
  private preparedHooks: (() => void)[] | undefined;
  private durableHooks: (() => void)[] | undefined;

  constructor(
    private readonly committer: Committer,
    /** values read before the lock was taken, and when (see Committer.transact) */
    private readonly prefetched?: Prefetched,
  ) {}

  /** Reads a key through this transaction's view. */
  async get(key: BinKey): Promise<Buffer | undefined> {
    const known = this.peek(key);
    if (known === NOT_IN_MEMORY) return this.committer.kv.get(key);
    return known === undefined ? undefined : valueBytes(known);
  }

  /**
   * The value get() would return when it is in memory — this transaction's writes, a prefetched value that is
   * still current, a prepared-but-unsynced write — without waiting; NOT_IN_MEMORY when only disk has it.
   */
  peek(key: BinKey): KvValue | undefined | typeof NOT_IN_MEMORY {
    if (this.writes.has(key)) return this.writes.get(key);
    // A prefetched value is current unless the key is pending now or a group that wrote it landed since the
    // read began — checked here, at the read: a group can land while this transaction holds the lock.
    const pre = this.prefetched;
    const pending = this.committer.isPending(key);
    if (pre?.values.has(key) && !pending && !this.committer.flushedSince(pre.at, key)) {
      return pre.values.get(key);
    }
    return pending ? this.committer.pendingValue(key) : NOT_IN_MEMORY;
  }

  put(key: BinKey, value: KvValue): void {
    this.writes.set(key, value);
  }

  del(key: BinKey): void {
    this.writes.set(key, undefined);
  }

  /**
   * Appends `entry` to the log named `log`. All appends of one group to one log are stored together as one
   * value (newline-separated) under the key of the first of them (`keyOf()`, called once, when the group is
   * written) — a segment, written in the group's batch like any write (I6) — so a transaction's log entry costs
   * no key of its own. Entries must not contain a newline. Segments are not visible to reads before they are
   * durable; `onLogSegment` reports each one.
   */
  appendLog(log: string, entry: string, keyOf: () => BinKey): void {
    this.logs ??= new Map();
    const segment = this.logs.get(log);
    if (segment) segment.entries.push(entry);
    else this.logs.set(log, { keyOf, entries: [entry] });
  }

  /** Iterates a range through this transaction's view (disk merged with the overlay and own writes). */
  async *iterate(range: KvRange): AsyncIterable<[BinKey, Buffer]> {
    const pending = new Map<BinKey, KvValue | undefined>();
    for (const [key, value] of this.committer.overlayEntries())
      if (inRange(key, range)) pending.set(key, value);
    for (const [key, value] of this.writes) if (inRange(key, range)) pending.set(key, value);
    const pendingKeys = [...pending.keys()].sort();
    if (range.reverse) pendingKeys.reverse();
    const before = (a: BinKey, b: BinKey): boolean => (range.reverse ? a > b : a < b);
    const limit = range.limit ?? Number.POSITIVE_INFINITY;
    let emitted = 0;
    let p = 0;
    const emit = function* (key: BinKey, value: KvValue | undefined): Generator<[BinKey, Buffer]> {
      if (value !== undefined && emitted < limit) {
        emitted++;
        yield [key, valueBytes(value)];
      }
    };
    const diskRange: KvRange = { ...range, limit: undefined };
    for await (const [key, value] of this.committer.kv.iterate(diskRange)) {
      while (p < pendingKeys.length && before(pendingKeys[p]!, key)) {
        const k = pendingKeys[p++]!;
        yield* emit(k, pending.get(k));
      }
      if (p < pendingKeys.length && pendingKeys[p] === key) {
        p++;
        yield* emit(key, pending.get(key));
      } else {
        yield* emit(key, value);
      }
      if (emitted >= limit) return;
    }
    while (p < pendingKeys.length && emitted < limit) {
      const k = pendingKeys[p++]!;
      yield* emit(k, pending.get(k));
    }
  }

  /** Runs `fn` synchronously once this transaction's writes joined a group (in commit order, under the lock). */
  onPrepared(fn: () => void): void {
    this.preparedHooks ??= [];
    this.preparedHooks.push(fn);
  }

  /** Runs `fn` after the group holding this transaction is durable. */
  onDurable(fn: () => void): void {
    this.durableHooks ??= [];
    this.durableHooks.push(fn);
  }

  /** @internal */
  runPrepared(): void {
    if (this.preparedHooks) for (const fn of this.preparedHooks) fn();
  }

  /** @internal Runs the durable hooks; the transaction is committed, so a failing hook must not fail it. */
  runDurable(): void {
    if (!this.durableHooks) return;
    for (const fn of this.durableHooks) {
      try {
        fn();
      } catch (err) {
        process.emitWarning(`tablemesh: a post-commit hook failed: ${String(err)}`);
      }
    }
  }
}

/** Serialises transactions and writes them in fsync'd groups (I6 group commit). */
export class Committer {
  /** the commit lock: held by one transaction's logical part at a time; waiters get it in arrival order */
  private locked = false;
  private readonly lockWaiters: (() => void)[] = [];
  private open: Group;
  private flushing: Group | undefined;
  /** transactions that entered transact() and have not prepared (or failed) yet */
  private preparing = 0;
  /**
   * Writers of the group that just landed that have not entered transact() again in this turn: a burst on its
   * way back (a writer waiting for its acknowledgement usually writes again at once). Zero from the next turn.
   */
  private returning = 0;
  private groupTimer: NodeJS.Timeout | undefined;
  private lazyTimer: NodeJS.Timeout | undefined;
  private nextGroupId = 1;
  /**
   * The id of the newest unsynced group that writes each key (the value is in its `writes`): the open group or
   * the one being written. Ids, not the groups: a Map's backing store lives long and is replaced as it grows and
   * shrinks, and until the next full collection a replaced one would keep every group it pointed to — all their
   * keys and values — alive through each young-generation collection.
   */
  private readonly overlay = new Map<BinKey, number>();
  /**
   * Moving averages: the main thread's busy time (ms) and the transactions committed between two group writes
   * (their ratio is the time per transaction — a ratio of averages, so groups of unequal size weigh right), and
   * the time of one group write with its fsync (ms).
   */
  private busyPerGroupMs = 0.05;
  private txPerGroup = 1;
  private writeMs = 1;
  /** a write of the open group is due at the end of this turn of the event loop */
  private turnWait = false;
  /** busyNow() when the last group was written */
  private busyAt: number | undefined;
  private failure: unknown;
  private closed = false;
  /**
   * Groups written so far, and the keys of the most recent ones (to validate prefetched reads): recorded only
   * while a transaction that prefetched is under way (`prefetching`) — no other reader asks (flushedSince).
   */
  private groupsFlushed = 0;
  private readonly recentFlushes: ReadonlySet<BinKey>[] = [];
  private prefetching = 0;
  private readQueue: {
    keys: readonly BinKey[];
    resolve(values: (Buffer | undefined)[]): void;
    reject(err: unknown): void;
  }[] = [];
  /** number of group batches written; with sync on, the number of fsyncs */
  batchesWritten = 0;
  /** number of transactions committed */
  transactionsCommitted = 0;

  private readonly monotonicNow: () => number;
  private readonly busyNow: () => number;

  constructor(
    readonly kv: KvBackend,
    private readonly options: CommitterOptions,
  ) {
    this.open = makeGroup(this.nextGroupId++);
    this.monotonicNow = options.monotonicNow ?? (() => performance.now());
    this.busyNow = options.busyNow ?? (() => performance.eventLoopUtilization().active);
  }

  /** The prepared-but-unsynced value of `key` (undefined: a delete, or nothing pending — ask isPending). */
  pendingValue(key: BinKey): KvValue | undefined {
    return this.pendingGroup(key)?.writes.get(key);
  }

  /** True when `key` has a prepared-but-unsynced write. */
  isPending(key: BinKey): boolean {
    return this.pendingGroup(key) !== undefined;
  }

  /** The unsynced group that writes `key` last (open or being written), if any. */
  private pendingGroup(key: BinKey): Group | undefined {
    const id = this.overlay.get(key);
    if (id === undefined) return undefined;
    if (id === this.open.id) return this.open;
    return id === this.flushing?.id ? this.flushing : undefined;
  }

  /** True when a group flushed after the first `at` groups wrote `key` (or is too old to tell). */
  flushedSince(at: number, key: BinKey): boolean {
    const missed = this.groupsFlushed - at;
    if (missed <= 0) return false;
    if (missed > this.recentFlushes.length) return true;
    // Walk the newest `missed` groups in place: this runs on every prefetched read of the write path.
    for (let i = this.recentFlushes.length - missed; i < this.recentFlushes.length; i++) {
      if (this.recentFlushes[i]!.has(key)) return true;
    }
    return false;
  }

  /** @internal prepared-but-unsynced writes */
  *overlayEntries(): Iterable<[BinKey, KvValue | undefined]> {
    for (const key of this.overlay.keys()) {
      const group = this.pendingGroup(key);
      if (group) yield [key, group.writes.get(key)];
    }
  }

  /**
   * Runs `fn` as one atomic transaction. If `fn` throws, nothing is written and nothing in memory changes
   * (hooks registered with onPrepared do not run). Resolves after the transaction's batch is durable.
   */
  async transact<T>(
    fn: (tx: Tx) => Promise<T> | T,
    prefetch?: readonly BinKey[],
    options: TransactOptions = {},
  ): Promise<T> {
    // Reads of keys the caller names are done before the lock, so no I/O wait happens while holding it: the
    // lock then covers only CPU work and many transactions are ready for each fsync.
    if (this.returning > 0) this.returning--;
    this.preparing++;
    let group: Group | undefined;
    let tx: Tx;
    let result: T;
    let held = false;
    const prefetches = prefetch !== undefined && prefetch.length > 0;
    // Counted before the read captures groupsFlushed: every group flushed from then on records its keys.
    if (prefetches) this.prefetching++;
    try {
      const prefetched = prefetches ? await this.prefetch(prefetch) : undefined;
      const waiting = this.acquire();
      if (waiting) await waiting;
      held = true;
      this.assertUsable();
      tx = new Tx(this, prefetched);
      // A transaction whose work is all in memory returns a value, not a promise: no turn of the event loop.
      const out = fn(tx);
      result = out instanceof Promise ? await out : out;
      this.assertUsable();
      // A transaction without writes waits for what it may have read: the open group, else the one in flight.
      const writes = tx.writes.size > 0 || tx.logs !== undefined;
      group = writes || !isEmpty(this.open) ? this.open : this.flushing;
      for (const [key, value] of tx.writes) {
        this.open.writes.set(key, value);
        this.overlay.set(key, this.open.id);
      }
      if (tx.logs) this.joinLogs(tx.logs);
      if (writes) this.open.transactions++;
      // Writers that wait for durability make the group urgent; readers wait for it without hurrying it.
      if (!options.lazy && writes) this.open.eager = true;
      tx.runPrepared();
      this.transactionsCommitted++;
    } finally {
      if (held) this.release();
      this.preparing--;
      if (prefetches) this.prefetching--;
    }
    this.scheduleFlush();
    if (options.lazy) {
      // Visible to every later transaction now; durable with the next group that is written.
      const lazyTx = tx;
      group?.done.then(
        () => lazyTx.runDurable(),
        () => {},
      );
      return result;
    }
    if (group) await group.done;
    tx.runDurable();
    return result;
  }

  /** Adds a transaction's log appends to the open group's segments. */
  private joinLogs(logs: ReadonlyMap<string, LogSegment>): void {
    for (const [log, { keyOf, entries }] of logs) {
      const segment = this.open.logs.get(log);
      if (segment) segment.entries.push(...entries);
      else this.open.logs.set(log, { keyOf, entries: [...entries] });
    }
  }

  /**
   * Reads `keys` now. Tx.get uses a value only while it is still current: not pending, and no group flushed
   * after the read began wrote it (flushedSince).
   */
  private async prefetch(keys: readonly BinKey[]): Promise<Prefetched> {
    const at = this.groupsFlushed; // captured before the read is issued: staleness errs on the safe side
    const values = await this.readMany(keys);
    const map = new Map<BinKey, Buffer | undefined>();
    keys.forEach((key, i) => {
      map.set(key, values[i]);
    });
    return { at, values: map };
  }

  /**
   * Reads for all transactions that arrive in the same turn of the event loop go to the backend as one getMany:
   * one native call instead of one per writer.
   */
  private readMany(keys: readonly BinKey[]): Promise<(Buffer | undefined)[]> {
    return new Promise((resolve, reject) => {
      this.readQueue.push({ keys, resolve, reject });
      if (this.readQueue.length === 1) queueMicrotask(() => this.runReads());
    });
  }

  private runReads(): void {
    const queue = this.readQueue;
    this.readQueue = [];
    this.kv.getMany(queue.flatMap((r) => r.keys)).then(
      (values) => {
        let at = 0;
        for (const r of queue) {
          r.resolve(values.slice(at, at + r.keys.length));
          at += r.keys.length;
        }
      },
      (err: unknown) => {
        for (const r of queue) r.reject(err);
      },
    );
  }

  /** Waits until everything prepared so far is durable. */
  async flush(): Promise<void> {
    const waiting = this.acquire();
    if (waiting) await waiting;
    const group = this.open;
    this.release();
    if (!isEmpty(group)) {
      group.eager = true;
      this.scheduleFlush(true);
      await group.done;
    }
    await this.flushing?.done;
  }

  /** Flushes and refuses further transactions. */
  async close(): Promise<void> {
    if (this.failure === undefined) await this.flush().catch(() => {});
    this.closed = true;
  }

  private assertUsable(): void {
    if (this.failure !== undefined) {
      throw new TmError('TM_STORE_FAILED', `a storage write failed earlier: ${String(this.failure)}`);
    }
    if (this.closed) throw new TmError('TM_STORE_CLOSED', 'the store is closed');
  }

  /** Takes the commit lock; resolves at once (no promise to wait for) when it is free. */
  private acquire(): Promise<void> | undefined {
    if (!this.locked) {
      this.locked = true;
      return undefined;
    }
    return new Promise((resolve) => this.lockWaiters.push(resolve));
  }

  /** Hands the lock to the next waiter, or frees it. */
  private release(): void {
    const next = this.lockWaiters.shift();
    if (next) next();
    else this.locked = false;
  }

  /**
   * Starts writing the open group unless one is being written. While other transactions are still on their way
   * (prefetching, waiting for the lock) the group waits for them, up to GROUP_WAIT_MS after it opened: writers
   * that were acknowledged together come back together, and without the wait the first of them would be
   * written alone, halving the transactions per fsync — unless the disk would sit idle meanwhile (splitBurst).
   */
  private scheduleFlush(force = false): void {
    if (this.flushing !== undefined || isEmpty(this.open)) return;
    if (!force && !this.open.eager) {
      // Only lazy writes: they ride along with the next eager group, or are written after LAZY_FLUSH_MS.
      this.lazyTimer ??= setTimeout(() => {
        this.lazyTimer = undefined;
        this.scheduleFlush(true);
      }, LAZY_FLUSH_MS);
      return;
    }
    const onTheWay = this.preparing + this.returning;
    const split = !force && onTheWay > 0 && this.splitBurst(onTheWay);
    if (!force && this.preparing > 0 && !split) {
      this.groupTimer ??= setTimeout(() => {
        this.groupTimer = undefined;
        this.scheduleFlush(true);
      }, GROUP_WAIT_MS);
      return;
    }
    // A split group goes to disk at once: the rest of the burst is prepared while it is written. Otherwise at the
    // end of this turn, so that writers ready in this turn join it first.
    if (split) this.startWrite();
    else if (!this.turnWait) {
      this.turnWait = true;
      setImmediate(() => {
        this.turnWait = false;
        this.startWrite();
      });
    }
  }

  /**
   * Writes the open group now, unless a write is in flight (the open group then goes when it lands). Never after a
   * failed write: the groups it left behind were refused (TM_STORE_FAILED), so writing them later would store what
   * their writers were told failed — and report the failure again.
   */
  private startWrite(): void {
    if (this.flushing !== undefined || isEmpty(this.open) || this.failure !== undefined) return;
    if (this.groupTimer) clearTimeout(this.groupTimer);
    this.groupTimer = undefined;
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.lazyTimer = undefined;
    const group = this.open;
    this.open = makeGroup(this.nextGroupId++);
    this.flushing = group;
    void this.writeGroup(group);
  }

  /** The main thread's busy time per committed transaction (ms, moving average). */
  private busyPerTxMs(): number {
    return this.busyPerGroupMs / Math.max(this.txPerGroup, 0.01);
  }

  /**
   * Whether to write the open group now although more transactions are on their way. A burst of writers
   * (all acknowledged by one fsync) is prepared back to back; as one group, the disk idles while they prepare
   * and the CPU idles while they are written. Split in halves, one half is written while the other prepares —
   * worth it only when preparing the rest takes at least as long as a write (a fast disk); on a slow disk one
   * big group per fsync is better.
   */
  private splitBurst(onTheWay: number): boolean {
    return this.open.transactions >= onTheWay && onTheWay * this.busyPerTxMs() >= this.writeMs;
  }

  private async writeGroup(group: Group): Promise<void> {
    const batch: KvWrite[] = [];
    for (const [key, value] of group.writes) batch.push({ key, value });
    const segmentKeys: BinKey[] = [];
    for (const { keyOf, entries } of group.logs.values()) {
      const key = keyOf();
      segmentKeys.push(key);
      batch.push({ key, value: entries.join('\n') });
    }
    for (const extra of this.options.extraWrites?.() ?? []) batch.push(extra);
    this.options.observer?.batchStarted?.(
      group.id,
      batch.map((w) => w.key),
    );
    try {
      const started = this.monotonicNow();
      const busyBefore = this.busyNow();
      await this.kv.write(batch, this.options.sync);
      // The write's own time: while the main thread prepares the next group it notices the write only when done,
      // so the time it was busy meanwhile is taken off (what the disk alone kept it waiting). With halves
      // alternating (write W, preparing a half P) this is W − P, and the merge rule below (merge when preparing
      // a half takes less) then merges exactly when W + 2P < 2·max(W, P): the faster of the two ways.
      const busy = this.busyNow();
      const wall = this.monotonicNow() - started;
      this.writeMs += EWMA_WEIGHT * (Math.max(0, wall - (busy - busyBefore)) - this.writeMs);
      // Busy time and transactions since the last group: over a run, their ratio is what a transaction costs.
      if (this.busyAt !== undefined) {
        this.busyPerGroupMs += EWMA_WEIGHT * (busy - this.busyAt - this.busyPerGroupMs);
        this.txPerGroup += EWMA_WEIGHT * (group.transactions - this.txPerGroup);
      }
      this.busyAt = busy;
      this.batchesWritten++;
      this.options.observer?.batchResolved?.(group.id);
      for (const key of group.writes.keys()) {
        if (this.overlay.get(key) === group.id) this.overlay.delete(key);
      }
      this.recentFlushes.push(this.prefetching > 0 ? new Set(group.writes.keys()) : NO_KEYS);
      if (this.recentFlushes.length > RECENT_FLUSHES_KEPT) this.recentFlushes.shift();
      this.groupsFlushed++;
      for (const key of segmentKeys) this.options.onLogSegment?.(key);
      group.resolve();
    } catch (err) {
      this.failure = err;
      group.reject(new TmError('TM_STORE_FAILED', `storage write failed: ${String(err)}`));
      this.open.reject(new TmError('TM_STORE_FAILED', `storage write failed: ${String(err)}`));
      try {
        this.options.onFailure?.(err);
      } catch (hookErr) {
        process.emitWarning(`tablemesh: a store failure hook failed: ${String(hookErr)}`);
      }
    } finally {
      this.flushing = undefined;
    }
    // The group's writers come back now, within this turn: a burst (splitBurst counts them on their way).
    this.returning = group.transactions;
    setImmediate(() => {
      this.returning = 0;
    });
    // If preparing them again would take less than a write, the open group waits a turn so they can join it (one
    // big write per fsync: a slow disk); else it goes now, overlapping their preparing (a fast disk) — the same
    // trade as splitBurst, so split halves merge again on a slow disk.
    if (group.transactions * this.busyPerTxMs() < this.writeMs) setImmediate(() => this.scheduleFlush());
    else this.scheduleFlush();
  }
}

/** True when a group holds neither writes nor log appends. */
function isEmpty(group: Group): boolean {
  return group.writes.size === 0 && group.logs.size === 0;
}
