import type { SubjectType } from './subject.ts';

/**
 * The claims of an access token the resource server accepted, the same in both validation modes.
 * Field names are the OAuth terms in camelCase; the introspection member (RFC 7662 §2.2) or JWT
 * claim (RFC 9068 §2.2) each one comes from is noted — they have the same names.
 */
export interface VerifiedAccessToken {
  /** `client_id`: the OAuth client the token was issued to (a UUID). */
  readonly clientId: string;
  /** `client_name`: the client's registered name, when the authorization server sent it. */
  readonly clientName: string | undefined;
  /** `scope`, split on spaces (RFC 6749 §3.3); `resource:permission` names. */
  readonly scope: readonly string[];
  /** Whether the token acts for one company or for an organization (SPEC §3 "Subjects"). */
  readonly subjectType: SubjectType;
  /** The company or organization UUID taken from the subject URN. */
  readonly subjectId: string;
  /** `urn:<ns>:params:oauth:subject_urn`, e.g. `urn:gatehouse:company:<uuid>`. */
  readonly subjectUrn: string;
  /** `sub`: the user who authorized the client; absent for grants without a user. */
  readonly userId: string | undefined;
  /** `exp`: expiry, epoch seconds. */
  readonly expiresAt: number;
  /** `iat`: issue time, epoch seconds, when sent. */
  readonly issuedAt: number | undefined;
  /** `jti`: the token's identifier, safe to log (unlike the token itself). */
  readonly tokenId: string | undefined;
  /**
   * `cnf.jkt` (RFC 9449 §6): the thumbprint of the DPoP key the token is bound to; absent for a plain
   * Bearer token. A bound token is accepted only with `Authorization: DPoP` and a proof made with that key.
   */
  readonly dpopJkt?: string;
}

/**
 * Outcome of validating a token in one verification mode. Inactive outcomes carry the
 * reason, which becomes the `reason` of the `invalid_token` refusal (logged, never sent: the
 * response's description is one fixed text).
 */
export type AccessTokenValidation =
  | { readonly active: true; readonly accessToken: VerifiedAccessToken }
  | { readonly active: false; readonly reason: string };

/**
 * One verification mode: `introspection` (RFC 7662, introspection.ts) or `local` (RFC 9068 JWTs,
 * local-verifier.ts). Issuer, audience and subject checks belong here; expiry and scope are
 * checked by the token verifier on every request because validations are cached.
 *
 * Implementations resolve to an inactive outcome for tokens that are not acceptable, and
 * throw {@link IntrospectionUnavailableError}-like {@link ResourceServerError}s only when
 * they cannot decide.
 */
export interface AccessTokenValidator {
  validate(accessToken: string): Promise<AccessTokenValidation>;
}
