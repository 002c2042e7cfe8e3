/**
 * ## authorizeSubscribe
 * Default (I15): a node subscribes only to its own receipt and catch-up topics and to feeds of tables it is
 * granted to subscribe. Wildcards, `$SYS`, `$share` and everything else are refused with `cb(null, null)`,
 * which answers SUBACK 0x80 and keeps the connection (an error would drop it).
 */

import { parseTopic } from '@tablemesh/core';
import type { Client, Subscription } from 'aedes';
import type { Grants } from '../grants.js';

/** Builds the authorizeSubscribe hook. */
export function makeAuthorizeSubscribe(grants: Grants, onRefused?: (node: string, topic: string) => void) {
  return (
    client: Client,
    sub: Subscription,
    callback: (error: Error | null, subscription?: Subscription | null) => void,
  ): void => {
    try {
      const topic = parseTopic(sub.topic);
      const own = (topic.kind === 'receipt' || topic.kind === 'catchup') && topic.node === client.id;
      const feed = topic.kind === 'feed' && grants.canSubscribe(client.id, topic.table);
      if (own || feed) {
        callback(null, { ...sub, qos: 1 });
        return;
      }
    } catch {
      // wildcards, $SYS, $share and foreign topics fail to parse: refused below
    }
    onRefused?.(client.id, sub.topic);
    callback(null, null);
  };
}
