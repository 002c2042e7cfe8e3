/**
 * Crash test (I6, I1): a child process writes with group commit and is SIGKILLed at random moments; after each
 * kill the parent reopens the same LevelDB directory and checks that every acknowledged transaction is there,
 * none is torn, the change log agrees with the data, and the HLC high-water mark covers every acknowledged stamp.
 * SIGKILL cannot catch a missing fsync (the page cache survives); commit-order.test.ts checks the order instead.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compareHlc } from '../src/hlc.js';
import { liveRecord, maxStamp } from '../src/merge.js';
import { Outbox } from '../src/outbox/index.js';
import { LevelKv } from '../src/store/level-kv.js';
import { MemoryKv } from '../src/store/memory-kv.js';
import { type LiveRecord, recordKey, Store } from '../src/store/store.js';
import type { Hlc } from '../src/types.js';
import {
  CHANGE_LOG_RETENTION,
  headKey,
  memberCheck,
  NODE_ID,
  requestFor,
  TABLE_A,
  TABLE_B,
  txId,
  WRITERS,
} from './fixtures/crash-writer.js';

const WRITER = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ROUNDS = 6;
/** Upper bound on one child's life: ready + the largest kill delay stays far below it. */
const CHILD_DEADLINE_MS = 8_000;
/** Key of the parent's probe write after each reopen. */
const PROBE_KEY = 'probe';

/** mulberry32: a tiny seeded PRNG so a failing run can be replayed with TM_CRASH_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Ack {
  readonly tx: string;
  readonly hlc: Hlc;
}

interface RoundResult {
  readonly acks: Ack[];
  readonly killedAfterMs: number;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Spawns the writer, kills it with SIGKILL `delayMs` after it printed `ready`, and collects its acks. */
function runRound(dir: string, round: number, delayMs: number): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(round)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let pending = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | undefined;
    let killedAfterMs = -1;
    let readyAt = 0;
    const kill = (): void => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGKILL');
      }
    };
    // Bounded: a child that never gets ready (or hangs) is killed and the round fails.
    const deadline = setTimeout(kill, CHILD_DEADLINE_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? ''; // a line cut by the kill is not an ack
      for (const line of lines) {
        const parts = line.split(' ');
        if (parts[0] === 'ready' && killTimer === undefined) {
          readyAt = Date.now();
          killTimer = setTimeout(() => {
            killedAfterMs = Date.now() - readyAt;
            kill();
          }, delayMs);
        } else if (parts[0] === 'ack' && parts.length === 4) {
          acks.push({ tx: parts[1]!, hlc: { wall: Number(parts[2]), counter: Number(parts[3]) } });
        }
      }
    });
    child.on('error', reject);
    // 'close' fires after the process exited and its pipes drained: every ack it wrote has been read.
    child.on('close', (_code, signal) => {
      clearTimeout(deadline);
      clearTimeout(killTimer);
      resolve({ acks, killedAfterMs, signal, stderr });
    });
  });
}

interface Member {
  readonly table: string;
  readonly record: LiveRecord;
}

interface Verdict {
  readonly txCount: number;
  readonly recordCount: number;
  readonly changeCount: number;
  readonly problems: string[];
}

/** Reads the reopened store and checks atomicity, acknowledged writes, change log vs data, and I1. */
/** Transaction ids carried by the records of a table (members carry `tx`; head patches do not). */
async function dataTxIds(store: Store, table: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const [key, state] of store.scanStates(table)) {
    const tx = liveRecord(state, 'id', key)?.['tx'];
    if (typeof tx === 'string') ids.add(tx);
  }
  return ids;
}

/**
 * I6: a transaction's data and its outbox entry are one batch, so after any kill the outbox of each table holds
 * exactly the transactions whose data is durable, numbered 1…n without gaps.
 */
async function assertOutboxAgrees(store: Store, where: string): Promise<void> {
  const outbox = await Outbox.open(store, { tables: [{ table: TABLE_A }, { table: TABLE_B }] });
  try {
    for (const table of [TABLE_A, TABLE_B]) {
      const audit = await outbox.audit(table);
      assert.ok(audit.tiled, `${where}: ${table} outbox seqs have a gap`);
      const queued = new Set<string>();
      let expectSeq = 1;
      for (let i = 0; i < 100_000; i++) {
        const batch = await outbox.nextBatch(table, { maxTxs: 1000, maxBytes: 64 * 1024 * 1024 });
        if (!batch) break;
        assert.equal(batch.fromSeq, expectSeq, `${where}: ${table} outbox starts at ${batch.fromSeq}`);
        expectSeq = batch.toSeq + 1;
        for (const txn of batch.txs) {
          for (const op of txn.ops) {
            const tx = op.kind === 'delete' ? undefined : op.attrs['tx'];
            if (typeof tx === 'string') queued.add(tx);
          }
        }
      }
      const data = await dataTxIds(store, table);
      const missing = [...data].filter((tx) => !queued.has(tx));
      const extra = [...queued].filter((tx) => !data.has(tx));
      assert.ok(
        missing.length === 0 && extra.length === 0,
        `${where}: ${table} data without outbox entry: ${missing.slice(0, 5).join(', ')}; ` +
          `outbox entry without data: ${extra.slice(0, 5).join(', ')}`,
      );
    }
  } finally {
    outbox.close();
  }
}

async function verify(store: Store, acked: ReadonlyMap<string, Hlc>): Promise<Verdict> {
  const problems: string[] = [];
  const members = new Map<string, Member[]>();
  const heads = new Map<number, LiveRecord>();
  const data = new Map<string, LiveRecord>(); // `${table}\0${key}` → live record
  let highest: Hlc = { wall: 0, counter: 0 };
  for (const table of [TABLE_A, TABLE_B]) {
    for await (const [key, state] of store.scanStates(table)) {
      const stamp = maxStamp(state);
      if (stamp && compareHlc(stamp, highest) > 0) highest = stamp;
      const record = liveRecord(state, 'id', key);
      if (!record) {
        // Only the parent's probe (a delete after each reopen) leaves a tombstone; the writer never deletes.
        if (key !== PROBE_KEY) problems.push(`${table}/${key}: tombstone, but the writer never deletes`);
        continue;
      }
      data.set(`${table}\0${key}`, record);
      const headOf = /^head-w(\d+)$/.exec(String(key));
      if (headOf) {
        heads.set(Number(headOf[1]), record);
        continue;
      }
      const tx = String(record['tx']);
      const expected = memberCheck(tx, Number(record['n']), String(record['part']), String(key));
      if (record['check'] !== expected) problems.push(`${table}/${key}: checksum mismatch`);
      if (!String(key).startsWith(`${tx}:`)) problems.push(`${table}/${key}: key does not belong to ${tx}`);
      const list = members.get(tx) ?? [];
      list.push({ table, record });
      members.set(tx, list);
    }
  }
  // No torn transaction: all n members (across both tables) or none.
  for (const [tx, list] of members) {
    const n = Number(list[0]!.record['n']);
    const parts = new Set(list.map((m) => `${m.table}:${String(m.record['part'])}`));
    if (list.length !== n || parts.size !== n) problems.push(`${tx}: torn, ${list.length} of ${n} members`);
    const tables = new Set(list.map((m) => m.table));
    if (n === 5 && tables.size !== 2) problems.push(`${tx}: a two-table request landed in one table only`);
  }
  // Every acknowledged transaction is present (I6).
  for (const tx of acked.keys()) if (!members.has(tx)) problems.push(`${tx}: acknowledged but missing`);
  // Each writer's head names its latest durable transaction: an overwrite is as atomic as an insert.
  for (let w = 0; w < WRITERS; w++) {
    let latest: { tx: string; round: number; counter: number } | undefined;
    for (const [tx, list] of members) {
      const r = list[0]!.record;
      if (r['writer'] !== w) continue;
      const round = Number(r['round']);
      const counter = Number(r['counter']);
      if (!latest || round > latest.round || (round === latest.round && counter > latest.counter)) {
        latest = { tx, round, counter };
      }
    }
    const head = heads.get(w);
    if (latest?.tx !== (head?.['last'] as string | undefined)) {
      problems.push(`${headKey(w)}: names ${String(head?.['last'])}, latest durable tx is ${latest?.tx}`);
    }
  }
  // The change log agrees with the data: seqs contiguous, the last change of each key equals its record,
  // and every record has a change.
  let changeCount = 0;
  for (const table of [TABLE_A, TABLE_B]) {
    const last = new Map<string, LiveRecord | null>();
    let expectSeq = 1;
    for (let page = 0; page < 1_000; page++) {
      const { changes } = await store.readChanges(table, expectSeq - 1, 5_000);
      if (changes.length === 0) break;
      for (const change of changes) {
        if (change.seq !== expectSeq)
          problems.push(`${table}: change seq ${change.seq}, expected ${expectSeq}`);
        expectSeq = change.seq + 1;
        last.set(String(change.key), change.record);
        changeCount++;
      }
    }
    for (const [key, record] of last) {
      const stored = data.get(`${table}\0${key}`) ?? null;
      if (JSON.stringify(stored) !== JSON.stringify(record)) {
        problems.push(`${table}/${key}: change log and data disagree`);
      }
    }
    for (const dataKey of data.keys()) {
      const [t, key] = dataKey.split('\0') as [string, string];
      if (t === table && !last.has(key)) problems.push(`${table}/${key}: record without a change-log entry`);
    }
  }
  // I1: the restored high-water mark covers every acknowledged stamp and every stamp on disk.
  const mark = store.clock.peek();
  for (const [tx, hlc] of acked) {
    if (compareHlc(mark, hlc) < 0)
      problems.push(`${tx}: acked HLC ${hlc.wall}.${hlc.counter} above the mark`);
  }
  if (compareHlc(mark, highest) < 0) problems.push('a stamp on disk is above the restored HLC mark');
  return { txCount: members.size, recordCount: data.size, changeCount, problems };
}

describe('crash: SIGKILL during group commit (I6, I1)', () => {
  const seed = Number(process.env['TM_CRASH_SEED'] ?? Date.now() % 1_000_000);
  const random = prng(seed);
  let dir = '';
  const acked = new Map<string, Hlc>();
  const log: string[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tm-crash-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps every acked tx, tears none, log = data, HLC mark ≥ acks, over ${ROUNDS} kills (seed ${seed})`, async () => {
    let previousTxs = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // Round 0 is killed right away (often mid-batch); later rounds spread over 0–700 ms of writing.
      const delayMs = round === 0 ? 0 : Math.floor(random() * 700);
      const result = await runRound(dir, round, delayMs);
      assert.equal(
        result.signal,
        'SIGKILL',
        `round ${round} (seed ${seed}): child was not killed\n${result.stderr}`,
      );
      for (const ack of result.acks) acked.set(ack.tx, ack.hlc);
      const store = await Store.open({
        kv: new LevelKv(dir),
        nodeId: NODE_ID,
        changeLogRetention: CHANGE_LOG_RETENTION,
      });
      try {
        const verdict = await verify(store, acked);
        log.push(
          `round ${round}: killed ${result.killedAfterMs} ms after ready, ${result.acks.length} acks, ` +
            `${verdict.txCount} txs, ${verdict.recordCount} records, ${verdict.changeCount} changes`,
        );
        assert.deepEqual(
          verdict.problems.slice(0, 20),
          [],
          `round ${round} (seed ${seed})\n${log.join('\n')}`,
        );
        assert.ok(verdict.txCount >= acked.size, 'at least the acked transactions are durable');
        await assertOutboxAgrees(store, `round ${round} (seed ${seed})`);
        assert.ok(verdict.txCount >= previousTxs, 'durable transactions never disappear');
        previousTxs = verdict.txCount;
        // I1 after restart: the next local write is stamped above everything acked before the crash.
        const [txn] = await store.writeLocal([{ table: TABLE_B, ops: [{ kind: 'delete', key: PROBE_KEY }] }]);
        for (const [tx, hlc] of acked)
          assert.ok(compareHlc(txn!.stamp, hlc) > 0, `stamp after restart ≤ ${tx}`);
      } finally {
        await store.close();
      }
    }
    // The run must have exercised something: acks and kills in the middle of writing.
    assert.ok(acked.size > 50, `only ${acked.size} acks over ${ROUNDS} rounds\n${log.join('\n')}`);
    console.log(`crash seed ${seed}\n${log.join('\n')}`);
  });

  it('the checker flags a torn tx, a lost ack, a stale head and a change log that disagrees', async () => {
    const kv = new MemoryKv();
    const store = await Store.open({ kv, nodeId: NODE_ID });
    await store.createTable({ name: TABLE_A });
    await store.createTable({ name: TABLE_B });
    await store.writeLocal(requestFor(0, 0, 0));
    const torn = requestFor(0, 0, 1)[0]!; // one table, 4 members: drop one, keep the head patch
    await store.writeLocal([{ table: torn.table, ops: torn.ops.slice(1) }]);
    const [a, b] = requestFor(0, 0, 2); // two tables: lose the head patch, so the head is stale
    await store.writeLocal([{ table: a!.table, ops: a!.ops.filter((op) => op.key !== headKey(0)) }, b!]);
    await store.writeLocal(requestFor(0, 1, 0));
    // A record written around the store: data without a change-log entry.
    await kv.write(
      [{ key: recordKey(TABLE_A, 'stray'), value: (await kv.get(recordKey(TABLE_A, headKey(1))))! }],
      true,
    );
    const acks = new Map<string, Hlc>([
      [txId(0, 0, 0), { wall: 1, counter: 0 }],
      [txId(0, 2, 0), { wall: 1, counter: 0 }], // never written
      [txId(0, 1, 0), { wall: Number.MAX_SAFE_INTEGER, counter: 0 }], // above any mark
    ]);
    const { problems } = await verify(store, acks);
    const has = (re: RegExp): boolean => problems.some((p) => re.test(p));
    assert.ok(has(/^r0-w0-c1: torn, 3 of 4/), problems.join('\n'));
    assert.ok(has(/^r0-w2-c0: acknowledged but missing/), problems.join('\n'));
    assert.ok(has(/^head-w0: names r0-w0-c1, latest durable tx is r0-w0-c2/), problems.join('\n'));
    assert.ok(has(/stray: record without a change-log entry/), problems.join('\n'));
    assert.ok(has(/^r0-w1-c0: acked HLC .* above the mark/), problems.join('\n'));
    await store.close();
  });

  it('the outbox check flags data without its outbox entry', async () => {
    const kv = new MemoryKv();
    const store = await Store.open({ kv, nodeId: NODE_ID });
    await store.createTable({ name: TABLE_A });
    await store.createTable({ name: TABLE_B });
    const outbox = await Outbox.open(store, { tables: [{ table: TABLE_A }, { table: TABLE_B }] });
    await store.writeLocal(requestFor(0, 0, 1));
    outbox.close(); // written around the outbox: data without an outbox entry
    await store.writeLocal(requestFor(0, 0, 3));
    await assert.rejects(assertOutboxAgrees(store, 'mutant'), /data without outbox entry: r0-w0-c3/);
    await store.close();
  });
});
