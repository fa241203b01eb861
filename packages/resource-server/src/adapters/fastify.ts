import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { VerifiedAccessToken } from '../access-token.ts';
import { authorizationHeaderValues } from '../bearer-token.ts';
import { BearerTokenError } from '../bearer-token-error.ts';
import { DpopTokenError, dpopHeaderValues } from '../dpop.ts';
import { IntrospectionUnavailableError } from '../introspection-unavailable-error.ts';
import { ResourceServerError } from '../resource-server-error.ts';
import { assertScopeNames } from '../scope.ts';
import type { TokenVerifier } from '../token-verifier.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by {@link requireAccessToken}; `null` on routes without it. */
    accessToken: VerifiedAccessToken | null;
  }
}

/**
 * Declares `request.accessToken` on the instance (Fastify wants request properties declared
 * up front). Call once on the root instance before registering routes; idempotent.
 */
export function decorateAccessToken(app: FastifyInstance): void {
  if (!app.hasRequestDecorator('accessToken')) {
    app.decorateRequest('accessToken', null);
  }
}

/**
 * Sends a {@link ResourceServerError}: its status, headers (`WWW-Authenticate`,
 * `Retry-After`) and JSON body. `Cache-Control: no-store` because refusals depend on the
 * credentials of this one request.
 */
export function sendResourceServerError(reply: FastifyReply, error: ResourceServerError): FastifyReply {
  return reply.code(error.status).headers({ ...error.headers, 'cache-control': 'no-store' }).send(error.body);
}

/** Logs a refusal at a level that fits it, with no token or secret in it. */
function logRefusal(request: FastifyRequest, error: ResourceServerError): void {
  if (error instanceof IntrospectionUnavailableError) {
    request.log.error({ reason: error.reason, detail: error.detail }, 'access token could not be verified: authorization server unavailable');
    return;
  }
  const reason = error instanceof BearerTokenError || error instanceof DpopTokenError ? error.reason : undefined;
  request.log.info({ status: error.status, error: error.error, reason }, 'access token refused');
}

export { dpopHeaderValues } from '../dpop.ts';

/** Route hook returned by {@link requireAccessToken}. */
export type AccessTokenHook = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

/**
 * A route hook that admits only requests with a valid Bearer access token granting every
 * `requiredScopes` entry, and sets `request.accessToken`.
 *
 * Use it as `preValidation` (after body parsing, before schema validation), so a token in
 * a form body can be refused (RFC 6750 §2.2) and unauthenticated callers learn nothing
 * from validation errors. Refusals are rendered with {@link sendResourceServerError}:
 * RFC 6750 §3 statuses and challenges, or 503 when the authorization server gave no usable
 * answer (introspection failed, JWKS unavailable, revocation feed stale).
 *
 * @param requiredScopes `resource:permission` names; `[]` for any valid token.
 * @throws {TypeError} at route declaration when a scope name is malformed.
 */
export function requireAccessToken(verifier: TokenVerifier, requiredScopes: readonly string[] = []): AccessTokenHook {
  assertScopeNames(requiredScopes);
  const scopes = [...requiredScopes];
  return async function accessTokenHook(request, reply) {
    try {
      verifier.rejectAccessTokenOutsideHeader({
        query: request.query,
        body: request.body,
        contentType: request.headers['content-type'],
      });
      // Every Authorization field, not Node's first-only `headers.authorization`: two are refused (RFC 6750 §3.1).
      // Bearer, or DPoP with its proof for this method and path (RFC 9449 §7).
      request.accessToken = await verifier.verifyProtectedResourceRequest({
        authorization: authorizationHeaderValues(request.raw.rawHeaders), dpop: dpopHeaderValues(request.raw.rawHeaders), method: request.method, url: request.url,
      }, scopes);
      return undefined;
    } catch (error) {
      if (error instanceof ResourceServerError) {
        logRefusal(request, error);
        return sendResourceServerError(reply, error);
      }
      throw error;
    }
  };
}

/**
 * The token set by {@link requireAccessToken}.
 *
 * @throws {Error} when the route has no access-token hook (a programming error, hence 500).
 */
export function getAccessToken(request: FastifyRequest): VerifiedAccessToken {
  if (request.accessToken === null || request.accessToken === undefined) {
    throw new Error('getAccessToken called on a route without requireAccessToken');
  }
  return request.accessToken;
}

/** Query parameters whose values are credentials wherever they are sent. */
const CREDENTIAL_PARAMETER = /([?&](?:access(?:_|%5f)token|refresh(?:_|%5f)token|token|api(?:_|%5f)key|apikey)=)[^&#]*/gi;
/**
 * A run of URL characters shaped like one of Gatehouse's credentials (`gak_`/`gat_`/`grt_`/`gac_` values of
 * 40 and more characters) or a JWT (dots plain or percent-encoded). The URL is cut into runs of the characters
 * a credential is made of (letters, digits, `_ . ~ -` and percent-encodings other than of a space, `+`, `,`,
 * `:` or `;`, which separate words, as in `Bearer+gat_…`), and each run is tested anchored at both ends: the
 * time is linear in the URL's length (no backtracking across runs).
 */
const CREDENTIAL_RUN = /%(?:2[0BbCc]|3[AaBb])|(?:[A-Za-z0-9_.~-]|%(?!2[0BbCc]|3[AaBb])[0-9A-Fa-f]{2})+/g;
const CREDENTIAL_SHAPED = /^(?:(?:gak|gat|grt|gac)_[A-Za-z0-9_.~%-]{40,}|eyJ[A-Za-z0-9_-]{8,}(?:\.|%2[Ee])[A-Za-z0-9_-]{8,}(?:(?:\.|%2[Ee])[A-Za-z0-9_-]*)?)$/;

/**
 * Removes credentials from a URL for logging: the values of `access_token`, `refresh_token`, `token`,
 * `api_key` and `apikey` query parameters, and any value shaped like an API key, a Gatehouse token or a JWT.
 * Such a request is refused, but its request line would still be logged (RFC 6750 §5.3; SPEC §3: never in logs).
 */
export function redactAccessTokenFromUrl(url: string): string {
  return url.replace(CREDENTIAL_PARAMETER, '$1[REDACTED]').replace(CREDENTIAL_RUN, (run) => (CREDENTIAL_SHAPED.test(run) ? '[REDACTED]' : run));
}

/**
 * Fastify logger serializers whose `req` matches Fastify's default fields but redacts
 * access tokens from the URL: `Fastify({ logger: { serializers: fastifyLogSerializers } })`.
 */
export const fastifyLogSerializers = {
  req(request: FastifyRequest): Record<string, unknown> {
    return {
      method: request.method,
      url: redactAccessTokenFromUrl(request.url),
      host: request.host,
      remoteAddress: request.ip,
      remotePort: request.socket?.remotePort,
    };
  },
};
