/**
 * A userspace TCP proxy between an edge and the hub's MQTT port that can break the link, for the example's e2e
 * test (not a test file). Modes:
 *   up         bytes flow both ways
 *   blackhole  connections stay open but every byte is dropped, both ways (a dead NAT or a cut cable: the peers
 *              notice only through timeouts)
 *   down       open connections are reset and new ones are accepted and closed at once (the hub is unreachable)
 */
import net from 'node:net';

/** What the link does now. */
export type LinkMode = 'up' | 'blackhole' | 'down';

/** A running proxy. */
export interface LinkProxy {
  /** the port edges connect to (127.0.0.1) */
  readonly port: number;
  /** connections accepted so far (including the ones refused while down) */
  readonly accepted: number;
  mode: LinkMode;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (port 0) forwarding to 127.0.0.1:`targetPort`. */
export async function startLinkProxy(targetPort: number): Promise<LinkProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let mode: LinkMode = 'up';
  let accepted = 0;

  const server = net.createServer((client) => {
    accepted++;
    if (mode === 'down') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, upstream };
    pairs.add(pair);
    // Data is forwarded by hand (not pipe) so that blackhole can drop it without closing anything.
    client.on('data', (chunk) => {
      if (mode === 'up') upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (mode === 'up') client.write(chunk);
    });
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', end);
      socket.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    get accepted() {
      return accepted;
    },
    get mode() {
      return mode;
    },
    set mode(next: LinkMode) {
      mode = next;
      if (next === 'down') {
        for (const { client, upstream } of pairs) {
          client.resetAndDestroy();
          upstream.destroy();
        }
        pairs.clear();
      }
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
