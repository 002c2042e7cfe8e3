/**
 * A small metrics registry (SPEC §8 Observability): counters, gauges (set, or read from a callback at scrape
 * time) and histograms with fixed buckets, all with labels; `render()` gives the Prometheus text exposition
 * format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/). No dependency, no I/O.
 */
import { TmError } from './errors.js';

/** Label values by label name. */
export type Labels = Readonly<Record<string, string | number>>;

/** A sample a callback gauge reports. */
export interface GaugeSample {
  readonly labels?: Labels;
  readonly value: number;
}

/** Content type of `render()`'s output, for the `/metrics` response. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Prometheus' default histogram buckets (seconds). */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Escapes a label value: backslash, double quote and line feed (format 0.0.4). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escapes HELP text: backslash and line feed (format 0.0.4). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Formats a sample value: Go-style `+Inf`, `-Inf`, `NaN`; numbers otherwise. */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

function invalid(message: string): TmError {
  return new TmError('TM_INVALID_ARGUMENT', message);
}

/** Common part of every metric: name, help, label names and children by label set. */
abstract class Metric<Child> {
  protected readonly children = new Map<string, { labels: Labels; child: Child }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  abstract readonly type: 'counter' | 'gauge' | 'histogram';
  protected abstract makeChild(): Child;
  /** sample lines of this metric (without HELP/TYPE) */
  abstract samples(): string[];

  /** The child for a label set; every declared label is required and no other is allowed. */
  protected child(labels: Labels = {}): Child {
    const names = Object.keys(labels);
    if (names.length !== this.labelNames.length || names.some((n) => !this.labelNames.includes(n))) {
      throw invalid(
        `metric ${this.name} takes labels [${this.labelNames.join(', ')}], got [${names.join(', ')}]`,
      );
    }
    const id = this.labelNames.map((n) => String(labels[n])).join('\u0000');
    let entry = this.children.get(id);
    if (!entry) {
      entry = { labels: { ...labels }, child: this.makeChild() };
      this.children.set(id, entry);
    }
    return entry.child;
  }

  /** `{a="x",b="y"}` in declared label order, plus `extra` (e.g. `le`) last; empty when there are none. */
  protected labelText(labels: Labels, extra?: [string, string]): string {
    const parts = this.labelNames.map((n) => `${n}="${escapeLabelValue(String(labels[n]))}"`);
    if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
    return parts.length === 0 ? '' : `{${parts.join(',')}}`;
  }
}

/** A monotonically increasing count. */
export class Counter extends Metric<{ value: number }> {
  readonly type = 'counter';

  protected makeChild(): { value: number } {
    return { value: 0 };
  }

  /** Adds `by` (≥ 0, default 1) to the series of `labels`. */
  inc(by = 1, labels?: Labels): void {
    if (!(by >= 0)) throw invalid(`counter ${this.name} can only increase, got ${by}`);
    this.child(labels).value += by;
  }

  /** The current value of a series (0 if never incremented). */
  get(labels?: Labels): number {
    return this.child(labels).value;
  }

  samples(): string[] {
    if (this.labelNames.length === 0 && this.children.size === 0) return [`${this.name} 0`];
    return [...this.children.values()].map(
      (e) => `${this.name}${this.labelText(e.labels)} ${formatValue(e.child.value)}`,
    );
  }
}

/** A value that goes up and down; set directly or read from `collect` at render time. */
export class Gauge extends Metric<{ value: number }> {
  readonly type = 'gauge';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly collect?: () => number | readonly GaugeSample[],
  ) {
    super(name, help, labelNames);
  }

  protected makeChild(): { value: number } {
    return { value: 0 };
  }

  /** Sets the series of `labels` to `value`. */
  set(value: number, labels?: Labels): void {
    this.child(labels).value = value;
  }

  /** Adds `by` (default 1; may be negative) to the series of `labels`. */
  inc(by = 1, labels?: Labels): void {
    this.child(labels).value += by;
  }

  /** Subtracts `by` (default 1). */
  dec(by = 1, labels?: Labels): void {
    this.child(labels).value -= by;
  }

  /** The current value of a set series. */
  get(labels?: Labels): number {
    return this.child(labels).value;
  }

  samples(): string[] {
    if (this.collect) {
      const got = this.collect();
      const list: readonly GaugeSample[] = typeof got === 'number' ? [{ value: got }] : got;
      // Validate each sample's labels through child() so a bad callback fails like a bad set().
      return list.map((sample) => {
        this.child(sample.labels);
        return `${this.name}${this.labelText(sample.labels ?? {})} ${formatValue(sample.value)}`;
      });
    }
    if (this.labelNames.length === 0 && this.children.size === 0) return [`${this.name} 0`];
    return [...this.children.values()].map(
      (e) => `${this.name}${this.labelText(e.labels)} ${formatValue(e.child.value)}`,
    );
  }
}

interface HistogramChild {
  readonly counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into fixed, cumulative buckets, with their sum and count. */
export class Histogram extends Metric<HistogramChild> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    if (labelNames.includes('le')) throw invalid(`histogram ${name} cannot use the label name 'le'`);
    const sorted = [...buckets].filter((b) => b !== Number.POSITIVE_INFINITY);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= sorted[i - 1]!))) {
      throw invalid(`histogram ${name} needs finite buckets in increasing order`);
    }
    this.buckets = Object.freeze(sorted);
  }

  protected makeChild(): HistogramChild {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  /** Records one observation in the series of `labels`. */
  observe(value: number, labels?: Labels): void {
    const child = this.child(labels);
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) child.counts[i]!++;
    child.sum += value;
    child.count++;
  }

  samples(): string[] {
    const lines: string[] = [];
    for (const { labels, child } of this.children.values()) {
      this.buckets.forEach((le, i) => {
        lines.push(
          `${this.name}_bucket${this.labelText(labels, ['le', formatValue(le)])} ${child.counts[i]}`,
        );
      });
      lines.push(`${this.name}_bucket${this.labelText(labels, ['le', '+Inf'])} ${child.count}`);
      lines.push(`${this.name}_sum${this.labelText(labels)} ${formatValue(child.sum)}`);
      lines.push(`${this.name}_count${this.labelText(labels)} ${child.count}`);
    }
    return lines;
  }
}

/** Options when declaring a metric. */
export interface MetricOptions {
  readonly labelNames?: readonly string[];
}

/** Holds the metrics of one process and renders them for `/metrics`. */
export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric<unknown>>();

  /** Declares a counter. */
  counter(name: string, help: string, options?: MetricOptions): Counter {
    return this.add(new Counter(name, help, this.labelNamesOf(name, options)));
  }

  /** Declares a gauge; with `collect`, its samples are read at each render. */
  gauge(
    name: string,
    help: string,
    options?: MetricOptions & { readonly collect?: () => number | readonly GaugeSample[] },
  ): Gauge {
    return this.add(new Gauge(name, help, this.labelNamesOf(name, options), options?.collect));
  }

  /** Declares a histogram with fixed bucket upper bounds (`+Inf` is implicit). */
  histogram(
    name: string,
    help: string,
    options?: MetricOptions & { readonly buckets?: readonly number[] },
  ): Histogram {
    return this.add(
      new Histogram(name, help, this.labelNamesOf(name, options), options?.buckets ?? DEFAULT_BUCKETS),
    );
  }

  /** Every metric in the text exposition format 0.0.4, in declaration order, ending with a newline. */
  render(): string {
    const out: string[] = [];
    for (const metric of this.metrics.values()) {
      let samples: string[];
      try {
        samples = metric.samples();
      } catch {
        // A failing gauge callback must not take /metrics down; the metric is left out of this scrape.
        continue;
      }
      out.push(
        `# HELP ${metric.name} ${escapeHelp(metric.help)}`,
        `# TYPE ${metric.name} ${metric.type}`,
        ...samples,
      );
    }
    return out.length === 0 ? '' : `${out.join('\n')}\n`;
  }

  private labelNamesOf(name: string, options?: MetricOptions): readonly string[] {
    if (!METRIC_NAME_RE.test(name)) throw invalid(`invalid metric name ${JSON.stringify(name)}`);
    if (this.metrics.has(name)) throw invalid(`metric ${name} is already registered`);
    const labelNames = options?.labelNames ?? [];
    for (const label of labelNames) {
      if (!LABEL_NAME_RE.test(label) || label.startsWith('__')) {
        throw invalid(`invalid label name ${JSON.stringify(label)} on metric ${name}`);
      }
    }
    if (new Set(labelNames).size !== labelNames.length)
      throw invalid(`duplicate label names on metric ${name}`);
    return Object.freeze([...labelNames]);
  }

  private add<M extends Metric<unknown>>(metric: M): M {
    this.metrics.set(metric.name, metric);
    return metric;
  }
}
