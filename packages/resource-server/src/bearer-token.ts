import { BearerTokenError } from './bearer-token-error.ts';

/**
 * RFC 6750 §2.1: `credentials = "Bearer" 1*SP b64token`. The scheme name is
 * case-insensitive (RFC 9110 §11.1); the token is kept verbatim.
 */
const BEARER_CREDENTIALS = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** The RFC 6750 §2.2 / §2.3 parameter name for a token outside the header. */
const ACCESS_TOKEN_PARAMETER = 'access_token';

/**
 * A second credential after a comma: what `Headers.get('authorization')` returns for a request with
 * two `Authorization` fields (the Fetch standard joins them with ", "). An auth-param list
 * (`realm="x", nonce="y"`) has `name=` after its commas, never `scheme` followed by a space or the end.
 */
const SECOND_CREDENTIALS = /,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:[ \t]|$)/;

/**
 * The request's `Authorization` header: one value, every value (a request may carry the field
 * more than once; see {@link authorizationHeaderValues}), or `undefined` when absent.
 */
export type AuthorizationHeader = string | readonly string[] | undefined;

/**
 * Every `Authorization` value of a request, in order, from Node's `rawHeaders` (a flat
 * name/value list). Node's `request.headers.authorization` keeps only the first of two fields, so a
 * second one would go unseen: pass this list to {@link extractBearerToken} instead (Express:
 * `authorizationHeaderValues(req.rawHeaders)`).
 */
export function authorizationHeaderValues(rawHeaders: readonly string[]): string[] {
  const values: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if (rawHeaders[index]?.toLowerCase() === 'authorization') {
      values.push(rawHeaders[index + 1] ?? '');
    }
  }
  return values;
}

/**
 * Extracts the access token from an `Authorization` header value (RFC 6750 §2.1).
 *
 * @param authorizationHeader the raw header value, every value when the request may carry the field
 *   more than once, or `undefined` when absent.
 * @param realm the realm for the challenge of a refusal.
 * @returns the token string, verbatim.
 * @throws {BearerTokenError} 401 without an error code when there is no header or it uses
 *   another scheme (RFC 6750 §3.1: "lacks any authentication information"); 400
 *   `invalid_request` when there is more than one `Authorization` header (as separate fields or
 *   joined with a comma), or it says Bearer but is not a well-formed b64token.
 */
export function extractBearerToken(authorizationHeader: AuthorizationHeader, realm: string): string {
  // RFC 9110 §11.6.2: Authorization holds one credential; RFC 6750 §3.1 invalid_request: a request that
  // "uses more than one method" or "is otherwise malformed". Which of two headers counts is not ours
  // to guess (Node keeps the first, proxies may keep the last), so neither does.
  const values = typeof authorizationHeader === 'string' ? [authorizationHeader] : (authorizationHeader ?? []);
  // The comma test first: a well-formed Bearer credential has none, and the pattern costs ~0.5 µs on a JWT.
  if (values.length > 1 || (values[0]?.includes(',') === true && SECOND_CREDENTIALS.test(values[0]))) {
    throw BearerTokenError.invalidRequest(realm, 'The request has more than one Authorization header (RFC 6750 section 3.1)');
  }
  const header = values[0]?.trim() ?? '';
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

/** The scheme name in lowercase, compared character by character in {@link bearerTokenCandidate}. */
const BEARER_LOWERCASE = 'bearer';

/**
 * The per-request shortcut in front of {@link extractBearerToken}: what follows `Bearer` and its spaces
 * in a single `Authorization` value without a comma, checked no further (the b64token pattern costs
 * ~1 µs on a 550-character JWT), or `undefined` for anything else.
 *
 * Only for looking a token up in a cache that holds nothing but tokens {@link extractBearerToken}
 * returned: a hit proves the candidate is the well-formed token `extractBearerToken` would return for
 * this very header (one value, no comma, the Bearer scheme, spaces, then a cached b64token); a miss
 * must go through `extractBearerToken`, which refuses a malformed header with the right error.
 */
export function bearerTokenCandidate(authorizationHeader: AuthorizationHeader): string | undefined {
  const value = typeof authorizationHeader === 'string' ? authorizationHeader : authorizationHeader?.length === 1 ? authorizationHeader[0] : undefined;
  if (value === undefined || value.includes(',')) {
    return undefined;
  }
  const header = value.trim();
  // RFC 9110 §11.1: the scheme is case-insensitive; RFC 6750 §2.1: "Bearer" 1*SP b64token.
  if (header.length < 8 || header.charCodeAt(6) !== 0x20) {
    return undefined;
  }
  for (let index = 0; index < 6; index += 1) {
    // ASCII letters only: OR-ing 0x20 lowercases them (a non-letter never turns into one of "bearer").
    if ((header.charCodeAt(index) | 0x20) !== BEARER_LOWERCASE.charCodeAt(index)) {
      return undefined;
    }
  }
  let start = 7;
  while (header.charCodeAt(start) === 0x20) {
    start += 1;
  }
  return header.slice(start);
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
