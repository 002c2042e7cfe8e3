/**
 * The edge's local HTTP API (SPEC §8). It binds 127.0.0.1 by default; config refuses another host without
 * `allowRemote` and a token (SPEC §7). The socket handling is @tablemesh/runtime's, every decision is core's.
 */
import {
  type HttpServerHandle,
  type StartHttpOptions as ServerOptions,
  startHttpServer,
} from '@tablemesh/runtime';

export { BODY_SLACK_BYTES, type HttpLogger, type HttpServerHandle } from '@tablemesh/runtime';

/** Options of the edge's HTTP API. */
export type StartHttpOptions = Omit<ServerOptions, 'role' | 'requireToken'>;

/** Starts the edge's HTTP API; resolves once listening. */
export function startHttp(options: StartHttpOptions): Promise<HttpServerHandle> {
  return startHttpServer({ ...options, role: 'edge' });
}
