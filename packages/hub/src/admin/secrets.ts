/**
 * Node secrets (SPEC §7): generated once by the hub (256 random bits), shown once, stored only as a scrypt hash
 * `scrypt$N$r$p$salt$hash` (salt and hash base64url), compared in constant time.
 *
 * scrypt costs ~70 ms of CPU per check (N = 2^14, r = 8: 16 MiB). So that a fleet reconnecting after an outage
 * does not queue behind it, a successful check is remembered as an HMAC of the secret under a key that lives only
 * in this process: the next connect with the same secret costs one HMAC. A wrong secret always pays the full
 * scrypt (the per-address rate limit bounds how often). Rotation and removal forget the node.
 */
import { createHash, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

const N = 16_384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;
const PREFIX = 'scrypt$';

/** A new random node secret (256 bits, base64url). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

/** True when `stored` is a scrypt hash as written by hashSecret (else it is a plain secret from the config file). */
export function isHashedSecret(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

function scryptAsync(secret: Buffer, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_BYTES, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Hashes a secret for storage. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(Buffer.from(secret, 'utf8'), salt, N, R, P);
  return `${PREFIX}${N}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Parses a stored hash; undefined when it is not one this module wrote (or its cost is out of range). */
function parseHash(
  stored: string,
): { n: number; r: number; p: number; salt: Buffer; key: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [n, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const ok = (v: number, max: number) => Number.isInteger(v) && v >= 1 && v <= max;
  if (!ok(n, 2 ** 20) || (n & (n - 1)) !== 0 || !ok(r, 32) || !ok(p, 16)) return undefined;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const key = Buffer.from(parts[5]!, 'base64url');
  if (salt.length < 8 || key.length !== KEY_BYTES) return undefined;
  return { n, r, p, salt, key };
}

/** True when `stored` is a well-formed scrypt hash or a plain secret (config files may hold either). */
export function isValidStoredSecret(stored: string): boolean {
  return isHashedSecret(stored) ? parseHash(stored) !== undefined : stored.length > 0;
}

const sha256 = (b: Buffer | string): Buffer => createHash('sha256').update(b).digest();

/** Checks `given` against a stored hash or plain secret, in constant time; never throws. */
export async function verifySecret(stored: string, given: Buffer | undefined): Promise<boolean> {
  if (!given || given.length === 0 || given.length > 1024) return false;
  if (!isHashedSecret(stored)) return timingSafeEqual(sha256(stored), sha256(given));
  const parsed = parseHash(stored);
  if (!parsed) return false;
  try {
    const key = await scryptAsync(given, parsed.salt, parsed.n, parsed.r, parsed.p);
    return timingSafeEqual(key, parsed.key);
  } catch {
    return false;
  }
}

/** verifySecret with a per-process memo of the last secret each node proved (see the module comment). */
export class SecretVerifier {
  /** scrypt checks run (the memo's misses); for tests and metrics */
  slowChecks = 0;
  private readonly hmacKey = randomBytes(32);
  private readonly proven = new Map<string, { stored: string; mac: Buffer }>();

  private mac(node: string, given: Buffer): Buffer {
    return createHmac('sha256', this.hmacKey).update(node).update('\u0000').update(given).digest();
  }

  /** True when `given` is the node's secret. */
  async verify(node: string, stored: string, given: Buffer | undefined): Promise<boolean> {
    if (!given) return false;
    const memo = this.proven.get(node);
    const mac = this.mac(node, given);
    if (memo && memo.stored === stored && timingSafeEqual(memo.mac, mac)) return true;
    this.slowChecks++;
    const ok = await verifySecret(stored, given);
    if (ok) this.proven.set(node, { stored, mac });
    return ok;
  }

  /** Forgets a node's proven secret (rotation, removal). */
  forget(node: string): void {
    this.proven.delete(node);
  }
}
