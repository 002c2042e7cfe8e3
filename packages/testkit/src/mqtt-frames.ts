/**
 * Just enough MQTT 3.1.1 framing for the fault proxy: split a TCP byte stream into whole control packets, read a
 * PUBLISH packet's topic, QoS and packet id, and build the PUBACK that answers it. Nothing is validated beyond
 * the framing: the proxy forwards what it does not drop byte for byte.
 */

/** MQTT control packet types ([MQTT-2.2.1]). */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  SUBSCRIBE: 8,
  SUBACK: 9,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

/** The fields of a PUBLISH packet the proxy's rules look at. */
export interface PublishInfo {
  readonly topic: string;
  readonly qos: number;
  /** present when qos > 0 */
  readonly packetId?: number;
}

/** The control packet type of a whole packet (high nibble of the first byte). */
export function packetType(packet: Buffer): number {
  return packet[0]! >> 4;
}

/** Reads a PUBLISH packet's topic, QoS and packet id; undefined for other packets or a malformed one. */
export function readPublish(packet: Buffer): PublishInfo | undefined {
  if (packetType(packet) !== PacketType.PUBLISH) return undefined;
  const qos = (packet[0]! >> 1) & 0x03;
  let at = 1;
  while (at < packet.length && packet[at]! & 0x80) at++; // remaining-length varint
  at++;
  if (at + 2 > packet.length) return undefined;
  const topicLength = packet.readUInt16BE(at);
  at += 2;
  if (at + topicLength > packet.length) return undefined;
  const topic = packet.toString('utf8', at, at + topicLength);
  at += topicLength;
  if (qos === 0) return { topic, qos };
  if (at + 2 > packet.length) return undefined;
  return { topic, qos, packetId: packet.readUInt16BE(at) };
}

/** A PUBACK for `packetId` ([MQTT-3.4]). */
export function pubackPacket(packetId: number): Buffer {
  return Buffer.from([PacketType.PUBACK << 4, 2, packetId >> 8, packetId & 0xff]);
}

/** Splits a byte stream into whole MQTT control packets; keeps partial packets until the rest arrives. */
export class MqttFramer {
  private pending: Buffer = Buffer.alloc(0);

  /** Adds bytes; returns the packets completed by them, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const packets: Buffer[] = [];
    let start = 0;
    for (;;) {
      const size = packetSize(this.pending, start);
      if (size === undefined || start + size > this.pending.length) break;
      packets.push(this.pending.subarray(start, start + size));
      start += size;
    }
    this.pending = start === 0 ? this.pending : this.pending.subarray(start);
    return packets;
  }

  /** Bytes held back as part of an unfinished packet. */
  get buffered(): number {
    return this.pending.length;
  }
}

/** Total size of the packet starting at `start`, or undefined when its header is not complete yet. */
function packetSize(buf: Buffer, start: number): number | undefined {
  let multiplier = 1;
  let remaining = 0;
  for (let i = 1; i <= 4; i++) {
    const at = start + i;
    if (at >= buf.length) return undefined;
    const byte = buf[at]!;
    remaining += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) return 1 + i + remaining;
    multiplier *= 128;
  }
  // [MQTT-2.2.3] at most four length bytes: not MQTT. Treat the rest as one opaque packet.
  return buf.length - start;
}
