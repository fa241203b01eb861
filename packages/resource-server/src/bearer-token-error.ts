import { formatBearerChallenge } from './challenge.ts';
import type { BearerErrorCode } from './challenge.ts';
import { ResourceServerError } from './resource-server-error.ts';
import type { ErrorBody } from './resource-server-error.ts';

/**
 * The `error_description` of every `invalid_token` refusal, whatever the cause (revoked, superseded,
 * expired, forged, unknown, garbage, another issuer or audience): one fixed text in both validation
 * modes, so the answer tells a caller holding a guessed, forged or stolen token nothing about why
 * (no oracle). The cause stays on the error as {@link BearerTokenError.reason}, for logs.
 */
export const INVALID_TOKEN_DESCRIPTION = 'The access token is invalid';

const STATUS_BY_ERROR: Readonly<Record<BearerErrorCode, number>> = {
  invalid_request: 400,
  invalid_token: 401,
  insufficient_scope: 403,
};

/**
 * A refusal of a protected-resource request under RFC 6750 §3: carries the status, the
 * `WWW-Authenticate` challenge and the JSON body.
 *
 * | case | status | challenge `error` | body `error` |
 * |---|---|---|---|
 * | no credentials / other scheme (§3.1) | 401 | none | `unauthorized` (ours; not an RFC code) |
 * | malformed request (§3.1) | 400 | `invalid_request` | same |
 * | inactive, expired, foreign token (§3.1) | 401 | `invalid_token` | same, one fixed description |
 * | missing scope (§3.1) | 403 | `insufficient_scope`, plus `scope` | same, plus `scope` |
 */
export class BearerTokenError extends ResourceServerError {
  /** The RFC 6750 error code; `undefined` when the request had no credentials (§3.1). */
  readonly bearerError: BearerErrorCode | undefined;
  readonly realm: string;
  /** Every scope the resource needs (not only the missing ones), for `insufficient_scope`. */
  readonly requiredScopes: readonly string[];
  /**
   * Why the token was refused, for the server's logs only (never in the response): set for
   * `invalid_token`, whose description is always {@link INVALID_TOKEN_DESCRIPTION}. Holds no token value.
   */
  readonly reason: string | undefined;

  constructor(realm: string, bearerError: BearerErrorCode | undefined, errorDescription: string, requiredScopes: readonly string[] = [], reason?: string) {
    const challenge = formatBearerChallenge(
      bearerError === undefined
        ? { realm }
        : { realm, error: bearerError, errorDescription, scope: bearerError === 'insufficient_scope' ? requiredScopes : undefined },
    );
    super(
      bearerError === undefined ? 401 : STATUS_BY_ERROR[bearerError],
      bearerError ?? 'unauthorized',
      errorDescription,
      { 'www-authenticate': challenge },
    );
    this.bearerError = bearerError;
    this.realm = realm;
    this.requiredScopes = requiredScopes;
    this.reason = reason;
  }

  override get body(): ErrorBody {
    if (this.bearerError === 'insufficient_scope') {
      return { error: this.error, error_description: this.errorDescription, scope: this.requiredScopes.join(' ') };
    }
    return super.body;
  }

  /** 401 without an error code: the request carried no Bearer credentials (RFC 6750 §3.1). */
  static missingCredentials(realm: string, errorDescription = 'A Bearer access token is required in the Authorization header'): BearerTokenError {
    return new BearerTokenError(realm, undefined, errorDescription);
  }

  /** 400 `invalid_request` (RFC 6750 §3.1). */
  static invalidRequest(realm: string, errorDescription: string): BearerTokenError {
    return new BearerTokenError(realm, 'invalid_request', errorDescription);
  }

  /**
   * 401 `invalid_token` (RFC 6750 §3.1): expired, revoked, malformed or foreign. The description is
   * always {@link INVALID_TOKEN_DESCRIPTION}; `reason` is kept for logs and never sent.
   */
  static invalidToken(realm: string, reason: string): BearerTokenError {
    return new BearerTokenError(realm, 'invalid_token', INVALID_TOKEN_DESCRIPTION, [], reason);
  }

  /** 403 `insufficient_scope` (RFC 6750 §3.1); `requiredScopes` goes into the `scope` attribute. */
  static insufficientScope(realm: string, requiredScopes: readonly string[], errorDescription: string): BearerTokenError {
    return new BearerTokenError(realm, 'insufficient_scope', errorDescription, requiredScopes);
  }
}
