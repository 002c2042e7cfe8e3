/**
 * The hub's security wiring in one place, so hub.ts needs only a few lines: the enrolment store (admin/),
 * the broker's listener, authentication and limit options (broker/), the admin routes on the HTTP API, and the
 * security metrics. SPEC §7, I15.
 */
import {
  handleRest,
  type MetricsRegistry,
  type RestDeps,
  type RestRequest,
  type RestResponse,
  type Store,
} from '@tablemesh/core';
import type { Logger } from 'pino';
import { Enrolment } from './admin/enrolment.js';
import { withAdminRoutes } from './admin/routes.js';
import type { Broker, BrokerOptions } from './broker/broker.js';
import type { HubConfig } from './config.js';
import type { Grants } from './grants.js';

/** Counters of refused CONNECTs by reason (authenticate.ts). */
export type AuthRefusals = Map<string, number>;

/** Opens the enrolment store (admin-enrolled nodes + config nodes) and fills `grants`. */
export async function openEnrolment(
  config: HubConfig,
  store: Store,
  grants: Grants,
  log: Logger,
  broker: () => Broker | undefined,
): Promise<Enrolment> {
  const enrolment = await Enrolment.open(
    store,
    grants,
    config.nodes.map((n) => ({
      id: n.id,
      ...(n.secret !== undefined ? { secret: n.secret } : {}),
      publish: n.publish,
      subscribe: n.subscribe,
    })),
    {
      hubNodeId: config.nodeId,
      disconnect: (node) => broker()?.disconnect(node),
      forgetSecret: (node) => broker()?.verifier.forget(node),
      log,
    },
  );
  const secretless = enrolment.list().filter((n) => !n.hasSecret);
  if (secretless.length > 0) {
    const nodes = secretless.map((n) => n.id);
    if (config.mqtt.allowNoSecret) {
      log.warn(
        { nodes },
        'mqtt.allowNoSecret: these nodes connect by client id alone — closed networks only',
      );
    } else if (!config.mqtt.tls?.requestCert) {
      log.warn({ nodes }, 'nodes without a secret need mutual TLS (mqtt.tls.requestCert), which is off');
    }
  }
  return enrolment;
}

/** The broker options SPEC §7 asks for, from the config. */
export function brokerSecurityOptions(
  config: HubConfig,
  enrolment: Enrolment,
  log: Logger,
  refusals: AuthRefusals = new Map(),
): Pick<BrokerOptions, 'listeners' | 'allowNoSecret' | 'generation' | 'onAuthRefused'> {
  const tls = config.mqtt.tls;
  return {
    listeners: {
      ...(tls ? { tls } : {}),
      ...(config.mqtt.ws ? { ws: config.mqtt.ws } : {}),
      maxPacketBytes: config.limits.maxPacketBytes,
      connectionRate: config.mqtt.connectionRate,
      log,
    },
    allowNoSecret: config.mqtt.allowNoSecret,
    generation: (node) => enrolment.generation(node),
    onAuthRefused: (node, reason, info) => {
      refusals.set(reason, (refusals.get(reason) ?? 0) + 1);
      log.warn({ node, reason, transport: info?.transport, address: info?.address }, 'mqtt connect refused');
    },
  };
}

/** The HTTP API's handler: admin routes, then `rest` (REST deps or a handler). */
export function restWithAdmin(
  enrolment: Enrolment,
  broker: () => Broker | undefined,
  rest: RestDeps | ((req: RestRequest) => Promise<RestResponse>),
  log: Logger,
): (req: RestRequest) => Promise<RestResponse> {
  const onInternalError = (err: unknown) => log.error({ err }, 'http request failed');
  const inner =
    typeof rest === 'function' ? rest : (req: RestRequest) => handleRest({ onInternalError, ...rest }, req);
  return withAdminRoutes(
    { enrolment, isConnected: (node) => broker()?.isConnected(node) === true, onInternalError },
    inner,
  );
}

/** Registers the listener and authentication counters. */
export function registerSecurityMetrics(m: MetricsRegistry, broker: Broker, refusals: AuthRefusals): void {
  const s = broker.stats;
  m.gauge('tablemesh_mqtt_connections_refused_total', 'MQTT connections ended before or at CONNECT', {
    labelNames: ['reason'],
    collect: () => [
      { labels: { reason: 'rate_limited' }, value: s.rateLimited },
      { labels: { reason: 'packet_too_large' }, value: s.packetTooLarge },
      { labels: { reason: 'malformed_length' }, value: s.malformedLength },
      { labels: { reason: 'tls_failed' }, value: s.tlsFailures },
      { labels: { reason: 'tls_handshake_timeout' }, value: s.tlsHandshakeTimeouts },
      ...[...refusals].map(([reason, value]) => ({ labels: { reason: reason.replaceAll('-', '_') }, value })),
    ],
  });
  m.gauge(
    'tablemesh_mqtt_refused_bytes_read_max',
    'most bytes of an oversized packet read before the guard closed its connection (SPEC §7: before Aedes buffers)',
    { collect: () => s.refusedBytesReadMax },
  );
  m.gauge('tablemesh_mqtt_connections_accepted_total', 'MQTT connections accepted by the listeners', {
    collect: () => s.accepted,
  });
  m.gauge('tablemesh_secret_checks_total', 'scrypt secret checks run (memo misses)', {
    collect: () => broker.verifier.slowChecks,
  });
}
