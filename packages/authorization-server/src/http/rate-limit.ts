/**
 * Rate limits at the token, revocation and introspection endpoints and PAR (SPEC decision 18): each request
 * counts against two fixed windows of the endpoint — the address it comes from (`request.ip`, so `trustProxy`
 * decides; an IPv6 address by its /64, which one host usually holds whole), always, and the client, only once
 * the request authenticated as that client. A request that fails client authentication (an unknown client, a
 * wrong secret) counts against its address alone: before 2026-12-07 the presented `client_id` counted whether
 * or not it authenticated, so anyone could spend a confidential client's window by sending its id with any
 * secret and hold its refreshes at 429 (one address sufficed: the address limit was the higher one). Guessing a
 * secret costs the guesser's address, and a 256-bit secret is not guessed. A public client authenticates by
 * its `client_id` alone, so its window can still be spent by anyone presenting it (README, "Rate limits").
 *
 * Where: the endpoint calls `rateLimitedAuthentication` around its client authentication, which counts the
 * request in one storage call (`storage.rateLimits.hit`, both keys at once) before any of the endpoint's work;
 * a request the endpoint refuses before that (malformed: 400) is counted against its address before its answer
 * (`oauthEndpointRateLimit`'s wrapper of the handler). The counters live in storage (`storage.rateLimits`): every instance
 * on one PostgreSQL database shares them, by default counted in the instance and flushed to the database in
 * the background, so a request costs no round trip for them and other instances' requests are seen up to one
 * flush interval late (issue 12; `database` counts each request in the database); on SQLite they are the
 * server process's own unless `GATEHOUSE_RATE_LIMIT_COUNTERS=database` (README, "Rate limits").
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
 * the client is not yet authenticated; and its store is called once per key, where ours counts both keys in
 * one call (in memory, or one statement).
 */
import { hash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OAuthError } from '../errors.ts';
import { isStorageUnavailable } from '../storage/storage-unavailable.ts';
import type { ServerContext } from '../server-context.ts';

/** The rate-limited endpoints; each counts on its own (a resource server's introspections do not use up token requests). */
export type RateLimitedEndpoint = 'token' | 'revocation' | 'introspection' | 'pushed_authorization_request';

/** Requests already counted (by `rateLimitedAuthentication`): their answer does not count them again. */
const counted = new WeakSet<FastifyRequest>();

/** Thrown by `rateLimitedAuthentication` over a limit; the OAuth endpoints' error handler answers it (`sendRateLimited`). */
export class RateLimitExceededError extends Error {
  readonly retryAfterSeconds: number;
  readonly limited: readonly ('address' | 'client')[];
  constructor(retryAfterSeconds: number, limited: readonly ('address' | 'client')[]) {
    super(`rate limit exceeded (${limited.join(', ')}); retry after ${retryAfterSeconds} s`);
    this.name = 'RateLimitExceededError';
    this.retryAfterSeconds = retryAfterSeconds;
    this.limited = limited;
  }
}

/**
 * Authenticates the request's client with `authenticate`, then counts the request (SPEC decision 18): against its
 * address, and against the client `clientIdOf` names only if it authenticated. Call it before any other work of
 * the endpoint; with `oauthEndpointRateLimit: false` it only authenticates.
 * @throws RateLimitExceededError (429) when either window is over its limit, whether or not the client
 *   authenticated; otherwise what `authenticate` threw (`invalid_client`), after counting the address; a storage
 *   error of the counters (StorageUnavailableError: 503).
 */
export async function rateLimitedAuthentication<T>(
  context: ServerContext, request: FastifyRequest, endpoint: RateLimitedEndpoint, authenticate: () => Promise<T>, clientIdOf: (authenticated: T) => string,
): Promise<T> {
  let authenticated: T;
  try {
    authenticated = await authenticate();
  } catch (error) {
    // A refused authentication counts against the address alone; any other failure (the database) is counted
    // with the answer.
    if (error instanceof OAuthError && error.code === 'invalid_client') await count(context, request, endpoint, undefined);
    throw error;
  }
  await count(context, request, endpoint, clientIdOf(authenticated));
  return authenticated;
}

async function count(context: ServerContext, request: FastifyRequest, endpoint: RateLimitedEndpoint, clientId: string | undefined): Promise<void> {
  const limit = context.options.oauthEndpointRateLimit;
  if (limit === false) return;
  counted.add(request);
  const now = context.clock.nowSeconds();
  const keys = [`${endpoint}:address:${addressKey(request.ip)}`];
  if (clientId !== undefined) keys.push(`${endpoint}:client:${clientKey(clientId)}`);
  const [address, client] = await context.storage.rateLimits.hit(keys, limit.windowSeconds, now);
  const exceeded = [
    ...(address!.hits > limit.maxRequestsPerAddress ? [{ limited: 'address' as const, window: address! }] : []),
    ...(client !== undefined && client.hits > limit.maxRequestsPerClient ? [{ limited: 'client' as const, window: client }] : []),
  ];
  if (exceeded.length === 0) return;
  // RFC 6585 §4: a 429 MAY say how long to wait; ours is until the last exceeded window ends (≥ 1 s).
  throw new RateLimitExceededError(Math.max(1, ...exceeded.map(({ window }) => window.windowEndsAt - now)), exceeded.map(({ limited }) => limited));
}

/** The 429 of `RateLimitExceededError`. */
export function sendRateLimited(request: FastifyRequest, reply: FastifyReply, error: RateLimitExceededError): void {
  // The client_id is not logged: a confused client may send its secret in its place.
  request.log.warn({ limited: error.limited, retryAfterSeconds: error.retryAfterSeconds }, 'rate limit exceeded');
  // SPEC decision 18: no-store on every token-endpoint answer, this one included.
  reply.code(429).header('retry-after', String(error.retryAfterSeconds)).header('cache-control', 'no-store').header('pragma', 'no-cache')
    .type('application/json; charset=utf-8')
    .send({ error: 'temporarily_unavailable', error_description: `too many requests; retry after ${error.retryAfterSeconds} seconds` });
}

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

/**
 * @returns a wrapper of an endpoint's handler that counts, against its address, a request the handler refused
 *   before `rateLimitedAuthentication` counted it (a malformed request: 400), before that refusal is answered, so a
 *   refusal over the address limit is the 429. Requests Fastify refuses before the handler (413, 415, a body that
 *   does not parse) are not counted, as they were not before. With `oauthEndpointRateLimit: false`, the handler.
 */
export function oauthEndpointRateLimit(context: ServerContext): (endpoint: RateLimitedEndpoint, handler: Handler) => Handler {
  if (context.options.oauthEndpointRateLimit === false) return (_endpoint, handler) => handler;
  return (endpoint, handler) => async (request, reply) => {
    try {
      await handler(request, reply);
    } catch (error) {
      if (!counted.has(request) && !isStorageUnavailable(error)) await count(context, request, endpoint, undefined);
      throw error;
    }
  };
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
