/**
 * HTTP timeouts and the per-address connection ceiling (issue 11 item 4): a client that sends its
 * headers or body slowly, or holds idle connections, is cut off instead of holding sockets forever.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionLimits } from '../options.ts';

/**
 * The Fastify constructor options that apply the timeouts. Node checks the headers and request timeouts
 * every `connectionsCheckingInterval` (30 s by default, which would double a 30 s timeout): here a
 * quarter of the shorter timeout, at most 1 s.
 */
export function connectionTimeoutOptions(limits: ConnectionLimits) {
  const checkingIntervalMilliseconds = Math.max(10, Math.min(1000, Math.floor(limits.headersTimeoutMilliseconds / 4)));
  return {
    connectionTimeout: limits.socketIdleTimeoutMilliseconds,
    keepAliveTimeout: limits.keepAliveTimeoutMilliseconds,
    requestTimeout: limits.requestTimeoutMilliseconds,
    http: {
      headersTimeout: limits.headersTimeoutMilliseconds,
      requestTimeout: limits.requestTimeoutMilliseconds,
      connectionsCheckingInterval: checkingIntervalMilliseconds,
    },
  };
}

/**
 * Closes, as soon as it is accepted, any connection beyond `maxConnectionsPerAddress` open connections
 * from one remote address (0 = no ceiling).
 */
export function limitConnectionsPerAddress(server: Server, maxConnectionsPerAddress: number): void {
  if (maxConnectionsPerAddress === 0) return;
  const openByAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const open = (openByAddress.get(address) ?? 0) + 1;
    if (open > maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    openByAddress.set(address, open);
    socket.once('close', () => {
      const remaining = (openByAddress.get(address) ?? 1) - 1;
      if (remaining > 0) openByAddress.set(address, remaining);
      else openByAddress.delete(address);
    });
  });
}
