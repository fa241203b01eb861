/**
 * Minting an access token and a refresh token for a grant, and the token response (RFC 6749 §5.1).
 */
import { randomUUID, randomUUIDv7 } from 'node:crypto';
import type { ServerContext } from '../server-context.ts';
import type { GrantRecord, TokenForCode, TokenRecord } from '../storage/storage.ts';
import { formatSubjectUrn, subjectUrnMemberName } from '@gatehouse/protocol';
import { signAccessToken } from './jwt-access-token.ts';

export interface TokenResponse {
  access_token: string;
  /** RFC 9449 §5: `DPoP` when the access token is bound to a DPoP key. */
  token_type: 'Bearer' | 'DPoP';
  /** Seconds. */
  expires_in: number;
  refresh_token: string;
  scope: string;
  /** Plus `urn:<ns>:params:oauth:subject_urn` (SPEC §2). */
  [member: string]: string | number;
}

/**
 * @param accessScope the access token's scope (narrower at refresh, RFC 6749 §6).
 * @param refreshScope the refresh token's scope, identical to the grant's (RFC 6749 §6).
 * @param audience RFC 8707 §2.2: the one resource the access token is for (its `aud`); undefined for the
 *   default resource (`accessTokenAudience`), stored without an audience.
 * @param binding RFC 9449 §5, §6.1: the DPoP key thumbprint each token is bound to; absent: not bound.
 */
export async function mintTokenPair(
  context: ServerContext,
  grant: GrantRecord,
  clientName: string,
  accessScope: string[],
  refreshScope: string[],
  now: number,
  audience?: string,
  binding: { accessJkt?: string; refreshJkt?: string } = {},
): Promise<{ records: TokenRecord[]; response: TokenResponse }> {
  const { options, codec } = context;
  const accessTokenId = newAccessTokenId();
  const accessExpiresAt = now + options.accessTokenLifetimeSeconds;
  const access = options.accessTokenFormat === 'jwt'
    ? await signedAccessToken(context, grant, clientName, accessScope, accessTokenId, now, accessExpiresAt, audience ?? options.accessTokenAudience, binding.accessJkt)
    : codec.mint('gat');
  const refresh = codec.mint('grt');
  const [accessToken, refreshToken] = pairTokens(context, now, access.digest, accessTokenId, refresh.digest, binding);
  const base = { grantId: grant.grantId, clientId: grant.clientId, issuedAt: now, rotatedAt: null, revokedAt: null };
  const records: TokenRecord[] = [
    { ...base, ...accessToken, scope: accessScope, ...(audience === undefined ? {} : { audience }) },
    { ...base, ...refreshToken, scope: refreshScope },
  ];
  return { records, response: tokenResponse(context, grant, accessScope, { access: access.value, refresh: refresh.value }, binding.accessJkt) };
}

/**
 * A new pair's access and refresh token as stored, before their grant and scope are attached: the access
 * token for `accessTokenLifetimeSeconds`, the refresh token for `refreshTokenLifetimeSeconds` from `now`
 * (SPEC decision 8: each rotation issues a refresh token valid for 60 days from then), each bound to its
 * DPoP key if any (RFC 9449 §6.1).
 */
function pairTokens(
  context: ServerContext, now: number, accessDigest: string, accessTokenId: string, refreshDigest: string, binding: { accessJkt?: string; refreshJkt?: string },
): [access: TokenForCode, refresh: TokenForCode] {
  const { options } = context;
  return [
    { tokenDigest: accessDigest, tokenId: accessTokenId, kind: 'access', expiresAt: now + options.accessTokenLifetimeSeconds,
      ...(binding.accessJkt === undefined ? {} : { dpopJkt: binding.accessJkt }) },
    { tokenDigest: refreshDigest, tokenId: randomUUID(), kind: 'refresh', expiresAt: now + options.refreshTokenLifetimeSeconds,
      ...(binding.refreshJkt === undefined ? {} : { dpopJkt: binding.refreshJkt }) },
  ];
}

/**
 * Issue 12: an opaque access token and a refresh token minted before their grant is read, for
 * `grants.exchangeReadyCode` (which gives them the code's scope and the grant it creates): what is stored
 * of them and their values, for `tokenResponse` once the grant is known. Lifetimes as mintTokenPair's.
 */
export function mintOpaqueTokenPair(
  context: ServerContext, now: number, binding: { accessJkt?: string; refreshJkt?: string } = {},
): { tokens: TokenForCode[]; values: { access: string; refresh: string } } {
  const access = context.codec.mint('gat');
  const refresh = context.codec.mint('grt');
  return { tokens: pairTokens(context, now, access.digest, newAccessTokenId(), refresh.digest, binding), values: { access: access.value, refresh: refresh.value } };
}

/**
 * An access token's id (`jti`, RFC 7519 §4.1.7; RFC 9068 §2.2): a UUIDv7 (RFC 9562 §5.7), time-ordered with
 * 74 random bits. Issue 12: the revocation feed's index is ordered by (revoked_at, token_id), and a rotation
 * revokes the access token it supersedes, minted about one access-token lifetime earlier and so in about the
 * order it is now revoked: with time-ordered ids a second's revocations land on the index's last pages
 * instead of a random page each (WAL frames per rotation 2.70 → 1.65 in `bench/wal-frames-probe.ts`). The
 * mint time it reveals is the token's `iat`, which the JWT and introspection already give.
 */
function newAccessTokenId(): string {
  return randomUUIDv7();
}

/** RFC 6749 §5.1: the token response for a grant's new pair (RFC 9449 §5: `DPoP` when the access token is bound). */
export function tokenResponse(
  context: ServerContext, grant: GrantRecord, accessScope: string[], values: { access: string; refresh: string }, accessJkt: string | undefined,
): TokenResponse {
  const { options } = context;
  return {
    access_token: values.access,
    token_type: accessJkt === undefined ? 'Bearer' : 'DPoP',
    expires_in: options.accessTokenLifetimeSeconds,
    refresh_token: values.refresh,
    scope: accessScope.join(' '),
    [subjectUrnMemberName(options.brand.urnNamespace)]: formatSubjectUrn(options.brand.urnNamespace, grant.subjectType, grant.subjectId),
  };
}

async function signedAccessToken(
  context: ServerContext, grant: GrantRecord, clientName: string, scope: string[], tokenId: string, issuedAt: number, expiresAt: number, audience: string,
  dpopJkt: string | undefined,
): Promise<{ value: string; digest: string }> {
  const { options } = context;
  const value = await signAccessToken(context.signingKey, {
    issuer: options.issuer, audience, grant, clientName, scope, tokenId, issuedAt, expiresAt,
    urnNamespace: options.brand.urnNamespace, ...(dpopJkt === undefined ? {} : { dpopJkt }),
  });
  return { value, digest: context.codec.digestOfSignedValue(value) };
}
