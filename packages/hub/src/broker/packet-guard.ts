/**
 * ## Packet-size guard
 * Aedes' parser (mqtt-packet) has no size limit: it buffers a packet until its declared remaining length has
 * arrived, so one PUBLISH declaring 200 MiB would make the hub hold 200 MiB for that socket. The guard reads
 * the MQTT fixed header of every packet as bytes arrive — before Aedes sees them — and ends the connection as
 * soon as a declared packet is larger than `maxPacketBytes` (SPEC §7) or its length field is malformed
 * ([MQTT-2.2.3]: at most four bytes).
 *
 * `PacketScanner` is the pure state machine; `guardStream` attaches it to a socket (TCP, TLS or the duplex of a
 * WebSocket) by wrapping the stream's `push`, which the stream's own I/O calls with each chunk read from the
 * kernel (net, tls) or each WebSocket message (ws). A wrapper stream would cost another stream object and a copy
 * per connection; this costs one closure and one small object.
 */
import type { Duplex } from 'node:stream';

/** Why a connection was ended by the guard. */
export type GuardRefusal = 'packet-too-large' | 'malformed-length';

/** The scanner's verdict on one chunk. */
export type ScanResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: GuardRefusal; readonly declaredBytes: number };

const OK: ScanResult = { ok: true };

/** Follows MQTT packet boundaries through a byte stream and checks each packet's declared size. */
export class PacketScanner {
  /** bytes scanned so far */
  bytesRead = 0;
  /** value of bytesRead where the current packet started */
  private packetStart = 0;
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  constructor(private readonly maxPacketBytes: number) {}

  /** Bytes of the current packet read so far (for a refused packet: up to the end of the chunk that showed it). */
  get packetBytesRead(): number {
    return this.bytesRead - this.packetStart;
  }

  /** Scans the next chunk; after a refusal the scanner must not be fed again. */
  scan(chunk: Uint8Array): ScanResult {
    this.bytesRead += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        if (this.bodyLeft === 0) this.state = 'type';
      } else if (this.state === 'type') {
        this.packetStart = this.bytesRead - chunk.length + i;
        i++; // the first byte (type and flags) is Aedes' to judge
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else {
        const byte = chunk[i++]!;
        this.length += (byte & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (byte & 0x80) {
          // [MQTT-2.2.3] the remaining length takes at most four bytes
          if (this.lengthBytes === 4) return { ok: false, reason: 'malformed-length', declaredBytes: -1 };
          continue;
        }
        const total = 1 + this.lengthBytes + this.length;
        if (total > this.maxPacketBytes) {
          return { ok: false, reason: 'packet-too-large', declaredBytes: total };
        }
        this.bodyLeft = this.length;
        this.state = this.length === 0 ? 'type' : 'body';
      }
    }
    return OK;
  }
}

/** What the guard reports when it ends a connection. */
export interface GuardEvent {
  readonly reason: GuardRefusal;
  /** declared size of the refused packet in bytes (-1 when the length field was malformed) */
  readonly declaredBytes: number;
  /** bytes read from the connection before it was ended, the refused chunk included */
  readonly bytesRead: number;
  /** of those, bytes of the refused packet (from its first byte to the end of the chunk that showed it) */
  readonly packetBytesRead: number;
}

/**
 * Attaches a PacketScanner to `stream`: every chunk is scanned before it is buffered; a refused chunk is never
 * buffered and the stream is destroyed at once.
 */
export function guardStream(
  stream: Duplex,
  maxPacketBytes: number,
  onRefused: (e: GuardEvent) => void,
): void {
  const scanner = new PacketScanner(maxPacketBytes);
  const push = stream.push;
  let refused = false;
  stream.push = function guardedPush(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (refused) return false;
    if (chunk !== null && chunk !== undefined) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : (chunk as Uint8Array);
      const result = scanner.scan(bytes);
      if (!result.ok) {
        refused = true;
        stream.destroy();
        onRefused({
          reason: result.reason,
          declaredBytes: result.declaredBytes,
          bytesRead: scanner.bytesRead,
          packetBytesRead: scanner.packetBytesRead,
        });
        return false;
      }
    }
    return push.call(this, chunk, encoding);
  };
}
