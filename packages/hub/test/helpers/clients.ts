/**
 * MQTT clients for security tests: mqtt.js for well-behaved and misbehaving nodes, raw bytes over `net`/`tls`
 * (mqtt-packet) for what mqtt.js would never send, batch builders, and the Bystander — a well-behaved edge that
 * keeps publishing batches and checking their receipts while an attack runs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import {
  decodeReceipt,
  encodeTransactionBatch,
  type Transaction,
  topics,
  type WireReceipt,
  type WireTransactionBatch,
} from '@tablemesh/core';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';

/** How to reach and authenticate. */
export interface ClientOptions {
  /** mqtt://, mqtts://, ws:// or wss:// */
  readonly url: string;
  readonly clientId: string;
  readonly password?: string;
  readonly username?: string;
  /** PEM paths */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** Connects with mqtt.js; rejects with the CONNACK or TLS error when refused. */
export function connectMqtt(options: ClientOptions): Promise<MqttClient> {
  const read = (p?: string) => (p ? readFileSync(p) : undefined);
  const opts: IClientOptions = {
    clientId: options.clientId,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 3_000,
    // [MQTT-3.1.2-22] a password needs the username flag: the username is the node id
    ...(options.password !== undefined
      ? { password: options.password, username: options.username ?? options.clientId }
      : options.username !== undefined
        ? { username: options.username }
        : {}),
    ...(options.ca ? { ca: read(options.ca) } : {}),
    ...(options.cert ? { cert: read(options.cert), key: read(options.key) } : {}),
    rejectUnauthorized: true,
  };
  const client = mqtt.connect(options.url, opts);
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once('connect', () => {
      client.off('error', fail);
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', () => fail(new Error('closed before CONNACK')));
  });
}

/** Closes a client now. */
export function end(client: MqttClient | undefined): Promise<void> {
  return new Promise((resolve) => (client ? client.end(true, {}, () => resolve()) : resolve()));
}

/** Resolves when the client's connection closes (rejects after `ms`). */
export function closed(client: MqttClient, ms = 3_000): Promise<void> {
  if (!client.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still connected after ${ms} ms`)), ms);
    client.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A transaction `seq` of `origin` putting `{ id: key, ...attrs }`. */
export function txOf(
  origin: string,
  table: string,
  epoch: string,
  seq: number,
  key: string,
  attrs: Record<string, string | number | boolean | null> = { v: seq },
  wall = Date.now(),
): Transaction {
  return {
    table,
    stamp: { wall, counter: 0, node: origin, epoch },
    seq,
    ops: [{ kind: 'put', key, attrs }],
  };
}

/** A batch of the given transactions. */
export function batchOf(
  origin: string,
  table: string,
  epoch: string,
  txs: readonly Transaction[],
): WireTransactionBatch {
  return { origin, table, epoch, primaryKey: 'id', txs, skips: [] };
}

/** Publishes QoS 1 and resolves on PUBACK. */
export function publish(client: MqttClient, topic: string, payload: Uint8Array | Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    client.publish(topic, Buffer.from(payload), { qos: 1 }, (err) => (err ? reject(err) : resolve())),
  );
}

/**
 * Subscribes QoS 1 and resolves with the SUBACK's return code per topic (128 = refused). mqtt.js reports a
 * refusal as an error carrying the SUBACK packet; the codes are read from it.
 */
export function subscribe(client: MqttClient, topicList: readonly string[]): Promise<number[]> {
  return new Promise((resolve, reject) =>
    client.subscribe([...topicList], { qos: 1 }, (err, granted, packet) => {
      const codes = (packet as { granted?: number[] } | undefined)?.granted;
      if (codes) resolve([...codes]);
      else if (err) reject(err);
      else resolve((granted ?? []).map((g) => g.qos));
    }),
  );
}

/** Collects the receipts a node receives. */
export class ReceiptInbox {
  readonly receipts: WireReceipt[] = [];
  private waiters: { test: (r: WireReceipt) => boolean; resolve: (r: WireReceipt) => void }[] = [];

  constructor(client: MqttClient, node: string) {
    const topic = topics.receipt(node);
    client.on('message', (t, payload) => {
      if (t !== topic) return;
      const receipt = decodeReceipt(payload);
      this.receipts.push(receipt);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(receipt)) return true;
        w.resolve(receipt);
        return false;
      });
    });
  }

  /** The next receipt matching `test` (one already received counts), or a timeout error. */
  next(test: (r: WireReceipt) => boolean, ms = 3_000): Promise<WireReceipt> {
    const seen = this.receipts.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching receipt within ${ms} ms`)), ms);
      this.waiters.push({
        test,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
    });
  }
}

/** What a bystander saw while it ran. */
export interface BystanderReport {
  readonly receipted: number;
  readonly failures: readonly string[];
  /** longest time between two receipts while running, ms */
  readonly maxGapMs: number;
}

/**
 * A well-behaved edge: publishes one transaction every `intervalMs` on `tm/v1/up/{node}/data.bys` and waits for
 * its receipt, for as long as it runs. Every refusal test starts one before the attack and checks afterwards that
 * receipts kept coming and the hub holds every record.
 */
export class Bystander {
  seq = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly failures: string[] = [];
  private maxGapMs = 0;
  private readonly epoch = `bys${Math.random().toString(16).slice(2, 10)}`;
  readonly inbox: ReceiptInbox;

  private constructor(
    readonly client: MqttClient,
    readonly node: string,
    private readonly countAtHub: () => Promise<number>,
    private readonly countAtStart: number,
  ) {
    this.inbox = new ReceiptInbox(client, node);
  }

  /** Connects and subscribes to its receipts; `countAtHub` counts `data.bys` at the hub. */
  static async start(
    options: ClientOptions,
    countAtHub: () => Promise<number>,
    intervalMs = 20,
  ): Promise<Bystander> {
    const client = await connectMqtt(options);
    const b = new Bystander(client, options.clientId, countAtHub, await countAtHub());
    assert.deepEqual(await subscribe(client, [topics.receipt(options.clientId)]), [1]);
    await b.step(); // replicating before the attack starts
    b.running = true;
    b.loop = (async () => {
      let last = Date.now();
      while (b.running) {
        try {
          await b.step();
          const now = Date.now();
          b.maxGapMs = Math.max(b.maxGapMs, now - last);
          last = now;
        } catch (err) {
          b.failures.push(String(err));
          if (!client.connected) return;
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
    return b;
  }

  /** Publishes the next transaction and waits for its receipt. */
  async step(): Promise<void> {
    const seq = ++this.seq;
    const table = 'data.bys';
    const key = `${this.epoch}-${seq}`;
    const batch = batchOf(this.node, table, this.epoch, [txOf(this.node, table, this.epoch, seq, key)]);
    await publish(this.client, topics.up(this.node, table), encodeTransactionBatch(batch));
    const receipt = await this.inbox.next((r) => r.epoch === this.epoch && r.appliedThrough >= seq, 5_000);
    if (receipt.errorKind !== 'none') throw new Error(`receipt ${receipt.code}: ${receipt.message}`);
  }

  /** Stops, closes the connection and reports. */
  async stop(): Promise<BystanderReport> {
    this.running = false;
    await this.loop;
    await end(this.client);
    return { receipted: this.seq - this.failures.length, failures: this.failures, maxGapMs: this.maxGapMs };
  }

  /**
   * Waits for `minReceipts` more receipts (it replicates after the attack too), stops, and asserts it kept
   * replicating: no failure, no gap between receipts over `maxGapMs`, and the hub holds every record it sent.
   */
  async assertKeptReplicating({ minReceipts = 3, maxGapMs = 2_000 } = {}): Promise<BystanderReport> {
    const target = this.seq + minReceipts;
    const deadline = Date.now() + 10_000;
    while (this.seq < target && this.failures.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const report = await this.stop();
    assert.deepEqual(report.failures, [], 'the bystander had failures');
    assert.ok(this.seq >= target, `the bystander stopped replicating at seq ${this.seq}`);
    assert.ok(report.maxGapMs <= maxGapMs, `bystander stalled for ${report.maxGapMs} ms`);
    assert.equal(
      await this.countAtHub(),
      this.countAtStart + this.seq,
      'the hub holds every bystander record',
    );
    return report;
  }
}

/** A raw MQTT connection (mqtt-packet over net or tls) for bytes mqtt.js would never send. */
export class RawClient {
  readonly packets: Packet[] = [];
  readonly closed: Promise<void>;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private waiters: (() => void)[] = [];
  bytesWritten = 0;

  private constructor(readonly socket: net.Socket) {
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      for (const w of this.waiters.splice(0)) w();
    });
    this.parser.on('error', () => {});
    socket.on('data', (d) => this.parser.parse(d));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Opens a TCP (or TLS) connection to the hub. */
  static open(port: number, tlsOptions?: tls.ConnectionOptions, localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = tlsOptions
        ? tls.connect({ host: '127.0.0.1', port, ...tlsOptions }, () => resolve(new RawClient(socket)))
        : net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) }, () =>
            resolve(new RawClient(socket)),
          );
      socket.once('error', reject);
    });
  }

  /** True until the hub (or we) closed the connection. */
  get open(): boolean {
    return !this.socket.destroyed && this.socket.readyState === 'open';
  }

  /** Writes raw bytes; false once the socket is gone. */
  write(bytes: Uint8Array): Promise<boolean> {
    if (!this.open) return Promise.resolve(false);
    this.bytesWritten += bytes.length;
    return new Promise((resolve) => this.socket.write(bytes, (err) => resolve(!err)));
  }

  /** Writes one packet. */
  send(packet: Packet): Promise<boolean> {
    return this.write(mqttPacket.generate(packet));
  }

  /** Sends CONNECT and waits for the CONNACK; returns its return code. */
  async connect(clientId: string, password?: string): Promise<number> {
    await this.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clean: true,
      keepalive: 60,
      clientId,
      ...(password !== undefined ? { username: clientId, password: Buffer.from(password) } : {}),
    });
    const connack = await this.next((p) => p.cmd === 'connack');
    return (connack as { returnCode: number }).returnCode;
  }

  /** The next packet matching `test` (or an error when the connection closes or `ms` pass). */
  async next(test: (p: Packet) => boolean, ms = 3_000): Promise<Packet> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.packets.find(test);
      if (found) return found;
      if (!this.open) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching packet within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits until the hub closes the connection; rejects after `ms`. */
  async waitClosed(ms = 3_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`connection still open after ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  destroy(): void {
    this.socket.destroy();
  }
}
