import { BearerTokenError } from './bearer-token-error.ts';

/**
 * RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`. The scheme name is
 * case-insensitive (RFC 9110 §11.1); the token is kept verbatim.
 */
const BEARER_CREDENTIALS = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** The RFC 6750 §2.2 / §2.3 parameter name for a token outside the header. */
const ACCESS_TOKEN_PARAMETER = 'access_token';

/**
 * Extracts the access token from an `Authorization` header value (RFC 6750 §2.1).
 *
 * @param authorizationHeader the raw header value, `undefined` when absent.
 * @param realm the realm for the challenge of a refusal.
 * @returns the token string, verbatim.
 * @throws {BearerTokenError} 401 without an error code when there is no header or it uses
 *   another scheme (RFC 6750 §3.1: "lacks any authentication information"); 400
 *   `invalid_request` when it says Bearer but is not a well-formed b64token.
 */
export function extractBearerToken(authorizationHeader: string | undefined, realm: string): string {
  const header = authorizationHeader?.trim() ?? '';
  if (header === '') {
    throw BearerTokenError.missingCredentials(realm);
  }
  const scheme = header.split(/[ \t]/, 1)[0] ?? '';
  if (scheme.toLowerCase() !== 'bearer') {
    throw BearerTokenError.missingCredentials(realm, 'The Authorization header uses an unsupported scheme; send a Bearer access token');
  }
  const match = BEARER_CREDENTIALS.exec(header);
  if (match === null || match[1] === undefined) {
    throw BearerTokenError.invalidRequest(realm, 'The Authorization header is not a well-formed Bearer credential (RFC 6750 section 2.1)');
  }
  return match[1];
}

/** Where a request's parameters came from, as parsed by the web framework. */
export interface RequestParameterSources {
  /** Realm for the challenge of the refusal. */
  readonly realm: string;
  /** Parsed query string: a plain object or `URLSearchParams`. */
  readonly query?: unknown;
  /** Parsed body: a plain object or `URLSearchParams`. */
  readonly body?: unknown;
  /** The request's `Content-Type` header; the body is a form only when it says so (RFC 6750 §2.2). */
  readonly contentType?: string | undefined;
}

/**
 * Refuses an access token sent in the query string (RFC 6750 §2.3) or in a form-encoded
 * body (RFC 6750 §2.2). This deployment accepts only the `Authorization` header: URIs are
 * logged and cached everywhere (RFC 6750 §5.3), and §2.2 bodies invite CSRF-style misuse.
 * Presence alone triggers the refusal, even an empty value or alongside a valid header
 * (RFC 6750 §3.1: "uses more than one method" is also `invalid_request`).
 *
 * @throws {BearerTokenError} 400 `invalid_request`.
 */
export function rejectAccessTokenOutsideHeader(sources: RequestParameterSources): void {
  if (hasParameter(sources.query, ACCESS_TOKEN_PARAMETER)) {
    throw BearerTokenError.invalidRequest(
      sources.realm,
      'Access tokens are accepted only in the Authorization header, not in the query string (RFC 6750 section 2.3)',
    );
  }
  if (isFormContentType(sources.contentType) && hasParameter(sources.body, ACCESS_TOKEN_PARAMETER)) {
    throw BearerTokenError.invalidRequest(
      sources.realm,
      'Access tokens are accepted only in the Authorization header, not in the request body (RFC 6750 section 2.2)',
    );
  }
}

function isFormContentType(contentType: string | undefined): boolean {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

function hasParameter(container: unknown, name: string): boolean {
  if (container instanceof URLSearchParams) {
    return container.has(name);
  }
  return typeof container === 'object' && container !== null && Object.hasOwn(container, name);
}
