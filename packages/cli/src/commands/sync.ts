/**
 * `tablemesh sync [--wait] [--timeout]` — is the edge in sync with its hub: its outbox drained (every local write
 * receipted, I7) and every subscription live at the feed head it has seen? Without --wait it answers now (exit 0
 * or 6); with --wait it polls `/_status` until synced (exit 0) or the timeout (exit 6), showing a progress bar on a
 * terminal and plain lines otherwise.
 */
import { Command } from 'commander';
import { contextOf, type Io } from '../context.js';
import { CliError, EXIT } from '../errors.js';
import { duration, parseDuration, progressBar } from '../format.js';
import type { EdgeStatus } from './status.js';

/** What is left to sync in one status. */
export function remaining(s: EdgeStatus) {
  const backlog = s.published.reduce((n, p) => n + p.backlogCount, 0);
  const feedLag = s.subscribed.reduce((n, x) => n + x.lag, 0);
  const rate = s.published.reduce((n, p) => n + (p.drainPerSec ?? 0), 0);
  const notLive = s.subscribed.filter((x) => x.phase !== 'live').map((x) => x.table);
  const held = s.published.filter((p) => p.held).map((p) => `${p.table} held: ${p.lastError}`);
  return {
    backlog,
    feedLag,
    rate,
    notLive,
    held,
    etaMs: backlog > 0 && rate > 0 ? (backlog / rate) * 1000 : null,
  };
}

function line(s: EdgeStatus): string {
  const r = remaining(s);
  return [
    `backlog ${r.backlog} tx`,
    `feed lag ${r.feedLag}`,
    ...(r.notLive.length > 0 ? [`catching up: ${r.notLive.join(', ')}`] : []),
    ...(r.rate > 0 ? [`${r.rate.toFixed(1)} tx/s`, `eta ${r.etaMs === null ? '-' : duration(r.etaMs)}`] : []),
    ...(!s.link.connected ? [`link ${s.link.state}`] : []),
    ...r.held,
  ].join(' · ');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `sync`. */
export function makeSyncCommand(io: Io): Command {
  return new Command('sync')
    .description('whether the edge is in sync with the hub; --wait until it is')
    .option('-w, --wait', 'wait until the backlog is drained and subscriptions are caught up')
    .option('-t, --timeout <duration>', 'with --wait: give up after this long (exit 6)', '60s')
    .option('--interval <duration>', 'with --wait: how often to ask the edge', '500ms')
    .addHelpText(
      'after',
      `
Exit codes: 0 synced, 6 not synced (or not within --timeout), 3 edge not reachable.

Examples:
  $ tablemesh sync --wait --timeout 2m && echo "everything is at the hub"
  $ tablemesh sync --json`,
    )
    .action(async (o: { wait?: boolean; timeout: string; interval: string }, c: Command) => {
      const ctx = contextOf(c, io);
      const timeoutMs = parseDuration(o.timeout, '--timeout');
      const intervalMs = parseDuration(o.interval, '--interval');
      const edge = ctx.edge();
      const started = Date.now();
      let s = await edge.get<EdgeStatus>('/_status');
      let most = 0;
      let lastLine = '';
      let lastPrint = 0;
      const progress = (final: boolean) => {
        if (ctx.json) return;
        const r = remaining(s);
        const left = r.backlog + r.feedLag;
        most = Math.max(most, left);
        const text = line(s);
        if (io.isTTY) {
          io.stderr(`\r\x1b[K${progressBar(most === 0 ? 1 : 1 - left / most)}  ${text}${final ? '\n' : ''}`);
        } else if (!final && text !== lastLine && Date.now() - lastPrint >= 1_000) {
          io.stderr(`sync: ${text}\n`);
          lastLine = text;
          lastPrint = Date.now();
        }
      };
      if (o.wait) {
        while (!s.synced && Date.now() - started < timeoutMs) {
          progress(false);
          await sleep(Math.min(intervalMs, Math.max(0, timeoutMs - (Date.now() - started))));
          s = await edge.get<EdgeStatus>('/_status');
        }
        progress(true);
      }
      const r = remaining(s);
      const result = {
        synced: s.synced,
        waitedMs: Date.now() - started,
        backlog: r.backlog,
        feedLag: r.feedLag,
        catchingUp: r.notLive,
        held: s.published.filter((p) => p.held).map((p) => ({ table: p.table, ...p.held })),
        link: s.link.state,
      };
      ctx.print(result, () =>
        s.synced ? `synced (${duration(result.waitedMs)})` : `not synced: ${line(s)}`,
      );
      if (!s.synced) {
        throw new CliError(
          o.wait
            ? `not synced after ${duration(timeoutMs)}: ${line(s)} — see \`tablemesh status\``
            : `not synced: ${line(s)} — wait with \`tablemesh sync --wait\``,
          EXIT.NOT_SYNCED,
          'TM_NOT_SYNCED',
        );
      }
    });
}
