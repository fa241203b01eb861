/**
 * What a request log line says about the request: method and path, never the query string (issue 11
 * item 16: a client secret or token sent in a URL must not reach the logs), never headers.
 */
import type { FastifyRequest } from 'fastify';

/** The request URL without its query string or fragment. */
export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/** Fastify logger `serializers.req`: `{ method, url, host, remoteAddress, remotePort }`, `url` being the path only. */
export function serializeRequestForLog(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: pathOf(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
