/** Bounded polling: every wait in the e2e tests has a deadline and says what it waited for. */

/** `T` without its falsy members: what waitFor resolves with. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/** Options of waitFor. */
export interface WaitOptions {
  /** give up after this long; default 10 s */
  readonly timeoutMs?: number;
  /** pause between attempts; default 50 ms */
  readonly intervalMs?: number;
  /** what is awaited, for the timeout error */
  readonly message?: string;
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Thrown when waitFor runs out of time; carries the last value or error seen. */
export class WaitTimeoutError extends Error {
  constructor(
    message: string,
    readonly last: unknown,
  ) {
    super(message);
    this.name = 'WaitTimeoutError';
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.length > 500 ? `${text.slice(0, 500)}…` : text;
  } catch {
    return String(value);
  }
}

/**
 * Calls `predicate` until it returns a truthy value (resolved with it) or the deadline passes (WaitTimeoutError
 * naming the last value or error). A predicate that throws is retried: a node may not be up yet.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<Truthy<T>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      const value = await predicate();
      if (value) return value as Truthy<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new WaitTimeoutError(
        `timed out after ${timeoutMs} ms (${attempt + 1} attempts) waiting for ${options.message ?? 'a condition'}; last: ${describe(last)}`,
        last,
      );
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}
