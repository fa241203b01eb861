/**
 * Test support: a TCP proxy that can go silent, as a network partition does. `freeze()` stops forwarding on
 * every connection open at that moment and pauses both of its sockets (nothing is read, nothing is closed,
 * no error is seen by either side); connections made afterwards are forwarded normally. Listens on 127.0.0.1,
 * on a port the system chooses (`port`).
 */
import net from 'node:net';

export interface FreezingProxy {
  readonly port: number;
  /** Connections currently forwarded or frozen. */
  readonly connections: number;
  freeze(): void;
  close(): Promise<void>;
}

export async function startFreezingProxy(target: { host: string; port: number }): Promise<FreezingProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    get connections() {
      return pairs.size;
    },
    freeze() {
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
        client.removeAllListeners('close');
        upstream.removeAllListeners('close');
      }
    },
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
