/**
 * Rate limits at the token, revocation and introspection endpoints and PAR (SPEC decision 18): each request
 * counts against two fixed windows of the endpoint. The address it comes from (`request.ip`, so `trustProxy`
 * decides; an IPv6 address by its /64, which one host usually holds whole) is counted first, before the
 * endpoint does anything (a request over it is answered 429 without a client lookup or a digest, also while the
 * database is unreachable, with the counters in memory). The client is counted only once the request
 * authenticated as that client: a request that fails client authentication (an unknown client, a wrong secret)
 * spends its address's window alone. Before 2026-12-07 the presented `client_id` counted whether or not it
 * authenticated, so anyone could spend a confidential client's window by sending its id with any secret and hold
 * its refreshes at 429 (one address sufficed: the address limit was the higher one). Guessing a secret costs the
 * guesser's address, and a 256-bit secret is not guessed. A public client authenticates by its `client_id`
 * alone, so its window can still be spent by anyone presenting it (README, "Rate limits").
 *
 * Where: `oauthEndpointRateLimit` wraps the endpoint's handler (the address), and the endpoint calls
 * `rateLimitedAuthentication` around its client authentication (the client). The counters live in storage
 * (`storage.rateLimits`): every instance on one PostgreSQL database shares them, by default counted in the
 * instance and flushed to the database in the background, so a request costs no round trip for them and other
 * instances' requests are seen up to one flush interval late (issue 12; `database` counts each hit in the
 * database: two statements for an authenticated request); on SQLite they are the server process's own unless
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
 * cannot apply a client limit and an address limit to the same route; it counts before the handler, where
 * the client is not yet authenticated; and it throws its 429 into the application-wide error handler.
 */
import { hash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../server-context.ts';

/** The rate-limited endpoints; each counts on its own (a resource server's introspections do not use up token requests). */
export type RateLimitedEndpoint = 'token' | 'revocation' | 'introspection' | 'pushed_authorization_request';

/** Thrown over a limit; the OAuth endpoints' error handler answers it (`sendRateLimited`). */
export class RateLimitExceededError extends Error {
  readonly retryAfterSeconds: number;
  readonly limited: 'address' | 'client';
  readonly endpoint: RateLimitedEndpoint;
  constructor(retryAfterSeconds: number, limited: 'address' | 'client', endpoint: RateLimitedEndpoint) {
    super(`rate limit exceeded (${limited}); retry after ${retryAfterSeconds} s`);
    this.name = 'RateLimitExceededError';
    this.retryAfterSeconds = retryAfterSeconds;
    this.limited = limited;
    this.endpoint = endpoint;
  }
}

/**
 * Authenticates the request's client with `authenticate`, then counts the request against the client `clientIdOf`
 * names (SPEC decision 18): only a request that authenticated spends its client's window. With
 * `oauthEndpointRateLimit: false` it only authenticates.
 * @throws what `authenticate` threw (`invalid_client`: nothing counted for any client); RateLimitExceededError (429)
 *   when the client's window is over its limit; a storage error of the counters (StorageUnavailableError: 503).
 */
export async function rateLimitedAuthentication<T>(
  context: ServerContext, endpoint: RateLimitedEndpoint, authenticate: () => Promise<T>, clientIdOf: (authenticated: T) => string,
): Promise<T> {
  const authenticated = await authenticate();
  await count(context, endpoint, 'client', clientKey(clientIdOf(authenticated)));
  return authenticated;
}

/** Counts one hit of `key`'s window; throws RateLimitExceededError when it is over its limit. */
async function count(context: ServerContext, endpoint: RateLimitedEndpoint, kind: 'address' | 'client', key: string): Promise<void> {
  const limit = context.options.oauthEndpointRateLimit;
  if (limit === false) return;
  const now = context.clock.nowSeconds();
  const [window] = await context.storage.rateLimits.hit([`${endpoint}:${kind}:${key}`], limit.windowSeconds, now);
  if (window!.hits <= (kind === 'address' ? limit.maxRequestsPerAddress : limit.maxRequestsPerClient)) return;
  // RFC 6585 §4: a 429 MAY say how long to wait; ours is until the window ends (≥ 1 s).
  throw new RateLimitExceededError(Math.max(1, window!.windowEndsAt - now), kind, endpoint);
}

/** The 429 of `RateLimitExceededError`. */
export function sendRateLimited(request: FastifyRequest, reply: FastifyReply, error: RateLimitExceededError): void {
  // The client_id is not logged: a confused client may send its secret in its place.
  request.log.warn({ endpoint: error.endpoint, limited: [error.limited], retryAfterSeconds: error.retryAfterSeconds }, 'rate limit exceeded');
  // SPEC decision 18: no-store on every token-endpoint answer, this one included.
  reply.code(429).header('retry-after', String(error.retryAfterSeconds)).header('cache-control', 'no-store').header('pragma', 'no-cache')
    .type('application/json; charset=utf-8')
    .send({ error: 'temporarily_unavailable', error_description: `too many requests; retry after ${error.retryAfterSeconds} seconds` });
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * @returns a wrapper of an endpoint's handler that first counts the request against its address: over the limit,
 *   RateLimitExceededError (429) before the endpoint reads anything. Requests Fastify refuses before the handler
 *   (413, 415, a body that does not parse) are not counted. With `oauthEndpointRateLimit: false`, the handler.
 */
export function oauthEndpointRateLimit(context: ServerContext): (endpoint: RateLimitedEndpoint, handler: Handler) => Handler {
  if (context.options.oauthEndpointRateLimit === false) return (_endpoint, handler) => handler;
  return (endpoint, handler) => async (request, reply) => {
    await count(context, endpoint, 'address', addressKey(request.ip));
    await handler(request, reply);
  };
}

/**
 * Counts, against the address window of `endpoint`, a request that is about to store something before anyone has
 * authenticated: the authorization endpoint's continuation across the login page (`prompt=login`, `max_age`) stores
 * the same object as a pushed authorization request, so it spends PAR's address window (review of 2026-12-08: 600
 * rows a second from one address, never a 429).
 * @throws RateLimitExceededError over the limit; a storage error of the counters (StorageUnavailableError: 503).
 */
export async function countAddress(context: ServerContext, endpoint: RateLimitedEndpoint, ip: string): Promise<void> {
  await count(context, endpoint, 'address', addressKey(ip));
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
