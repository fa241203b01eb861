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
  | 'temporarily_unavailable';

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
};

/** An error the server reports to the client with its RFC error code. */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly description: string;
  /** HTTP status when rendered as JSON. */
  readonly status: number;

  constructor(code: OAuthErrorCode, description: string) {
    super(`${code}: ${description}`);
    this.name = 'OAuthError';
    this.code = code;
    this.description = description;
    this.status = STATUS[code];
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.code, error_description: this.description };
  }
}
