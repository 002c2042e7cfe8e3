/**
 * Just enough of a Dockerfile parser for the deploy tests: instructions with continuation lines joined, the stages,
 * and the final stage's ENV, COPY, VOLUME, USER, EXPOSE, HEALTHCHECK, STOPSIGNAL, ENTRYPOINT and CMD. Not a test file.
 */
import { readFileSync } from 'node:fs';

/** One instruction: `COPY --from=build /src/x ./x` → { op: 'COPY', args: '--from=build /src/x ./x' }. */
export interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** The final stage of a Dockerfile, as the container runs it. */
export interface Dockerfile {
  /** every FROM line (`node:24-bookworm-slim AS build`, …) */
  readonly stages: string[];
  /** instructions of the final stage */
  readonly final: Instruction[];
  readonly env: Record<string, string>;
  readonly workdir: string;
  /** COPY sources → destinations (absolute), of the final stage: `from` is the stage or undefined (context) */
  readonly copies: { from: string | undefined; src: string; dest: string }[];
  readonly volumes: string[];
  readonly user: string | undefined;
  readonly expose: number[];
  readonly healthcheck: string[] | undefined;
  readonly stopSignal: string | undefined;
  readonly entrypoint: string[];
  readonly cmd: string[];
}

function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.indexOf(' ');
      return { op: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
}

/** `KEY=value KEY2=value2` (values may be double-quoted). */
function envPairs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    out[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
  }
  return out;
}

/** Parses a Dockerfile (exec-form ENTRYPOINT, CMD and HEALTHCHECK CMD only, as ours use). */
export function parseDockerfile(path: string): Dockerfile {
  const all = instructions(readFileSync(path, 'utf8'));
  const stages = all.filter((i) => i.op === 'FROM').map((i) => i.args);
  const lastFrom = all.map((i) => i.op).lastIndexOf('FROM');
  const final = all.slice(lastFrom + 1);
  let workdir = '/';
  const env: Record<string, string> = {};
  const copies: Dockerfile['copies'] = [];
  const result = {
    volumes: [] as string[],
    expose: [] as number[],
    user: undefined as string | undefined,
    healthcheck: undefined as string[] | undefined,
    stopSignal: undefined as string | undefined,
    entrypoint: [] as string[],
    cmd: [] as string[],
  };
  for (const { op, args } of final) {
    if (op === 'WORKDIR') workdir = args;
    else if (op === 'ENV') Object.assign(env, envPairs(args));
    else if (op === 'COPY') {
      const parts = args.split(/\s+/);
      const from = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length);
      const [src, dest] = parts.filter((p) => !p.startsWith('--'));
      const abs = dest!.startsWith('/') ? dest! : `${workdir}/${dest!.replace(/^\.\//, '')}`;
      copies.push({ from, src: src!, dest: abs.replace(/\/\.$/, '') });
    } else if (op === 'VOLUME') result.volumes.push(...args.split(/\s+/));
    else if (op === 'EXPOSE') result.expose.push(...args.split(/\s+/).map((p) => Number.parseInt(p, 10)));
    else if (op === 'USER') result.user = args;
    else if (op === 'STOPSIGNAL') result.stopSignal = args;
    else if (op === 'ENTRYPOINT') result.entrypoint = JSON.parse(args) as string[];
    else if (op === 'CMD') result.cmd = JSON.parse(args) as string[];
    else if (op === 'HEALTHCHECK') {
      const at = args.indexOf('CMD [');
      result.healthcheck = at < 0 ? undefined : (JSON.parse(args.slice(at + 4)) as string[]);
    }
  }
  return { stages, final, env, workdir, copies, ...result };
}
