/**
 * JWT access tokens (RFC 9068), for resource servers that validate locally instead of introspecting.
 * The token is still stored (as an HMAC digest of the whole JWT) so introspection, revocation and the
 * revocation feed treat it exactly like an opaque one.
 */
import { jwtVerify, SignJWT } from 'jose';
import type { GrantRecord } from '../storage/storage.ts';
import { formatSubjectUrn, subjectUrnMemberName } from '@gatehouse/protocol';
import { ACCESS_TOKEN_SIGNING_ALGORITHM, type SigningKey, type SigningKeyRing } from './signing-key.ts';

/** RFC 9068 §2.1: the `typ` header of a JWT access token. */
export const ACCESS_TOKEN_JWT_TYPE = 'at+jwt';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface AccessTokenClaims {
  issuer: string;
  audience: string;
  grant: GrantRecord;
  clientName: string;
  scope: string[];
  tokenId: string;
  issuedAt: number;
  expiresAt: number;
  urnNamespace: string;
  /** RFC 9449 §6.1: the DPoP key thumbprint the token is bound to, as `cnf.jkt`; absent when not bound. */
  dpopJkt?: string;
}

/** RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti, scope; plus the subject URN member (SPEC §2) and, when bound, `cnf.jkt` (RFC 9449 §6.1). */
export function signAccessToken(key: SigningKey, claims: AccessTokenClaims): Promise<string> {
  const { grant, urnNamespace } = claims;
  return new SignJWT({
    client_id: grant.clientId,
    client_name: claims.clientName,
    scope: claims.scope.join(' '),
    [subjectUrnMemberName(urnNamespace)]: formatSubjectUrn(urnNamespace, grant.subjectType, grant.subjectId),
    ...(claims.dpopJkt === undefined ? {} : { cnf: { jkt: claims.dpopJkt } }),
  })
    .setProtectedHeader({ alg: ACCESS_TOKEN_SIGNING_ALGORITHM, typ: ACCESS_TOKEN_JWT_TYPE, kid: key.kid })
    .setIssuer(claims.issuer)
    .setAudience(claims.audience)
    .setSubject(grant.userId)
    .setJti(claims.tokenId)
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.expiresAt)
    .sign(key.privateKey);
}

/**
 * True when the value is a JWT access token this server signed. Checked before any storage lookup, so
 * forged values cost no I/O; expiry and revocation are storage's answer, not the signature's.
 */
export async function isOwnAccessTokenJwt(key: SigningKey | SigningKeyRing, issuer: string, value: string): Promise<boolean> {
  if (!JWT_SHAPE.test(value)) return false;
  // Issue 14: a ring verifies with whichever published key the header's `kid` names (old keys until retired).
  const verificationKey = 'publicKeyFor' in key
    ? (header: { kid?: string }) => {
      const found = header.kid === undefined ? undefined : key.publicKeyFor(header.kid);
      if (!found) throw new Error('unknown kid');
      return found;
    }
    : key.publicKey;
  try {
    await jwtVerify(value, verificationKey as Parameters<typeof jwtVerify>[1], { issuer, typ: ACCESS_TOKEN_JWT_TYPE, algorithms: [ACCESS_TOKEN_SIGNING_ALGORITHM], clockTolerance: Number.MAX_SAFE_INTEGER });
    return true;
  } catch {
    return false;
  }
}
