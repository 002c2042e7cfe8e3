/**
 * The admin HTTP API (SPEC §8, `tablemesh nodes …`), served by the hub's HTTP server behind its bearer token:
 *
 *   GET    /_admin/nodes                       → 200 {nodes: [node…]}
 *   POST   /_admin/nodes        {id, publish?, subscribe?}
 *                                              → 201 {node, secret}   (the secret is shown this once)
 *   GET    /_admin/nodes/{id}                  → 200 {node}
 *   DELETE /_admin/nodes/{id}                  → 200 {message}         (disconnects the node now)
 *   POST   /_admin/nodes/{id}/rotate           → 200 {node, secret}    (old secret dead, node disconnected)
 *   POST   /_admin/nodes/{id}/grant  {table, publish?, subscribe?}   → 200 {node}
 *   POST   /_admin/nodes/{id}/revoke {table, publish?, subscribe?}   → 200 {node}  (disconnects the node now)
 *
 * A node is `{id, source, publish, subscribe, hasSecret, createdMs?, rotatedMs?, connected}`. Errors are
 * `{error, code}`: 400 TM_INVALID_*, 404 TM_NOT_FOUND, 409 TM_NODE_EXISTS / TM_CONFIG_NODE.
 */
import { errorResponse, type RestRequest, type RestResponse, TmError } from '@tablemesh/core';
import type { EnrolledNode, Enrolment, GrantChange } from './enrolment.js';

/** Path prefix of the admin API. */
export const ADMIN_PREFIX = '/_admin/';

/** What the routes need. */
export interface AdminRouteDeps {
  readonly enrolment: Enrolment;
  isConnected(node: string): boolean;
  readonly onInternalError?: (err: unknown) => void;
}

type Handler = (req: RestRequest) => Promise<RestResponse>;

function bad(message: string): never {
  throw new TmError('TM_INVALID_ARGUMENT', message);
}

function objectBody(req: RestRequest): Record<string, unknown> {
  const body = req.body ?? {};
  if (typeof body !== 'object' || Array.isArray(body)) bad('the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function tableList(body: Record<string, unknown>, key: string): string[] {
  const value = body[key] ?? [];
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string')) {
    bad(`${key} must be a list of table names`);
  }
  return value as string[];
}

function grantChange(body: Record<string, unknown>): { table: string; change: GrantChange } {
  const { table, publish, subscribe } = body;
  if (typeof table !== 'string') bad('table is required: "table" or "db.table"');
  for (const [k, v] of [
    ['publish', publish],
    ['subscribe', subscribe],
  ] as const) {
    if (v !== undefined && typeof v !== 'boolean') bad(`${k} must be true or false`);
  }
  return {
    table,
    change: {
      ...(publish !== undefined ? { publish: publish as boolean } : {}),
      ...(subscribe !== undefined ? { subscribe: subscribe as boolean } : {}),
    },
  };
}

const methodNotAllowed = (allow: string): RestResponse => ({
  status: 405,
  headers: { allow },
  body: { error: `method not allowed; use ${allow}`, code: 'TM_INVALID_ARGUMENT' },
});

/** Handles one admin request (path under ADMIN_PREFIX); never throws. */
export async function handleAdmin(deps: AdminRouteDeps, req: RestRequest): Promise<RestResponse> {
  const view = (node: EnrolledNode) => ({ ...node, connected: deps.isConnected(node.id) });
  const { enrolment } = deps;
  try {
    const segments = req.path.slice(ADMIN_PREFIX.length).split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method.toUpperCase();
    if (segments[0] !== 'nodes' || segments.length > 3) {
      throw new TmError('TM_NOT_FOUND', `no admin route ${req.path}; see /_admin/nodes`);
    }
    const [, id, action] = segments;
    if (id === undefined) {
      if (method === 'GET') return { status: 200, body: { nodes: enrolment.list().map(view) } };
      if (method !== 'POST') return methodNotAllowed('GET, POST');
      const body = objectBody(req);
      if (typeof body['id'] !== 'string') bad('id is required: the node id (also its MQTT client id)');
      const { node, secret } = await enrolment.add(body['id'], {
        publish: tableList(body, 'publish'),
        subscribe: tableList(body, 'subscribe'),
      });
      return { status: 201, body: { node: view(node), secret } };
    }
    if (action === undefined) {
      if (method === 'GET') {
        const node = enrolment.get(id);
        if (!node) throw new TmError('TM_NOT_FOUND', `no node '${id}' is enrolled`);
        return { status: 200, body: { node: view(node) } };
      }
      if (method !== 'DELETE') return methodNotAllowed('GET, DELETE');
      await enrolment.remove(id);
      return { status: 200, body: { message: `node '${id}' removed and disconnected` } };
    }
    if (method !== 'POST') return methodNotAllowed('POST');
    if (action === 'rotate') {
      const { node, secret } = await enrolment.rotate(id);
      return { status: 200, body: { node: view(node), secret } };
    }
    if (action === 'grant' || action === 'revoke') {
      const { table, change } = grantChange(objectBody(req));
      const node =
        action === 'grant'
          ? await enrolment.grant(id, table, change)
          : await enrolment.revoke(id, table, change);
      return { status: 200, body: { node: view(node) } };
    }
    throw new TmError('TM_NOT_FOUND', `no admin action '${action}': use rotate, grant or revoke`);
  } catch (err) {
    return errorResponse(err, deps.onInternalError);
  }
}

/**
 * Wraps the hub's REST handler: admin paths go to handleAdmin, everything else to `rest`. The HTTP front has
 * already checked the bearer token (SPEC §7: always required on the hub).
 */
export function withAdminRoutes(deps: AdminRouteDeps, rest: Handler): Handler {
  return (req) => (req.path.startsWith(ADMIN_PREFIX) ? handleAdmin(deps, req) : rest(req));
}
