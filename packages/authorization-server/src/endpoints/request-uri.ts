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
  const digest = issuedRequestUriDigest(requestUri);
  // No client_id holds NUL (PostgreSQL text cannot: storage/stores/clients.ts), and the database would refuse it (a 500).
  return digest === undefined || clientId.includes('\u0000') ? undefined : context.storage.pushedRequests.consume(digest, clientId, context.clock.nowSeconds());
}

/** The stored digest of a request_uri of the form we issue, or undefined for any other value. */
function issuedRequestUriDigest(requestUri: string): string | undefined {
  const match = REQUEST_URI.exec(requestUri);
  return match ? requestUriDigestOf(match[1]!) : undefined;
}

/**
 * Marks the authorization request a login completed for (login.ts, second-factor.ts, upstream-login.ts):
 * when `returnTo` is a continuation (`/oauth/authorize?client_id=…&request_uri=…`, authorization.ts
 * `continuationUrl`), the session this login started is recorded on it, and satisfies its `prompt=login`
 * (OIDC Core §3.1.2.1) even within the second the request began: times are whole seconds, and a login
 * completing at once (a password manager, an identity provider answering at once) was sent back to the login
 * page until that second had passed. Only that session counts (not another made in the same second), and the
 * request_uri stays single-use.
 * @param sessionDigest the SHA-256 of the new session's cookie.
 */
export async function markContinuationReauthenticated(context: ServerContext, returnTo: string, sessionDigest: string): Promise<void> {
  const prefix = '/oauth/authorize?';
  if (!returnTo.startsWith(prefix)) return;
  const query = new URLSearchParams(returnTo.slice(prefix.length));
  const clientId = query.get('client_id');
  const digest = issuedRequestUriDigest(query.get('request_uri') ?? '');
  // Exactly the continuation's members: client_id and request_uri once each, and ui_locales at most once.
  const uiLocales = query.getAll('ui_locales').length;
  if (clientId === null || clientId.includes('\u0000') || digest === undefined || uiLocales > 1 || [...query.keys()].length !== 2 + uiLocales) return;
  await context.storage.pushedRequests.markReauthenticated(digest, clientId, sessionDigest, context.clock.nowSeconds());
}
