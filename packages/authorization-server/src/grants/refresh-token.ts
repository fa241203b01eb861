/**
 * The refresh_token grant with rotation on every use (RFC 6749 §6, RFC 9700 §4.14.2, SPEC decision 8).
 *
 * Reuse grace window (SPEC decision 8, `refreshTokenReuseGraceSeconds`): each rotation keeps its successor
 * pair sealed under the replaced token (refresh-token-grace.ts). Presenting the just-replaced token again,
 * by the same client, within the window and before the successor was itself used, answers with that same
 * pair (same access and refresh token, the remaining `expires_in`); anything else that presents a replaced
 * token is reuse and revokes the grant. The answer rests on one read of the grant's grace record, which the
 * successor's rotation replaces in its own commit: a retry racing the successor's first use is served if
 * that read comes first and is reuse if it comes after, never both.
 */
import { registeredScopes } from '../clients/registration.ts';
import { grantRevocationEffects } from '../webhooks/webhook-events.ts';
import { OAuthError } from '../errors.ts';
import { singleParameter } from '../http/parameters.ts';
import { formatSubjectUrn, parseScope, subjectUrnMemberName } from '@gatehouse/protocol';
import type { ServerContext } from '../server-context.ts';
import type { ClientType, GrantRecord, TokenForCode, TokenRecord } from '../storage/storage.ts';
import { mintOpaqueTokenPair, mintTokenPair, tokenResponse, type TokenResponse } from '../tokens/token-pair.ts';
import type { GrantHandler } from './grant.ts';
import { CLIENT_CHANGED } from './authorization-code.ts';
import { sealSuccessor, unsealSuccessor } from './refresh-token-grace.ts';
import { loadResourceCatalogue, resourceParameters, tokenResource } from '../resources/resource-indicators.ts';

/**
 * One answer for a refresh token that is unknown, malformed, another client's, or bound to a DPoP key the
 * request did not prove (RFC 9449 §5), so the answer does not confirm to whoever presents a stolen value that it
 * is real. A public client's says what a bound token needs: only a public client's refresh token is ever bound.
 */
function invalidRefreshToken(clientType: ClientType): OAuthError {
  return new OAuthError('invalid_grant', clientType === 'public'
    ? 'refresh token is invalid, or bound to a DPoP key: a bound refresh token needs a DPoP proof made with its key'
    : 'refresh token is invalid');
}

export const refreshTokenGrant: GrantHandler = {
  grantType: 'refresh_token',
  async handle(context, client, parameters, dpopJkt, authenticated) {
    const { storage, codec, clock } = context;
    const refreshToken = singleParameter(parameters, 'refresh_token');
    const scopeParameter = singleParameter(parameters, 'scope');
    if (refreshToken === undefined) throw new OAuthError('invalid_request', 'refresh_token is required');
    const requestedScope = scopeParameter === undefined ? undefined : parseScope(scopeParameter);
    if (scopeParameter !== undefined && requestedScope === undefined) throw new OAuthError('invalid_scope', 'scope is malformed (RFC 6749 section 3.3)');
    // RFC 8707 §2: malformed indicators, and several (§2.2: one resource per access token), are refused first.
    const requestedResources = resourceParameters(parameters, { stored: false });
    if (requestedResources.length > 1 || Array.isArray(parameters.resource)) {
      throw new OAuthError('invalid_target', 'name exactly one resource per token request (RFC 8707 section 2.2)');
    }

    const tokenDigest = codec.digestOf(refreshToken, 'grt');
    if (tokenDigest === undefined) throw invalidRefreshToken(client.clientType);
    const now = clock.nowSeconds();
    const catalogue = await loadResourceCatalogue(context);
    let found: { token: TokenRecord; grant: GrantRecord } | undefined;
    if (context.options.accessTokenFormat !== 'jwt' && scopeParameter === undefined && requestedResources.length === 0 && dpopJkt === undefined) {
      // Issue 12: with opaque access tokens (minted before the token is read) and no scope, resource or DPoP
      // proof named, the storage makes the checks below itself (ReadyRefreshConditions), so the read and the
      // rotation are one round trip on PostgreSQL. Any other token comes back unchanged for them.
      const minted = mintOpaqueTokenPair(context, now);
      const [access, successor] = minted.tokens as [TokenForCode, TokenForCode];
      const graceSeconds = context.options.refreshTokenReuseGraceSeconds;
      // A token naming a scope the client is no longer registered for takes the path below, which narrows it.
      const defaultResourceScopes = registeredScopes(client, catalogue.defaultResource.scopes);
      const attempt = await storage.tokens.rotateReadyRefreshToken(
        tokenDigest, now, { clientId: client.clientId, defaultResourceScopes, clientSecretDigest: authenticated.secretDigest }, minted.tokens,
        {
          type: 'refresh_token.rotated', at: now, actor: `client:${client.clientId}`, clientId: client.clientId,
          details: { access_token_id: access.tokenId, refresh_token_id: successor.tokenId },
        },
        // SPEC decision 8: the successor pair, sealed under the presented token, for a retry within the window (0: none kept).
        graceSeconds === 0 ? undefined : {
          graceExpiresAt: now + graceSeconds,
          sealedSuccessor: sealSuccessor(refreshToken, tokenDigest, {
            accessToken: minted.values.access, refreshToken: minted.values.refresh, tokenType: 'Bearer',
            accessExpiresAt: access.expiresAt, accessTokenId: access.tokenId, refreshTokenId: successor.tokenId,
          }),
        },
      );
      // RFC 6749 §6: the scope answered is the one the rotation wrote (read under its lock: README "Registering clients").
      if (attempt.outcome === 'rotated') return tokenResponse(context, attempt.grant, attempt.scope, minted.values, undefined);
      if (attempt.outcome === 'not_current') return lostRotation(context, client.clientId, attempt.presented, attempt.grant, refreshToken, tokenDigest, now);
      if (attempt.outcome === 'client_changed') throw new OAuthError('invalid_client', CLIENT_CHANGED);
      found = attempt.found;
    } else {
      found = await storage.tokens.findByDigest(tokenDigest, { forRotation: true });
    }
    if (!found || found.token.kind !== 'refresh') throw invalidRefreshToken(client.clientType);
    const { token, grant } = found;
    // RFC 6749 §6: the refresh token was issued to the authenticated client. Another client's token answers as
    // an unknown one: the answer does not confirm to whoever presents a stolen token that it is real.
    if (token.clientId !== client.clientId) throw invalidRefreshToken(client.clientType);
    // RFC 9449 §5: a bound refresh token needs a proof "for the same key that was used to obtain the refresh
    // token". Checked before anything else: without the key, a presented token (even a rotated-out one)
    // changes nothing, so whoever copied it cannot get the grant revoked; and it answers as an unknown token
    // does (only a public client's is bound, and anyone can name a public client).
    if (token.dpopJkt !== undefined && dpopJkt !== token.dpopJkt) throw invalidRefreshToken(client.clientType);
    if (grant.revokedAt !== null) throw new OAuthError('invalid_grant', 'the authorization was revoked');
    // A scope the client is no longer registered for is granted no more: clients.update narrows the stored grant
    // and tokens in the same commit, and this catches a token rotated by a refresh in flight at that moment.
    let grantedScope = registeredScopes(client, token.scope);
    // RFC 6749 §6: the requested scope "MUST NOT include any scope not originally granted".
    const askedScope = requestedScope ?? grantedScope;
    const widened = askedScope.filter((scope) => !grantedScope.includes(scope));
    // RFC 8707 §2.2: a refresh may ask for any one resource granted at authorization, never another; the
    // access token's scope stays within that resource's family (issue 15 §4). Refused below, after reuse detection.
    let target: ReturnType<typeof tokenResource> | OAuthError;
    try {
      target = tokenResource(catalogue, grant.resources, requestedResources, askedScope, requestedScope !== undefined);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      target = error;
    }
    if (token.rotatedAt !== null && token.revokedAt === null && widened.length === 0 && !(target instanceof OAuthError)) {
      // SPEC decision 8: a retry of the just-rotated token within the grace window gets the same successor
      // pair (as first issued, whatever narrower scope this request names: the response's `scope` says).
      const retried = await answerWithinGrace(context, client.clientId, token, grant, refreshToken, tokenDigest, now);
      if (retried) return retried;
    }
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
    if (widened.length > 0 || target instanceof OAuthError) {
      // The lookup `forRotation` may answer the row as this instance last wrote it (PostgreSQL,
      // postgres/written-rows.ts), stale if another instance rotated or revoked it since. A write re-checks
      // that (the rotation's compare-and-swap); a refusal must not trust it: a rotated-out token presented
      // with a wider scope or another resource still revokes the grant (SPEC decision 8), as it does when read fresh.
      const stored = await storage.tokens.findByDigest(tokenDigest);
      if (stored !== undefined && stored.grant.revokedAt !== null) throw new OAuthError('invalid_grant', 'the authorization was revoked');
      if (stored && (stored.token.rotatedAt !== null || stored.token.revokedAt !== null)) {
        await revokeForReuse(context, stored.grant, client.clientId, now, 'refresh_token_reuse');
        throw new OAuthError('invalid_grant', 'refresh token was already used; the authorization is revoked');
      }
    }
    if (grantedScope.length === 0) throw new OAuthError('invalid_grant', 'the client is no longer registered for any scope of this authorization');
    if (widened.length > 0) throw new OAuthError('invalid_scope', 'scope exceeds the original grant');
    if (target instanceof OAuthError) throw target;
    let { accessScope, audience } = target;

    // RFC 6749 §6: a new refresh token keeps the scope of the one it replaces (less what the client lost).
    // RFC 9449 §5: the access token is bound to the proof's key; the refresh token stays bound to its key, and
    // a public client's becomes bound once it uses DPoP (a confidential client's is never bound).
    const refreshJkt = token.dpopJkt ?? (client.clientType === 'public' ? dpopJkt : undefined);
    const binding = { ...(dpopJkt === undefined ? {} : { accessJkt: dpopJkt }), ...(refreshJkt === undefined ? {} : { refreshJkt }) };
    // README "Registering clients": a narrowing that commits while this request is in flight (its client and token
    // read before it) makes the rotation refuse the tokens minted here (`scope_narrowed`, nothing written, the token
    // still current) and say what is left of the token's scope, read under the rotation's lock; they are minted
    // again with that (a JWT access token is signed with its scope). Each turn grants strictly less, so this ends.
    for (;;) {
      const { records, response } = await mintTokenPair(context, grant, client.clientName, accessScope, grantedScope, now, audience, binding);
      const [access, successor] = records as [TokenRecord, TokenRecord];
      // SPEC decision 8: the successor pair, sealed under the presented token, for a retry within the window (0: none kept).
      const graceSeconds = context.options.refreshTokenReuseGraceSeconds;
      const graceSuccessor = graceSeconds === 0 ? undefined : {
        grantId: grant.grantId, previousDigest: tokenDigest, graceExpiresAt: now + graceSeconds,
        sealedSuccessor: sealSuccessor(refreshToken, tokenDigest, {
          accessToken: response.access_token, refreshToken: response.refresh_token, tokenType: response.token_type, scope: response.scope,
          accessExpiresAt: access.expiresAt, accessTokenId: access.tokenId, refreshTokenId: successor.tokenId,
        }),
      };
      // The audit event and the grace record commit with the rotation: one commit per refresh.
      const rotation = await storage.tokens.rotateRefreshToken(tokenDigest, now, records, {
        type: 'refresh_token.rotated', at: now, actor: `client:${client.clientId}`, clientId: client.clientId, grantId: grant.grantId,
        details: { scope: accessScope.join(' '), ...(audience ? { resource: audience } : {}), previous_refresh_token_id: token.tokenId, access_token_id: access.tokenId, refresh_token_id: successor.tokenId },
      }, graceSuccessor, authenticated);
      // Checked before a lost race: a client change is no reuse, and revokes nothing.
      if (rotation === 'client_changed') throw new OAuthError('invalid_client', CLIENT_CHANGED);
      if (rotation === 'not_current') return lostRotation(context, client.clientId, token, grant, refreshToken, tokenDigest, now);
      // RFC 6749 §6: the scope answered is the one stored (the rotation refused any other).
      if (rotation === 'rotated') return response;
      grantedScope = registeredScopes({ scopes: rotation.scope }, grantedScope);
      if (grantedScope.length === 0) throw new OAuthError('invalid_grant', 'the client is no longer registered for any scope of this authorization');
      // RFC 6749 §6: a requested scope the grant no longer holds is not granted.
      const askedAgain = requestedScope ?? grantedScope;
      if (askedAgain.some((scope) => !grantedScope.includes(scope))) throw new OAuthError('invalid_scope', 'scope exceeds the original grant');
      ({ accessScope, audience } = tokenResource(catalogue, grant.resources, requestedResources, askedAgain, requestedScope !== undefined));
    }
  },
};

/**
 * Lost a concurrent rotation of the same token. Within the grace window that was this client's own retry:
 * it gets the winner's pair (one family, never a second branch; the pair minted here was never stored).
 * Otherwise it is reuse (exactly one use succeeds): the grant is revoked.
 */
async function lostRotation(
  context: ServerContext, clientId: string, token: TokenRecord, grant: GrantRecord, presentedRefreshToken: string, tokenDigest: string, now: number,
): Promise<TokenResponse> {
  const retried = await answerWithinGrace(context, clientId, token, grant, presentedRefreshToken, tokenDigest, now);
  if (retried) return retried;
  // Not a lost race but a revocation that committed meanwhile (a Disconnect, an administrator, a secret rotation
  // with revoke_grants): the token was never rotated, so it was not used twice; said as such, and no reuse recorded.
  const stored = await context.storage.tokens.findByDigest(tokenDigest);
  if (stored !== undefined && stored.token.rotatedAt === null && stored.grant.revokedAt !== null) throw new OAuthError('invalid_grant', 'the authorization was revoked');
  await revokeForReuse(context, grant, clientId, now, 'refresh_token_reuse');
  throw new OAuthError('invalid_grant', 'refresh token was already used; the authorization is revoked');
}

/**
 * The successor pair of the rotation that replaced `token`, if that was the grant's last rotation, the
 * window is still open and the grant is not revoked; `undefined` otherwise (the caller treats it as reuse).
 * The caller has checked that `token` belongs to `clientId` (RFC 6749 §6).
 */
async function answerWithinGrace(
  context: ServerContext, clientId: string, token: TokenRecord, grant: GrantRecord, presentedRefreshToken: string, tokenDigest: string, now: number,
): Promise<TokenResponse | undefined> {
  // SPEC decision 8: only the just-rotated token (the grace record follows the grant's LAST rotation, so a
  // used successor or any older token finds none), only within the window.
  const kept = await context.storage.tokens.findGraceSuccessor(tokenDigest);
  if (!kept || kept.grantId !== token.grantId || now >= kept.graceExpiresAt) return undefined;
  const successor = unsealSuccessor(presentedRefreshToken, tokenDigest, kept.grantId, kept.sealedSuccessor);
  if (!successor) return undefined;
  await context.storage.audit.record({
    type: 'refresh_token.reuse_within_grace', at: now, actor: `client:${clientId}`, clientId, grantId: kept.grantId,
    details: { previous_refresh_token_id: token.tokenId, access_token_id: successor.accessTokenId, refresh_token_id: successor.refreshTokenId },
  });
  // The same pair, byte for byte; `expires_in` is what remains of the access token's lifetime (RFC 6749 §5.1).
  const expiresIn = Math.max(0, successor.accessExpiresAt - now);
  if ('response' in successor) return { ...successor.response, expires_in: expiresIn }; // sealed by v1 or v2
  const { urnNamespace } = context.options.brand;
  return {
    access_token: successor.accessToken, token_type: successor.tokenType, expires_in: expiresIn, refresh_token: successor.refreshToken,
    scope: successor.scope ?? token.scope.join(' '),
    [subjectUrnMemberName(urnNamespace)]: formatSubjectUrn(urnNamespace, grant.subjectType, grant.subjectId),
  };
}

async function revokeForReuse(context: ServerContext, grant: GrantRecord, clientId: string, now: number, reason: string): Promise<void> {
  // Issue 15 §5: the partner learns of the revocation at once, not at its next refresh; the audit event and
  // the webhook delivery commit with the revocation.
  await context.storage.grants.revoke(grant.grantId, now, reason, grantRevocationEffects(context.options.brand.urnNamespace, now, reason, {
    type: 'refresh_token.reuse_detected', at: now, actor: `client:${clientId}`, clientId, grantId: grant.grantId, details: { reason },
  }));
}
