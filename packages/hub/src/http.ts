/**
 * The hub's data and admin HTTP API (SPEC §8). It always requires a bearer token (SPEC §7); only `/health` answers
 * without it (liveness probes). The socket handling is @tablemesh/runtime's, every decision is core's.
 */
import {
  type HttpServerHandle,
  type StartHttpOptions as ServerOptions,
  startHttpServer,
} from '@tablemesh/runtime';

export { BODY_SLACK_BYTES, type HttpLogger, type HttpServerHandle } from '@tablemesh/runtime';

/** Options of the hub's HTTP API. */
export type StartHttpOptions = Omit<ServerOptions, 'role' | 'requireToken'> & { readonly token: string };

/** Starts the hub's HTTP API; resolves once listening. */
export function startHttp(options: StartHttpOptions): Promise<HttpServerHandle> {
  return startHttpServer({ ...options, role: 'hub', requireToken: true });
}
