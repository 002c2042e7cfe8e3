/**
 * MQTT topic layout (SPEC §6). Every name in a topic is validated first, so topics never contain
 * `/ + # $` or NUL from user input.
 */
import { TmError } from './errors.js';
import { assertName, parseTableRef } from './validate.js';

/** Topic root and protocol version segment. */
export const TOPIC_ROOT = 'tm/v1';

const table = (ref: string): string => {
  const { database, table: name } = parseTableRef(ref);
  return `${database}.${name}`;
};
const node = (id: string): string => assertName('node', id);

/** Builders of every topic of the protocol. */
export const topics = {
  /** edge → hub: batches of transactions and SKIP ranges */
  up: (nodeId: string, tableRef: string): string => `${TOPIC_ROOT}/up/${node(nodeId)}/${table(tableRef)}`,
  /** hub → edge: receipts */
  receipt: (nodeId: string): string => `${TOPIC_ROOT}/receipt/${node(nodeId)}`,
  /** edge → hub: hello, sync requests, cursor reports */
  sync: (nodeId: string): string => `${TOPIC_ROOT}/sync/${node(nodeId)}`,
  /** hub → edge: welcome, catch-up and snapshot pages */
  catchup: (nodeId: string): string => `${TOPIC_ROOT}/catchup/${node(nodeId)}`,
  /** hub → edges: live feed batches and head heartbeats of one table */
  feed: (tableRef: string): string => `${TOPIC_ROOT}/feed/${table(tableRef)}`,
  /** retained presence and last will of a node */
  presence: (nodeId: string): string => `${TOPIC_ROOT}/presence/${node(nodeId)}`,
} as const;

/** A parsed protocol topic. */
export type ParsedTopic =
  | { readonly kind: 'up'; readonly node: string; readonly table: string }
  | { readonly kind: 'receipt' | 'sync' | 'catchup' | 'presence'; readonly node: string }
  | { readonly kind: 'feed'; readonly table: string };

/** Parses a protocol topic; throws TM_INVALID_NAME for anything that is not one. */
export function parseTopic(topic: string): ParsedTopic {
  const parts = topic.split('/');
  if (parts.length < 4 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) {
    throw new TmError('TM_INVALID_NAME', `not a tablemesh topic: ${JSON.stringify(topic)}`);
  }
  const kind = parts[2];
  if (kind === 'up' && parts.length === 5) {
    return { kind, node: node(parts[3]!), table: table(parts[4]!) };
  }
  if (parts.length === 4) {
    if (kind === 'feed') return { kind, table: table(parts[3]!) };
    if (kind === 'receipt' || kind === 'sync' || kind === 'catchup' || kind === 'presence') {
      return { kind, node: node(parts[3]!) };
    }
  }
  throw new TmError('TM_INVALID_NAME', `not a tablemesh topic: ${JSON.stringify(topic)}`);
}
