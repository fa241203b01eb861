/**
 * Request URIs (RFC 9126 §2.2): references to authorization requests kept server-side in
 * `storage.pushedRequests`. /oauth/par issues them for pushed requests; /oauth/authorize issues them too
 * to carry a request across the login page (a pushed request is used once; `prompt=login` must know when
 * the request began). Only the digest of the random part is stored (SPEC decision 9).
 */
import { hash, randomBytes } from 'node:crypto';
import type { ServerContext } from '../server-context.ts';

/** RFC 9126 §2.2: "urn:ietf:params:oauth:request_uri:" followed by our 256-bit random reference. */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';
/** A request_uri we issued: the prefix and 43 base64url characters. */
export const REQUEST_URI = /^urn:ietf:params:oauth:request_uri:([A-Za-z0-9_-]{43})$/;
/** RFC 9126 §2.2 and issue 15 §2: a pushed request must be used within 60 seconds. */
export const PUSHED_REQUEST_LIFETIME_SECONDS = 60;

/** SHA-256 (base64url) of a request_uri's random part: all that is stored (SPEC decision 9). */
export const requestUriDigestOf = (reference: string) => hash('sha256', reference, 'base64url');

/**
 * Stores authorization parameters under a fresh request_uri.
 * @param createdAt when the authorization request began, seconds since the epoch (`prompt=login` compares
 *   the login time with it). @param expiresAt seconds since the epoch; refused from then on.
 * @returns the request_uri (shown once; only its digest is stored).
 */
export async function storeAuthorizationRequest(
  context: ServerContext, clientId: string, requestParameters: Record<string, string>, createdAt: number, expiresAt: number,
): Promise<string> {
  const reference = randomBytes(32).toString('base64url');
  await context.storage.pushedRequests.create({ requestUriDigest: requestUriDigestOf(reference), clientId, requestParameters, createdAt, expiresAt });
  return `${REQUEST_URI_PREFIX}${reference}`;
}

/**
 * Uses a request_uri once (RFC 9126 §4, §7.3: one-time use).
 * @returns the stored request, or undefined when the request_uri is malformed, unknown, another client's,
 *   expired or already used (nothing is changed then).
 */
export async function consumeRequestUri(context: ServerContext, requestUri: string, clientId: string) {
  const match = REQUEST_URI.exec(requestUri);
  if (!match) return undefined;
  return context.storage.pushedRequests.consume(requestUriDigestOf(match[1]!), clientId, context.clock.nowSeconds());
}

/**
 * Where a login that has just completed continues (login.ts, second-factor.ts, upstream-login.ts). Times
 * are whole seconds, and `prompt=login` needs a login newer than the request (OIDC Core §3.1.2.1), so a
 * login completing within the request's own second (a password manager, an identity provider answering at
 * once) was sent back to the login page until that second had passed. For a continuation of such a request
 * (`/oauth/authorize?client_id=…&request_uri=…`, authorization.ts `continuationUrl`) this login continues
 * with a copy stored under a new request_uri as begun the second before the login: the login did complete
 * after the request began (the continuation existed before the login page was posted), and only the browser
 * this answers receives the copy. The continuation itself is left unused, so a form posted twice (its
 * answers race) still continues.
 * @param loginAt when the login session started, seconds since the epoch.
 * @returns `returnTo` itself for anything else: a continuation begun before this login's second, or one
 *   unknown, used, expired or another client's (the authorization endpoint then explains).
 */
export async function returnToAfterLogin(context: ServerContext, returnTo: string, loginAt: number): Promise<string> {
  const prefix = '/oauth/authorize?';
  if (!returnTo.startsWith(prefix)) return returnTo;
  const query = new URLSearchParams(returnTo.slice(prefix.length));
  const clientId = query.get('client_id');
  const requestUri = query.get('request_uri');
  if (clientId === null || requestUri === null || [...query.keys()].length !== 2) return returnTo;
  const match = REQUEST_URI.exec(requestUri);
  const stored = match && await context.storage.pushedRequests.find(requestUriDigestOf(match[1]!), clientId, context.clock.nowSeconds());
  if (!stored || stored.createdAt < loginAt) return returnTo;
  const again = await storeAuthorizationRequest(context, clientId, stored.requestParameters, loginAt - 1, stored.expiresAt);
  return `${prefix}${new URLSearchParams({ client_id: clientId, request_uri: again })}`;
}
