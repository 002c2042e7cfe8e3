/** Parses the Prometheus text format 0.0.4 that `/metrics` answers, enough for assertions in tests. */

/** One sample: metric name, labels, value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The samples of one scrape with lookups by name and labels. */
export class Metrics {
  constructor(readonly samples: readonly Sample[]) {}

  /** Samples of `name` whose labels include every pair of `labels`. */
  find(name: string, labels: Readonly<Record<string, string>> = {}): Sample[] {
    return this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
  }

  /** The value of the one sample of `name` matching `labels`; undefined when there is none. */
  get(name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
    const found = this.find(name, labels);
    if (found.length > 1) {
      throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}; give more labels`);
    }
    return found[0]?.value;
  }

  /** The sum over the samples of `name` matching `labels` (0 when none). */
  sum(name: string, labels: Readonly<Record<string, string>> = {}): number {
    return this.find(name, labels).reduce((total, s) => total + s.value, 0);
  }
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/g;

function unescapeLabel(value: string): string {
  return value.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function parseValue(raw: string): number {
  if (raw === '+Inf') return Number.POSITIVE_INFINITY;
  if (raw === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(raw);
}

/** Parses a scrape; comment lines are skipped, a malformed sample line throws. */
export function parseMetrics(text: string): Metrics {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = SAMPLE_RE.exec(trimmed);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (m[2] ?? '').matchAll(LABEL_RE)) labels[name!] = unescapeLabel(value!);
    samples.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  return new Metrics(samples);
}
