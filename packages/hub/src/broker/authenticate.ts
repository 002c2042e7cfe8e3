/**
 * ## authenticate
 * Default: the MQTT client id is the node id, and the node must be enrolled. Then, in order:
 *   - an empty client id is refused with CONNACK 2 (identifier rejected): with clean=true MQTT 3.1.1 would let
 *     the broker assign one ([MQTT-3.1.3-6]), but here the client id *is* the identity;
 *   - a username, if sent, must equal the client id;
 *   - a verified client certificate (mutual TLS) authenticates the node when its CN equals the client id; a
 *     certificate for another CN is refused, whatever password comes with it;
 *   - otherwise the password must match the node's secret (scrypt hash, constant-time; admin/secrets.ts);
 *   - a node without a secret connects only with a certificate, or by id alone when `allowNoSecret` is set.
 * Everything else answers CONNACK 5 (not authorised), the same for an unknown node and a wrong secret.
 *
 * Authentication runs before Aedes registers the client, so a refused CONNECT never takes over a connected
 * node's session: the same client id from another identity is refused while the node stays connected.
 * The node's credential generation is remembered so the broker can drop a connection whose credentials were
 * rotated or revoked while it was authenticating (`authenticatedGeneration`).
 */
import type { Client } from 'aedes';
import type { SecretVerifier } from '../admin/secrets.js';
import type { Grants } from '../grants.js';
import type { ConnInfo } from './listeners.js';

type Done = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;

/** Why a CONNECT was refused (logged and counted; never told to the client). */
export type AuthRefusal =
  | 'empty-client-id'
  | 'unknown-node'
  | 'username-mismatch'
  | 'cert-cn-mismatch'
  | 'bad-secret'
  | 'no-credentials'
  | 'revoked-meanwhile';

/** What the hook needs. */
export interface AuthenticateDeps {
  readonly grants: Grants;
  readonly verifier: SecretVerifier;
  /** the node's credential generation: bumped on rotate, revoke and remove */
  generation(node: string): number;
  connInfo(conn: unknown): ConnInfo | undefined;
  readonly allowNoSecret: boolean;
  onRefused?(node: string, reason: AuthRefusal, info: ConnInfo | undefined): void;
}

const generations = new WeakMap<Client, number>();

/** The credential generation a client authenticated under (undefined if it never did). */
export function authenticatedGeneration(client: Client): number | undefined {
  return generations.get(client);
}

/** Builds the authenticate hook. */
export function makeAuthenticate(deps: AuthenticateDeps) {
  return (client: Client, username: string | undefined, password: Buffer | undefined, done: Done): void => {
    const id = typeof client.id === 'string' ? client.id : '';
    const info = deps.connInfo(client.conn);
    const refuse = (reason: AuthRefusal): void => {
      deps.onRefused?.(id, reason, info);
      const returnCode = reason === 'empty-client-id' ? 2 : 5;
      done(Object.assign(new Error('not authorised'), { returnCode }), false);
    };
    const generation = deps.generation(id);
    const accept = (): void => {
      if (!deps.grants.has(id) || deps.generation(id) !== generation) {
        refuse('revoked-meanwhile');
        return;
      }
      generations.set(client, generation);
      done(null, true);
    };
    if (id.length === 0 || id.startsWith('aedes_'))
      refuse('empty-client-id'); // Aedes names empty ids aedes_*
    else if (!deps.grants.has(id)) refuse('unknown-node');
    else if (username !== undefined && username !== '' && username !== id) refuse('username-mismatch');
    else if (info?.certCN !== undefined) {
      if (info.certCN === id) accept();
      else refuse('cert-cn-mismatch');
    } else {
      const stored = deps.grants.secretOf(id);
      if (stored !== undefined) {
        deps.verifier.verify(id, stored, password).then(
          (ok) => (ok ? accept() : refuse('bad-secret')),
          () => refuse('bad-secret'),
        );
      } else if (deps.allowNoSecret) accept();
      else refuse('no-credentials');
    }
  };
}
