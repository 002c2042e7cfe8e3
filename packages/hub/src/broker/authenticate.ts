/**
 * ## authenticate
 * Default: the MQTT client id is the node id; it must be enrolled, and its secret (MQTT password) must match
 * when one is configured. An empty client id is refused ([MQTT-3.1.3-8] with clean=true we still refuse:
 * identity is the client id). Refusal answers CONNACK 5 (not authorised).
 */
import type { Client } from 'aedes';
import type { Grants } from '../grants.js';

type Done = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;

/** Builds the authenticate hook. */
export function makeAuthenticate(grants: Grants) {
  return (client: Client, username: string | undefined, password: Buffer | undefined, done: Done): void => {
    const id = client.id;
    const ok = typeof id === 'string' && id.length > 0 && grants.has(id) && grants.checkSecret(id, password);
    if (ok && (username === undefined || username === id)) {
      done(null, true);
      return;
    }
    const err = Object.assign(new Error('not authorised'), { returnCode: 5 });
    done(err, false);
  };
}
