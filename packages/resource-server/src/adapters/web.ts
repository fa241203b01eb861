import type { VerifiedAccessToken } from '../access-token.ts';
import { ResourceServerError } from '../resource-server-error.ts';
import { assertScopeNames } from '../scope.ts';
import type { TokenVerifier } from '../token-verifier.ts';

/**
 * Web-standard adapter (Fetch API `Request`/`Response`): for runtimes and frameworks that hand
 * handlers a `Request` (Node servers built on it, Hono, Deno, Bun, edge runtimes, Next.js route
 * handlers). No framework dependency.
 */

function isFormContentType(contentType: string | null): boolean {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

/**
 * Verifies a request's Bearer access token and the scopes the resource needs.
 *
 * Refuses an `access_token` in the query string (RFC 6750 §2.3) or in a form-encoded body (§2.2)
 * first: this deployment accepts the `Authorization` header only. A form body is read from a clone
 * of the request, so the handler can still read it.
 *
 * @param requiredScopes `resource:permission` names; `[]` for any valid token.
 * @returns the token's claims.
 * @throws {ResourceServerError} the refusal to send with {@link toResponse}: a `BearerTokenError`
 *   (401/400/403, RFC 6750 §3.1; 400 `invalid_request` for two `Authorization` headers, which
 *   `Headers` joins with ", ") or an `IntrospectionUnavailableError` (503).
 * @throws {TypeError} when a required scope is not a `resource:permission` name.
 */
export async function verifyRequest(verifier: TokenVerifier, request: Request, requiredScopes: readonly string[] = []): Promise<VerifiedAccessToken> {
  const contentType = request.headers.get('content-type');
  const body = request.body !== null && isFormContentType(contentType) ? new URLSearchParams(await request.clone().text()) : undefined;
  verifier.rejectAccessTokenOutsideHeader({
    query: new URL(request.url).searchParams,
    body,
    contentType: contentType ?? undefined,
  });
  // `Headers` joins two Authorization fields with ", "; the verifier refuses that as two headers (RFC 6750 §3.1).
  // Bearer, or DPoP with its proof for this method and URI (RFC 9449 §7).
  return verifier.verifyProtectedResourceRequest({
    authorization: request.headers.get('authorization') ?? undefined, dpop: request.headers.get('dpop') ?? undefined, method: request.method, url: request.url,
  }, requiredScopes);
}

/**
 * Renders a refusal: its status, its headers (`WWW-Authenticate`, `Retry-After`), `Cache-Control:
 * no-store` (a refusal depends on this request's credentials) and the JSON body `{ error,
 * error_description[, scope] }` (RFC 6750 §3).
 */
export function toResponse(error: ResourceServerError): Response {
  return Response.json(error.body, { status: error.status, headers: { ...error.headers, 'cache-control': 'no-store' } });
}

/** A handler of a protected resource: receives the request and the verified token's claims. */
export type ProtectedHandler = (request: Request, accessToken: VerifiedAccessToken) => Response | Promise<Response>;

/**
 * Wraps a handler so it runs only for requests with a valid token granting every `requiredScopes`
 * entry; refusals are answered with {@link toResponse}. Other errors propagate.
 *
 * @throws {TypeError} at wrap time when a scope name is malformed.
 */
export function withAccessToken(verifier: TokenVerifier, requiredScopes: readonly string[], handler: ProtectedHandler): (request: Request) => Promise<Response> {
  assertScopeNames(requiredScopes);
  const scopes = [...requiredScopes];
  return async (request) => {
    let accessToken: VerifiedAccessToken;
    try {
      accessToken = await verifyRequest(verifier, request, scopes);
    } catch (error) {
      if (error instanceof ResourceServerError) {
        return toResponse(error);
      }
      throw error;
    }
    return handler(request, accessToken);
  };
}
