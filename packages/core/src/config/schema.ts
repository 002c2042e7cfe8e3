/**
 * A tiny typed schema DSL for configuration trees (SPEC §8 Configuration: one YAML file per binary, overridable by
 * environment variables and flags, validated at start with errors that name the key and the problem).
 *
 * A schema is built from `s.*` specs; `parseConfig(schema, input, source)` fills defaults, converts units and
 * returns a deeply frozen, typed object, or throws one ConfigError (TM_INVALID_CONFIG) listing **every** problem,
 * each prefixed by its key path: `publish[1].quotaBytes: expected a size like 256MiB, got "lots"`.
 *
 * Values may come from YAML (typed) or from the environment and flags (strings): numbers, durations, sizes and
 * booleans therefore also accept their string forms (`"30"`, `"10s"`, `"256MiB"`, `"true"`).
 *
 * Precedence is flags > env > file: apply `applyEnv` to the file's object, then `applyOverrides` (flags), then parse.
 */
import { TmError } from '../errors.js';
import { quote } from '../validate.js';

/** One node of a schema: parses an input value (undefined when absent) found at `path`. */
export interface Spec<T> {
  /** what the spec expects, for docs and messages */
  readonly expected: string;
  /** converts `value`; on failure pushes `path: problem` to `problems` and returns a placeholder */
  readonly parse: (value: unknown, path: string, problems: string[]) => T;
}

/** The output type of a spec. */
export type Infer<S> = S extends Spec<infer T> ? T : never;

type Fields = Record<string, Spec<unknown>>;
type OptionalKeys<F extends Fields> = { [K in keyof F]: undefined extends Infer<F[K]> ? K : never }[keyof F];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The output type of an object spec: optional specs become optional keys. */
export type ObjectOf<F extends Fields> = Simplify<
  { readonly [K in Exclude<keyof F, OptionalKeys<F>>]: Infer<F[K]> } & {
    readonly [K in OptionalKeys<F>]?: Exclude<Infer<F[K]>, undefined>;
  }
>;

/** The one error configuration loading throws: every problem, each naming its key path. */
export class ConfigError extends TmError {
  readonly problems: readonly string[];
  readonly source: string;

  constructor(source: string, problems: readonly string[]) {
    const list = problems.length === 1 ? ` ${problems[0]}` : `\n  - ${problems.join('\n  - ')}`;
    super('TM_INVALID_CONFIG', `invalid configuration (${source}):${list}`, { problems: [...problems] });
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
    this.source = source;
  }
}

/** Options every leaf spec takes. */
interface LeafOptions<T> {
  /** used when the key is absent; absent and no default means "required" */
  readonly default?: T;
}

const at = (path: string): string => (path === '' ? '(root)' : path);

/** Builds a leaf spec from a converter returning the value or a problem text (`{ problem }`). */
function leaf<T>(
  expected: string,
  options: LeafOptions<T> | undefined,
  convert: (value: unknown) => T | { readonly problem: string },
): Spec<T> {
  return {
    expected,
    parse(value, path, problems) {
      const v = value === undefined ? options?.default : value;
      if (v === undefined) {
        problems.push(`${at(path)}: is required (${expected})`);
        return undefined as T;
      }
      const out = convert(v);
      if (typeof out === 'object' && out !== null && 'problem' in out) {
        problems.push(`${at(path)}: ${(out as { problem: string }).problem}`);
        return undefined as T;
      }
      return out as T;
    },
  };
}

const got = (value: unknown): string => `got ${quote(value)}`;
const NUMERIC_RE = /^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i;

/** Numbers from YAML, or numeric strings from env/flags. */
function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && NUMERIC_RE.test(value.trim())) return Number(value.trim());
  return undefined;
}

function rangeProblem(
  n: number,
  min: number | undefined,
  max: number | undefined,
  show: string,
): string | undefined {
  if (min !== undefined && n < min) return `must be at least ${min}, got ${show}`;
  if (max !== undefined && n > max) return `must be at most ${max}, got ${show}`;
  return undefined;
}

/** Options of numeric specs. */
export interface NumberOptions extends LeafOptions<number> {
  readonly int?: boolean;
  readonly min?: number;
  readonly max?: number;
}

/** Options of duration and size specs: the default may be written with a unit (`'30d'`, `'256MiB'`). */
export interface UnitOptions {
  readonly default?: number | string;
  readonly min?: number;
  readonly max?: number;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/;
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
};
const SIZE_RE = /^(\d+(?:\.\d+)?)\s*(b|kib|mib|gib|tib|kb|mb|gb|tb)?$/i;

/** Parses `"10s"`, `"7d"`, `"500ms"`, `1500` (ms) into whole milliseconds; undefined if not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const m = DURATION_RE.exec(value.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms']!);
}

/** Parses `"256MiB"`, `"512KiB"`, `"1GB"`, `4096` (bytes) into whole bytes; undefined if not a size. */
export function parseBytes(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const m = SIZE_RE.exec(value.trim());
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]!);
}

const BOOLEANS: Record<string, boolean> = {
  true: true,
  false: false,
  '1': true,
  '0': false,
  yes: true,
  no: false,
};

/** Object options: `default` (absent object: parse `{}` so field defaults apply). */
export interface ObjectOptions {
  /** when true, an absent object is required instead of built from its field defaults */
  readonly required?: boolean;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

/** The schema builders. */
export const s = {
  /** A finite number; `int` requires a safe integer; `min`/`max` inclusive. */
  number(options?: NumberOptions): Spec<number> {
    const expected = options?.int ? 'an integer' : 'a number';
    return leaf<number>(expected, options, (v) => {
      const n = toNumber(v);
      if (n === undefined || !Number.isFinite(n)) return { problem: `expected ${expected}, ${got(v)}` };
      if (options?.int && !Number.isSafeInteger(n)) return { problem: `expected an integer, ${got(v)}` };
      const bad = rangeProblem(n, options?.min, options?.max, String(n));
      return bad ? { problem: bad } : n;
    });
  },

  /** A duration in whole ms: a number (ms) or a string with unit ms|s|m|h|d|w (`"30d"`). */
  duration(options?: UnitOptions): Spec<number> {
    const expected = 'a duration like 500ms, 10s, 5m, 7d or a number of ms';
    return leaf<number>(expected, options as LeafOptions<number> | undefined, (v) => {
      const ms = parseDuration(v);
      if (ms === undefined) return { problem: `expected ${expected}, ${got(v)}` };
      const bad = rangeProblem(ms, options?.min, options?.max, `${ms} ms`);
      return bad ? { problem: bad } : ms;
    });
  },

  /** A size in whole bytes: a number or a string with unit B|KiB|MiB|GiB|TiB|kB|MB|GB|TB (`"256MiB"`). */
  bytes(options?: UnitOptions): Spec<number> {
    const expected = 'a size like 256MiB, 512KiB or a number of bytes';
    return leaf<number>(expected, options as LeafOptions<number> | undefined, (v) => {
      const n = parseBytes(v);
      if (n === undefined) return { problem: `expected a size like 256MiB, ${got(v)}` };
      const bad = rangeProblem(n, options?.min, options?.max, `${n} bytes`);
      return bad ? { problem: bad } : n;
    });
  },

  /** A string, optionally matching `pattern` (described by `hint` in messages). */
  string(
    options?: LeafOptions<string> & { readonly pattern?: RegExp; readonly hint?: string },
  ): Spec<string> {
    const expected =
      options?.hint ?? (options?.pattern ? `a string matching ${options.pattern}` : 'a string');
    return leaf<string>(expected, options, (v) => {
      if (typeof v !== 'string') return { problem: `expected ${expected}, ${got(v)}` };
      if (options?.pattern && !options.pattern.test(v)) return { problem: `expected ${expected}, ${got(v)}` };
      return v;
    });
  },

  /** One of the given strings. */
  enumOf<const V extends string>(values: readonly V[], options?: LeafOptions<V>): Spec<V> {
    const expected = `one of ${values.join(', ')}`;
    return leaf<V>(expected, options, (v) =>
      typeof v === 'string' && (values as readonly string[]).includes(v)
        ? (v as V)
        : { problem: `expected ${expected}, ${got(v)}` },
    );
  },

  /** A boolean; from env/flags also `true|false|1|0|yes|no`. */
  boolean(options?: LeafOptions<boolean>): Spec<boolean> {
    return leaf<boolean>('true or false', options, (v) => {
      if (typeof v === 'boolean') return v;
      const b = typeof v === 'string' ? BOOLEANS[v.trim().toLowerCase()] : undefined;
      return b ?? { problem: `expected true or false, ${got(v)}` };
    });
  },

  /** A value converted by `convert`, which returns the result or throws an Error whose message is the problem. */
  custom<T>(expected: string, convert: (value: unknown) => T, options?: LeafOptions<unknown>): Spec<T> {
    return leaf<T>(expected, options as LeafOptions<T> | undefined, (v) => {
      try {
        return convert(v);
      } catch (err) {
        return { problem: err instanceof Error ? err.message : `expected ${expected}, ${got(v)}` };
      }
    });
  },

  /** An array of `item`; absent gives `default` (itself parsed), else it is required. */
  array<T>(
    item: Spec<T>,
    options?: LeafOptions<readonly unknown[]> & { readonly minItems?: number },
  ): Spec<readonly T[]> {
    const expected = `a list of ${item.expected}`;
    return {
      expected,
      parse(value, path, problems) {
        const v = value === undefined ? options?.default : value;
        if (v === undefined) {
          problems.push(`${at(path)}: is required (${expected})`);
          return Object.freeze([]);
        }
        if (!Array.isArray(v)) {
          problems.push(`${at(path)}: expected ${expected}, ${got(v)}`);
          return Object.freeze([]);
        }
        if (options?.minItems !== undefined && v.length < options.minItems) {
          problems.push(`${at(path)}: needs at least ${options.minItems} item(s)`);
        }
        return Object.freeze(v.map((x, i) => item.parse(x, `${path}[${i}]`, problems)));
      },
    };
  },

  /** An object with exactly these fields (unknown keys are errors); absent → built from field defaults. */
  object<F extends Fields>(fields: F, options?: ObjectOptions): Spec<ObjectOf<F>> {
    const expected = 'an object';
    return {
      expected,
      parse(value, path, problems) {
        if (value === undefined && options?.required) {
          problems.push(`${at(path)}: is required (${expected})`);
          return Object.freeze({}) as ObjectOf<F>;
        }
        // YAML gives null for a key with no value (`hub:`): treat it as an empty object.
        const v = value === undefined || value === null ? {} : value;
        if (!isPlainObject(v)) {
          problems.push(`${at(path)}: expected ${expected}, ${got(v)}`);
          return Object.freeze({}) as ObjectOf<F>;
        }
        const known = Object.keys(fields);
        for (const key of Object.keys(v)) {
          if (!Object.hasOwn(fields, key)) {
            problems.push(`${join(path, key)}: unknown key (known keys: ${known.join(', ')})`);
          }
        }
        const out: Record<string, unknown> = {};
        for (const key of known) {
          const parsed = fields[key]!.parse(v[key], join(path, key), problems);
          if (parsed !== undefined) out[key] = parsed;
        }
        return Object.freeze(out) as ObjectOf<F>;
      },
    };
  },

  /** Makes a spec optional: absent (or YAML null) gives undefined, which object specs omit. */
  optional<T>(spec: Spec<T>): Spec<T | undefined> {
    return {
      expected: `${spec.expected} (optional)`,
      parse: (value, path, problems) =>
        value === undefined || value === null ? undefined : spec.parse(value, path, problems),
    };
  },
};

/** Reports a cross-field problem at a key path (see parseConfig's `refine`). */
export type ReportProblem = (path: string, problem: string) => void;

/**
 * Validates `input` against `schema` and returns the frozen result. When the schema accepts the input, `refine`
 * runs cross-field checks on the typed value. Throws ConfigError (TM_INVALID_CONFIG) listing every problem;
 * `source` names where the input came from (a file path, "env", "flags"…).
 */
export function parseConfig<T>(
  schema: Spec<T>,
  input: unknown,
  source: string,
  refine?: (value: T, report: ReportProblem) => void,
): T {
  const problems: string[] = [];
  const value = schema.parse(input, '', problems);
  if (problems.length === 0 && refine)
    refine(value, (path, problem) => problems.push(`${at(path)}: ${problem}`));
  if (problems.length > 0) throw new ConfigError(source, problems);
  return value;
}

/** A path segment: an object key or an array index. */
type Segment = string | number;

function setPath(root: Record<string, unknown>, segments: readonly Segment[], value: unknown): void {
  let node: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    const slot = node as Record<string | number, unknown>;
    if (last) {
      slot[seg] = value;
      return;
    }
    const nextIsIndex = typeof segments[i + 1] === 'number';
    const existing = slot[seg];
    // Copy on write: the caller's input is never mutated.
    const copy: Record<string, unknown> | unknown[] = Array.isArray(existing)
      ? [...existing]
      : isPlainObject(existing)
        ? { ...existing }
        : nextIsIndex
          ? []
          : {};
    slot[seg] = copy;
    node = copy;
  }
}

const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

function cloneRoot(input: unknown): Record<string, unknown> {
  return isPlainObject(input) ? { ...input } : {};
}

/** Env and flag values: JSON for `[…]`/`{…}` (lists, objects), otherwise the raw string. */
function envValue(raw: string): unknown {
  const t = raw.trim();
  if (t.startsWith('[') || t.startsWith('{')) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return raw;
    }
  }
  return raw;
}

/** `CONNECT_TIMEOUT_MS` → `connectTimeoutMs`; `0` → index 0. */
function envSegment(word: string): Segment {
  if (/^\d+$/.test(word)) return Number(word);
  return word.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Overlays environment variables on a config object (returns a copy). Mapping, for `prefix` `TM_EDGE_`:
 * - the prefix is stripped; `__` (double underscore) separates nesting levels;
 * - each level is lowercased and `_x` becomes `X` (camelCase): `TM_EDGE_HUB__CONNECT_TIMEOUT_MS` → `hub.connectTimeoutMs`;
 * - an all-digit level is an array index: `TM_EDGE_PUBLISH__0__QUOTA_BYTES=64MiB` → `publish[0].quotaBytes`;
 * - a value starting with `[` or `{` is parsed as JSON (`TM_EDGE_SUBSCRIBE=[{"table":"thresholds"}]`), any
 *   other value stays a string (the schema converts numbers, sizes, durations and booleans).
 * Names in `ignore` (e.g. `TM_EDGE_CONFIG`, the file path) are skipped. Returns the names of the variables used,
 * for error messages.
 */
export function applyEnv(
  input: unknown,
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
  ignore: readonly string[] = [],
): { config: Record<string, unknown>; used: string[] } {
  const config = cloneRoot(input);
  const used: string[] = [];
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    if (!name.startsWith(prefix) || raw === undefined || name.length === prefix.length) continue;
    if (ignore.includes(name)) continue;
    const segments = name.slice(prefix.length).split('__').map(envSegment);
    if (segments.some((seg) => seg === '' || FORBIDDEN_SEGMENTS.has(String(seg)))) continue;
    setPath(config, segments, envValue(raw));
    used.push(name);
  }
  return { config, used };
}

/** Splits `hub.url`, `publish[1].quotaBytes` or `publish.1.quotaBytes` into segments; undefined if malformed. */
export function parseKeyPath(path: string): Segment[] | undefined {
  const segments: Segment[] = [];
  for (const part of path.split('.')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)?((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      if (/^\d+$/.test(part)) {
        segments.push(Number(part));
        continue;
      }
      return undefined;
    }
    if (m[1] !== undefined) segments.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) segments.push(Number(idx[1]));
    if (m[1] === undefined && m[2] === '') return undefined;
  }
  if (segments.length === 0 || segments.some((seg) => FORBIDDEN_SEGMENTS.has(String(seg)))) return undefined;
  return segments;
}

/**
 * Overlays flag overrides (`{ 'hub.url': 'mqtt://…', 'publish[0].quotaBytes': '64MiB' }`) on a config object and
 * returns a copy. String values starting with `[`/`{` are parsed as JSON. Throws ConfigError on a malformed path.
 */
export function applyOverrides(
  input: unknown,
  overrides: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const config = cloneRoot(input);
  const problems: string[] = [];
  for (const [path, value] of Object.entries(overrides)) {
    const segments = parseKeyPath(path);
    if (!segments) {
      problems.push(`${quote(path)}: not a key path like hub.url or publish[0].quotaBytes`);
      continue;
    }
    setPath(config, segments, typeof value === 'string' ? envValue(value) : value);
  }
  if (problems.length > 0) throw new ConfigError('flags', problems);
  return config;
}

/** Parses `key=value` pairs (what `--set key=value` flags give) into an overrides object; ConfigError if malformed. */
export function parseOverridePairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) problems.push(`${quote(pair)}: expected key=value, e.g. hub.url=mqtts://hub:8883`);
    else out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (problems.length > 0) throw new ConfigError('flags', problems);
  return out;
}
