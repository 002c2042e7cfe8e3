/**
 * ## authorizePublish
 * Default (I15): a node publishes only on its own topics: `tm/v1/up/{itself}/{table}`, `tm/v1/sync/{itself}`,
 * `tm/v1/presence/{itself}`. Anything else is refused (Aedes then closes the connection — only a misbehaving
 * client does this). Whether the node is granted the *table* is decided at ingest, where a refusal is a
 * transient `TM_NOT_GRANTED` receipt (I11) that holds the outbox instead of dropping the link.
 */

import { parseTopic } from '@tablemesh/core';
import type { Client, PublishPacket } from 'aedes';

/** Builds the authorizePublish hook. */
export function makeAuthorizePublish() {
  return (client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void => {
    if (!client) {
      callback(null);
      return;
    } // the hub's own publications
    try {
      const topic = parseTopic(packet.topic);
      const own = topic.kind === 'up' || topic.kind === 'sync' || topic.kind === 'presence';
      if (own && topic.node === client.id) {
        callback(null);
        return;
      }
    } catch {
      // not a protocol topic: refused below
    }
    callback(new Error(`node '${client.id}' may not publish on '${packet.topic}'`));
  };
}
