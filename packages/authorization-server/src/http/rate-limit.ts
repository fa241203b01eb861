/**
 * Rate limits at the token, revocation and introspection endpoints (SPEC decision 18): a preHandler that
 * counts each request, before client authentication, against two fixed windows of the endpoint — the
 * client_id the request presents (HTTP Basic or the body's `client_id`, whether or not it authenticates:
 * guessing costs attempts) and the address it comes from (`request.ip`, so `trustProxy` decides; an IPv6
 * address by its /64, which one host usually holds whole). The counters live in storage
 * (`storage.rateLimits`): every instance on one PostgreSQL database shares them, by default counted in
 * the instance and flushed to the database in the background, so a request costs no round trip for them
 * and other instances' requests are seen up to one flush interval late (issue 12; `database` counts
 * each request in the database); on SQLite they are the server process's own unless
 * `GATEHOUSE_RATE_LIMIT_COUNTERS=database` (README, "Rate limits").
 *
 * Over a limit: HTTP 429 (RFC 6585 §4) with `Retry-After` in seconds until the window ends (RFC 9110
 * §10.2.3), `Cache-Control: no-store` and the RFC 6749 §5.2 JSON shape with `temporarily_unavailable`.
 * RFC 6749 registers no code for throttling; `temporarily_unavailable` (§4.1.2.1) is the registered code
 * that means "try again later", and what clients do with it is right: oauth4webapi reports a 4xx JSON error
 * body as a `ResponseBodyError` carrying the status (429) and the code, and our SDK retries every 429
 * after `Retry-After` (packages/client/src/transport.ts).
 *
 * Why not @fastify/rate-limit: its handlers share one "already ran" mark per request, so one registration
 * cannot apply a client limit and an address limit to the same route; it throws its 429 into the
 * application-wide error handler (which renders other 4xx errors as `invalid_request`); and its store is
 * called once per key, where ours counts both keys in one call (in memory, or one statement).
 */
import { hash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import { presentedClientId } from '../clients/client-authentication.ts';
import { sendStorageUnavailableJson } from './storage-unavailable-response.ts';
import { isStorageUnavailable } from '../storage/storage-unavailable.ts';
import type { ServerContext } from '../server-context.ts';
import type { RawParameters } from './parameters.ts';

/** The rate-limited endpoints; each counts on its own (a resource server's introspections do not use up token requests). */
export type RateLimitedEndpoint = 'token' | 'revocation' | 'introspection' | 'pushed_authorization_request';

/**
 * @returns for each endpoint, the route options that apply its limits: `{ preHandler }`, or `{}` when
 *   `oauthEndpointRateLimit` is false.
 */
export function oauthEndpointRateLimit(context: ServerContext): (endpoint: RateLimitedEndpoint) => RouteShorthandOptions {
  const limit = context.options.oauthEndpointRateLimit;
  if (limit === false) return () => ({});
  return (endpoint) => ({
    preHandler: async (request: FastifyRequest, reply: FastifyReply) => {
      const now = context.clock.nowSeconds();
      const clientId = presentedClientId(request.headers.authorization, request.body as RawParameters | undefined);
      const keys = [`${endpoint}:address:${addressKey(request.ip)}`];
      if (clientId !== undefined) keys.push(`${endpoint}:client:${clientKey(clientId)}`);
      let windows;
      try {
        windows = await context.storage.rateLimits.hit(keys, limit.windowSeconds, now);
      } catch (error) {
        // SPEC decision 18: the counters' database unreachable is the endpoint's JSON 503, as for its own work.
        if (!isStorageUnavailable(error)) throw error;
        request.log.warn({ err: error }, 'storage unavailable at an OAuth endpoint');
        sendStorageUnavailableJson(reply);
        return reply;
      }
      const [address, client] = windows;
      const addressExceeded = address!.hits > limit.maxRequestsPerAddress;
      const clientExceeded = client !== undefined && client.hits > limit.maxRequestsPerClient;
      if (!addressExceeded && !clientExceeded) return;
      const exceeded = [
        ...(addressExceeded ? [{ limited: 'address', window: address! }] : []),
        ...(clientExceeded ? [{ limited: 'client', window: client }] : []),
      ];
      // RFC 6585 §4: a 429 MAY say how long to wait; ours is until the last exceeded window ends (≥ 1 s).
      const retryAfterSeconds = Math.max(1, ...exceeded.map(({ window }) => window.windowEndsAt - now));
      // The presented client_id is not logged: a confused client may send its secret in its place.
      request.log.warn({ endpoint, limited: exceeded.map(({ limited }) => limited), retryAfterSeconds }, 'rate limit exceeded');
      // SPEC decision 18: no-store on every token-endpoint answer, this one included.
      reply.code(429).header('retry-after', String(retryAfterSeconds)).header('cache-control', 'no-store').header('pragma', 'no-cache')
        .type('application/json; charset=utf-8')
        .send({ error: 'temporarily_unavailable', error_description: `too many requests; retry after ${retryAfterSeconds} seconds` });
      return reply;
    },
  });
}

/** The address as counted: IPv4 (an IPv4-mapped IPv6 address too) as is, IPv6 by its /64 prefix. */
export function addressKey(ip: string): string {
  if (!ip.includes(':') && !ip.includes('%')) return ip; // IPv4: counted as it is
  const address = ip.replace(/%.*$/, ''); // a zone index names an interface, not a host
  if (!isIPv6(address)) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  const [head = '', tail] = address.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group])));
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const full = [...before, ...Array(8 - before.length - after.length).fill('0'), ...after];
  return `${full.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/** Client IDs are UUIDs; anything much longer is counted by its SHA-256, so a presented value cannot bloat the table. */
function clientKey(clientId: string): string {
  return clientId.length <= 64 ? clientId : `sha256:${hash('sha256', clientId, 'base64url')}`;
}
