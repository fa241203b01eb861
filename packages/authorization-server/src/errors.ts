/**
 * The OAuth error codes this server emits, with their HTTP status at the token, introspection and
 * revocation endpoints (RFC 6749 §5.2, RFC 7009 §2.2.1). At the authorization endpoint the same codes
 * travel in a redirect instead (RFC 6749 §4.1.2.1).
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'server_error'
  | 'temporarily_unavailable'
  // OIDC Core §3.1.2.6: prompt=none could not be answered without a page (authorization endpoint only).
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  // RFC 8707 §2: the requested resource is invalid, unknown, or not allowed for the client or the grant.
  | 'invalid_target'
  // RFC 9449 §5, §8 (token endpoint): a DPoP proof failed its checks; a proof must carry the server's nonce.
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  access_denied: 403,
  unsupported_response_type: 400,
  unsupported_token_type: 400,
  server_error: 500,
  temporarily_unavailable: 503,
  login_required: 400,
  consent_required: 400,
  interaction_required: 400,
  invalid_target: 400,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
};

/** Longest `error_description` sent, in characters; longer texts are cut. */
export const MAX_ERROR_DESCRIPTION_LENGTH = 200;

/**
 * RFC 6749 §5.2 and §4.1.2.1: `error_description` "MUST NOT include characters outside the set
 * %x20-21 / %x23-5B / %x5D-7E" (printable ASCII without `"` and `\`). Returns the text with `"` as `'`,
 * `\` as `/`, `§` as `section`, every other character outside the set as `?`, cut to
 * MAX_ERROR_DESCRIPTION_LENGTH characters. Descriptions are fixed texts of this code base: request
 * input is never put in them; this is the safety net that keeps the wire format valid regardless.
 */
export function errorDescription(text: string): string {
  const safe = text
    .replaceAll('"', "'")
    .replaceAll('\\', '/')
    .replaceAll('§', 'section ')
    .replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?');
  return safe.length > MAX_ERROR_DESCRIPTION_LENGTH ? safe.slice(0, MAX_ERROR_DESCRIPTION_LENGTH) : safe;
}

/** An error the server reports to the client with its RFC error code. */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly description: string;
  /** HTTP status when rendered as JSON. */
  readonly status: number;

  /** @param description a fixed text (never request input); made RFC 6749 §5.2-safe by errorDescription(). */
  constructor(code: OAuthErrorCode, description: string) {
    super(`${code}: ${description}`);
    this.name = 'OAuthError';
    this.code = code;
    this.description = errorDescription(description);
    this.status = STATUS[code];
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}
