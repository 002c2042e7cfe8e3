/** Counters of a reliability run, sampled from the nodes' /metrics while processes come and go. */

/** Counters sampled from /metrics; a value that went down is a restart, so totals add up across restarts. */
export class CounterTracker {
  private readonly totals = new Map<string, { base: number; last: number }>();

  /** Records one scrape of `node`. */
  observe(node: string, values: Readonly<Record<string, number>>): void {
    for (const [name, value] of Object.entries(values)) {
      const id = `${node}\0${name}`;
      const t = this.totals.get(id) ?? { base: 0, last: 0 };
      if (value < t.last) t.base += t.last; // the process restarted
      t.last = value;
      this.totals.set(id, t);
    }
  }

  /** Total of `name` over every node (or one), across restarts (a lower bound: a SIGKILL loses the tail). */
  total(name: string, node?: string): number {
    let sum = 0;
    for (const [id, t] of this.totals) {
      const [n, m] = id.split('\0');
      if (m === name && (node === undefined || n === node)) sum += t.base + t.last;
    }
    return sum;
  }
}
