import { ResourceServerError } from './resource-server-error.ts';

/** Why the introspection endpoint gave no usable answer. */
export type IntrospectionFailureReason =
  /** Connection refused, reset, DNS failure. */
  | 'network_error'
  /** No answer within `introspectionTimeoutMilliseconds`. */
  | 'timeout'
  /** The authorization server refused the resource server's own credentials (401 / `invalid_client`). */
  | 'client_authentication_failed'
  /** Non-200 status, non-JSON body, or `active` not a boolean (RFC 7662 §2.2); a malformed JWKS or revocation feed answer. */
  | 'unexpected_response'
  /**
   * Local mode: the revocation feed has not answered for longer than `maxRevocationStalenessSeconds`,
   * so a token might have been revoked without our knowing (fail closed).
   */
  | 'revocation_feed_stale';

/**
 * The token could not be verified because the authorization server gave no usable answer:
 * introspection failed (introspection mode), or the JWKS could not be fetched or the revocation
 * feed is stale (local mode). Rendered as
 * **503 `temporarily_unavailable`** with `Retry-After` and no `WWW-Authenticate`
 * challenge: a 401 would tell clients their token is bad and make them discard or refresh
 * it (and a refresh rotates every token, SPEC §3) over an outage on our side. The code is
 * borrowed from RFC 6749 §4.1.2.1; RFC 6750 has none for this case.
 *
 * `detail` names the failure for operators' logs; it never contains a token or secret.
 */
export class IntrospectionUnavailableError extends ResourceServerError {
  readonly reason: IntrospectionFailureReason;
  readonly detail: string;
  readonly retryAfterSeconds: number;

  constructor(reason: IntrospectionFailureReason, detail: string, retryAfterSeconds = 5) {
    super(
      503,
      'temporarily_unavailable',
      'The access token could not be verified because the authorization server is unavailable; retry later',
      { 'retry-after': String(retryAfterSeconds) },
    );
    this.reason = reason;
    this.detail = detail;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
