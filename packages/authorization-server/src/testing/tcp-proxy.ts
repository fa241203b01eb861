/**
 * Test support: a TCP proxy (node:net) between a server and its database, to cause an outage without
 * touching the shared PostgreSQL. `cut()` destroys every open connection and resets new ones until
 * `restore()`; nothing else changes, so the database and other people's sessions never notice.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** `databaseUrl` with its host and port replaced by the proxy's (and `application_name` set, when given). */
  urlThrough(databaseUrl: string, applicationName?: string): string;
  /** Destroys every open connection (both sides) and resets new ones until restore(). */
  cut(): void;
  /** Lets new connections through again. */
  restore(): void;
  /** Connections accepted and forwarded so far. */
  readonly forwarded: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  let forwarded = 0;
  const server = createServer((downstream) => {
    if (refusing) {
      downstream.resetAndDestroy();
      return;
    }
    forwarded++;
    const upstream = connect(target.port, target.host);
    open.add(downstream).add(upstream);
    const end = () => {
      downstream.destroy();
      upstream.destroy();
      open.delete(downstream);
      open.delete(upstream);
    };
    downstream.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    urlThrough(databaseUrl, applicationName) {
      const url = new URL(databaseUrl);
      url.hostname = '127.0.0.1';
      url.port = String(port);
      if (applicationName) url.searchParams.set('application_name', applicationName);
      return url.href;
    },
    cut() {
      refusing = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      refusing = false;
    },
    get forwarded() {
      return forwarded;
    },
    async close() {
      refusing = true;
      for (const socket of open) socket.destroy();
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
