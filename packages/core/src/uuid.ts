/** UUIDv7 (RFC 9562 §5.7): 48-bit Unix ms timestamp, version 7, variant 10, 74 random bits — generated ids (SPEC §3). */
import { randomBytes } from 'node:crypto';

/** A new UUIDv7 string; `now` and `random` are injectable for tests. */
export function uuidv7(now: number = Date.now(), random: (n: number) => Uint8Array = randomBytes): string {
  const bytes = new Uint8Array(16);
  bytes.set(random(10).subarray(0, 10), 6);
  let ms = Math.max(0, Math.floor(now));
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = 0x70 | (bytes[6]! & 0x0f); // version 7
  bytes[8] = 0x80 | (bytes[8]! & 0x3f); // variant 10
  const hex = Buffer.from(bytes).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Matches a UUIDv7 in canonical lowercase form. */
export const UUIDV7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
