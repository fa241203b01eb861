import type { IntrospectionResponse } from 'oauth4webapi';
import type { AccessTokenValidation } from './access-token.ts';
import { parseSubjectUrn, splitScope, subjectUrnMemberName } from '@gatehouse/protocol';

/** What an introspection answer must match to be accepted here. */
export interface IntrospectionExpectations {
  /** Exact `iss` value (RFC 7662 §2.2; RFC 9207 style exact comparison). */
  readonly issuer: string;
  /** This resource server's identifier, expected in `aud` (RFC 7662 §2.2, RFC 8707). */
  readonly audience: string;
  readonly urnNamespace: string;
}

function inactive(reason: string): AccessTokenValidation {
  return { active: false, reason };
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Maps a parsed RFC 7662 response to a validation outcome. Time-independent checks only,
 * since the outcome is cached; `exp` is checked against the clock on every use.
 *
 * Members Gatehouse always sends (the contract with the authorization server) are required
 * here even where RFC 7662 makes them optional, so a token lacking them is refused rather
 * than half-trusted: `client_id`, `exp`, `iss`, `aud`, `token_type` = `Bearer`, and the
 * subject URN member.
 */
export function readIntrospectionResponse(response: IntrospectionResponse, expectations: IntrospectionExpectations): AccessTokenValidation {
  // RFC 7662 §2.2: "active" is the only member that decides; everything else is metadata.
  if (response.active !== true) {
    return inactive('The access token is not active');
  }
  // RFC 7662 §2.2 token_type (RFC 6749 §5.1): a refresh token presented as a bearer token
  // must not pass just because the authorization server knows it. RFC 9449 §6.2: a DPoP-bound access
  // token is of type DPoP and names its key in cnf.jkt.
  const tokenType = typeof response.token_type === 'string' ? response.token_type.toLowerCase() : undefined;
  if (tokenType !== 'bearer' && tokenType !== 'dpop') {
    return inactive('The token is not a Bearer or DPoP access token');
  }
  const dpopJkt = confirmationJkt(response.cnf);
  if (tokenType === 'dpop' && dpopJkt === undefined) {
    return inactive('The DPoP access token names no key (cnf.jkt)');
  }
  // RFC 7662 §4: the resource server checks it trusts the issuer of the token.
  if (response.iss !== expectations.issuer) {
    return inactive('The access token was issued by another authorization server');
  }
  // RFC 7662 §2.2 aud / RFC 8707 §2: a token for another resource server is not ours to honour.
  const audiences = typeof response.aud === 'string' ? [response.aud] : Array.isArray(response.aud) ? response.aud : [];
  if (!audiences.includes(expectations.audience)) {
    return inactive('The access token was not issued for this resource server');
  }
  // RFC 7662 §2.2 exp; SPEC decision 7: Gatehouse access tokens always expire.
  if (typeof response.exp !== 'number' || !Number.isFinite(response.exp)) {
    return inactive('The access token has no expiry');
  }
  const clientId = optionalString(response.client_id);
  if (clientId === undefined) {
    return inactive('The access token names no client');
  }
  // SPEC §2: the subject travels in urn:<ns>:params:oauth:subject_urn.
  const subjectUrn = response[subjectUrnMemberName(expectations.urnNamespace)];
  const subject = typeof subjectUrn === 'string' ? parseSubjectUrn(expectations.urnNamespace, subjectUrn) : undefined;
  if (subject === undefined || typeof subjectUrn !== 'string') {
    return inactive('The access token has no company or organization subject');
  }
  return {
    active: true,
    accessToken: {
      clientId,
      clientName: optionalString(response['client_name']),
      scope: splitScope(typeof response.scope === 'string' ? response.scope : undefined),
      subjectType: subject.subjectType,
      subjectId: subject.subjectId,
      subjectUrn,
      userId: optionalString(response.sub),
      expiresAt: response.exp,
      issuedAt: typeof response.iat === 'number' ? response.iat : undefined,
      tokenId: optionalString(response.jti),
      ...(dpopJkt === undefined ? {} : { dpopJkt }),
    },
  };
}

/** RFC 9449 §6.1/§6.2: the `jkt` member of a `cnf` claim or introspection member, when it is a non-empty string. */
export function confirmationJkt(cnf: unknown): string | undefined {
  if (typeof cnf !== 'object' || cnf === null) return undefined;
  return optionalString((cnf as Record<string, unknown>)['jkt']);
}
