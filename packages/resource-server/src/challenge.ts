/** The error codes RFC 6750 §3.1 defines for the Bearer scheme. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** Parameters of one `WWW-Authenticate: Bearer` challenge (RFC 6750 §3). */
export interface BearerChallenge {
  /** Protection space, RFC 7235 §2.2; always sent so clients can tell resource servers apart. */
  readonly realm: string;
  /** Omitted when the request carried no credentials at all (RFC 6750 §3.1). */
  readonly error?: BearerErrorCode;
  readonly errorDescription?: string;
  /** Scopes needed for the resource (RFC 6750 §3), sent with `insufficient_scope`. */
  readonly scope?: readonly string[];
}

/**
 * Renders a value as an RFC 9110 §5.6.4 quoted-string. RFC 6750 §3 restricts
 * `error_description` and `scope` to printable ASCII without `"` and `\`; rather than fail a
 * response over a description we wrote, characters outside printable ASCII become `?` and
 * `"`/`\` are backslash-escaped, so the header can never be broken open by a value.
 */
export function quoteAuthParam(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return `"${printable.replace(/["\\]/g, (character) => `\\${character}`)}"`;
}

/**
 * Formats the value of a `WWW-Authenticate` header:
 * `Bearer realm="…", error="…", error_description="…", scope="…"` (RFC 6750 §3).
 */
export function formatBearerChallenge(challenge: BearerChallenge): string {
  const params = [`realm=${quoteAuthParam(challenge.realm)}`];
  if (challenge.error !== undefined) {
    params.push(`error=${quoteAuthParam(challenge.error)}`);
    if (challenge.errorDescription !== undefined) {
      params.push(`error_description=${quoteAuthParam(challenge.errorDescription)}`);
    }
  }
  if (challenge.scope !== undefined && challenge.scope.length > 0) {
    params.push(`scope=${quoteAuthParam(challenge.scope.join(' '))}`);
  }
  return `Bearer ${params.join(', ')}`;
}
