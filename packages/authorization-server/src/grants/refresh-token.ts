/**
 * The refresh_token grant with rotation on every use (RFC 6749 §6, RFC 9700 §4.14.2, SPEC decision 8).
 */
import { OAuthError } from '../errors.ts';
import { singleParameter } from '../http/parameters.ts';
import { parseScope } from '../scopes.ts';
import type { ServerContext } from '../server-context.ts';
import type { GrantRecord } from '../storage/storage.ts';
import { mintTokenPair } from '../tokens/token-pair.ts';
import type { GrantHandler } from './grant.ts';

export const refreshTokenGrant: GrantHandler = {
  grantType: 'refresh_token',
  async handle(context, client, parameters) {
    const { storage, codec, clock } = context;
    const refreshToken = singleParameter(parameters, 'refresh_token');
    const scopeParameter = singleParameter(parameters, 'scope');
    if (refreshToken === undefined) throw new OAuthError('invalid_request', 'refresh_token is required');
    const requestedScope = scopeParameter === undefined ? undefined : parseScope(scopeParameter);
    if (scopeParameter !== undefined && requestedScope === undefined) throw new OAuthError('invalid_scope', 'scope is malformed (RFC 6749 section 3.3)');

    const tokenDigest = codec.digestOf(refreshToken, 'grt');
    if (tokenDigest === undefined) throw new OAuthError('invalid_grant', 'refresh token is invalid');
    const found = await storage.tokens.findByDigest(tokenDigest);
    if (!found || found.token.kind !== 'refresh') throw new OAuthError('invalid_grant', 'refresh token is invalid');
    const { token, grant } = found;
    // RFC 6749 §6: the refresh token was issued to the authenticated client.
    if (token.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'refresh token was issued to another client');
    const now = clock.nowSeconds();
    if (grant.revokedAt !== null) throw new OAuthError('invalid_grant', 'the authorization was revoked');
    if (token.rotatedAt !== null || token.revokedAt !== null) {
      // RFC 9700 §4.14.2 / SPEC decision 8: a rotated-out token presented again means it leaked, or a
      // client lost a race; either way every token of the grant is revoked.
      await revokeForReuse(context, grant, client.clientId, now, 'refresh_token_reuse');
      throw new OAuthError('invalid_grant', 'refresh token was already used; the authorization is revoked');
    }
    if (now >= token.expiresAt) {
      // Platform docs: "If an expired refresh token is used, all active refresh tokens for that authorisation are invalidated".
      await revokeForReuse(context, grant, client.clientId, now, 'refresh_token_expired');
      throw new OAuthError('invalid_grant', 'refresh token has expired; the authorization is revoked');
    }
    // RFC 6749 §6: the requested scope "MUST NOT include any scope not originally granted".
    const accessScope = requestedScope ?? token.scope;
    const widened = accessScope.filter((scope) => !token.scope.includes(scope));
    if (widened.length > 0) throw new OAuthError('invalid_scope', 'scope exceeds the original grant');

    // RFC 6749 §6: a new refresh token keeps the scope of the one it replaces.
    const { records, response } = await mintTokenPair(context, grant, client.clientName, accessScope, token.scope, now);
    // The audit event commits with the rotation: one commit per refresh.
    const rotation = await storage.tokens.rotateRefreshToken(tokenDigest, now, records, {
      type: 'refresh_token.rotated', at: now, actor: `client:${client.clientId}`, clientId: client.clientId, grantId: grant.grantId,
      details: { scope: accessScope.join(' '), previous_refresh_token_id: token.tokenId, access_token_id: records[0]!.tokenId, refresh_token_id: records[1]!.tokenId },
    });
    if (rotation === 'not_current') {
      // Lost a concurrent rotation of the same token: that is reuse too (exactly one use succeeds).
      await revokeForReuse(context, grant, client.clientId, now, 'refresh_token_reuse');
      throw new OAuthError('invalid_grant', 'refresh token was already used; the authorization is revoked');
    }
    return response;
  },
};

async function revokeForReuse(context: ServerContext, grant: GrantRecord, clientId: string, now: number, reason: string): Promise<void> {
  if (await context.storage.grants.revoke(grant.grantId, now, reason)) {
    await context.storage.audit.record({
      type: 'refresh_token.reuse_detected', at: now, actor: `client:${clientId}`, clientId, grantId: grant.grantId, details: { reason },
    });
  }
}
