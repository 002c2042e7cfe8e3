/**
 * ## Connection rate limit per source address
 * A token bucket per address: `burst` connections at once, refilled at `perSecond`. A connection over the limit
 * is closed at accept, before any TLS handshake or MQTT parsing, so a flood of connections from one address
 * costs the hub almost nothing and cannot crowd out the rest of the fleet (SPEC §7). `perSecond: 0` (or
 * `burst: 0`) turns it off, e.g. for loopback benchmarks.
 *
 * Many edges behind one NAT share an address: size `burst` for a fleet reconnecting at once after an outage.
 */

/** Limits of the bucket. */
export interface RateLimitOptions {
  readonly perSecond: number;
  readonly burst: number;
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Normalises `::ffff:127.0.0.1` to `127.0.0.1` so one client is one key. */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** Token buckets by source address. */
export class ConnectionRateLimiter {
  /** connections refused so far */
  refused = 0;
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  readonly enabled: boolean;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? Date.now;
    this.enabled = options.perSecond > 0 && options.burst > 0;
  }

  /** Takes a token for a new connection from `address`; false = refuse it. */
  take(address: string | undefined): boolean {
    if (!this.enabled) return true;
    const key = addressKey(address);
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.options.burst, at: now };
    const refill = ((now - bucket.at) / 1000) * this.options.perSecond;
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + refill);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      this.refused++;
      return false;
    }
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets addresses whose bucket is full again (indistinguishable from new ones); the listeners call it every minute. */
  sweep(now = this.now()): void {
    const fullAfterMs = (this.options.burst / this.options.perSecond) * 1000;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.at >= fullAfterMs) this.buckets.delete(key);
    }
  }

  /** Addresses tracked now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }
}
