/**
 * The authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.5–4.6, SPEC decisions 2, 4, 6).
 */
import { registeredScopes } from '../clients/registration.ts';
import { randomUUIDv7 } from 'node:crypto';
import { OAuthError } from '../errors.ts';
import { singleParameter } from '../http/parameters.ts';
import type { AuthorizationCodeRecord, ClientType, GrantRecord } from '../storage/storage.ts';
import { mintOpaqueTokenPair, mintTokenPair, tokenResponse } from '../tokens/token-pair.ts';
import { challengeOf, CODE_VERIFIER, verifierMatchesChallenge } from './pkce.ts';
import type { GrantHandler } from './grant.ts';
import { loadResourceCatalogue, resourceParameters, tokenResource } from '../resources/resource-indicators.ts';
import { grantRevocationEffects } from '../webhooks/webhook-events.ts';

/**
 * The one description for an unknown, expired, forged or another client's code (issue 11 item 19): the
 * answers must not tell them apart.
 */
export const INVALID_CODE = 'authorization code is invalid or expired';
/** SPEC decision 6: something newer happened to the code's (client, subject) after it was issued. */
const CODE_OUTDATED = 'authorization code was issued before a later change to this connection';
/**
 * SPEC decisions 10 and 13 (storage.ts AuthenticatedClient): the client was suspended or deleted, or its secret
 * rotated, while this request was in flight. Nothing was stored and the code is unused: a retry authenticates again.
 */
export const CLIENT_CHANGED = 'the client was suspended, deleted or given a new secret during this request';

/**
 * Whether a replayed code's presenter proved to be the code's client (SPEC decision 6): a confidential
 * client by its authentication (already checked); a public one by the code's redirect_uri and, when
 * the code has a challenge, the verifier for it (RFC 7636 §4.6).
 */
function provesClient(clientType: ClientType, code: AuthorizationCodeRecord, redirectUri: string, codeVerifier: string | undefined): boolean {
  if (clientType === 'confidential') return true;
  if (redirectUri !== code.redirectUri) return false;
  if (code.codeChallenge === null) return false;
  return codeVerifier !== undefined && verifierMatchesChallenge(codeVerifier, code.codeChallenge);
}

export const authorizationCodeGrant: GrantHandler = {
  grantType: 'authorization_code',
  async handle(context, client, parameters, dpopJkt, authenticated) {
    const { storage, codec, clock } = context;
    const code = singleParameter(parameters, 'code');
    const redirectUri = singleParameter(parameters, 'redirect_uri');
    const codeVerifier = singleParameter(parameters, 'code_verifier');
    if (code === undefined) throw new OAuthError('invalid_request', 'code is required');
    // SPEC decision 4: the token request must repeat the redirect_uri of the authorization request.
    if (redirectUri === undefined) throw new OAuthError('invalid_request', 'redirect_uri is required');
    // Syntax is checked before the code is consumed, so a malformed request does not burn it.
    if (codeVerifier !== undefined && !CODE_VERIFIER.test(codeVerifier)) {
      throw new OAuthError('invalid_request', 'code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 section 4.1)');
    }
    // RFC 8707 §2: malformed indicators, and several of them (§2.2: one resource per token), are refused
    // before the code is consumed.
    const requestedResources = resourceParameters(parameters, { stored: false });
    if (requestedResources.length > 1 || Array.isArray(parameters.resource)) {
      throw new OAuthError('invalid_target', 'name exactly one resource per token request (RFC 8707 section 2.2)');
    }

    // The HMAC tag is checked before any lookup: a forged code costs no I/O.
    const codeDigest = codec.digestOf(code, 'gac');
    if (codeDigest === undefined) throw new OAuthError('invalid_grant', INVALID_CODE);
    const now = clock.nowSeconds();
    /**
     * RFC 6749 §4.1.2: "If an authorization code is used more than once, the authorization server MUST deny
     * the request and SHOULD revoke (when possible) all tokens previously issued based on that code."
     * SPEC decision 6: only after proof of the client. A confidential client proved itself by its
     * authentication; a public one only by the right redirect_uri and the verifier for the stored challenge.
     * Anything else is a plain invalid_grant that changes nothing: whoever saw a used code (in a log or a
     * referrer) must not be able to disconnect the user.
     */
    const refuseReplay = async (usedCode: AuthorizationCodeRecord, grantId: string | null): Promise<never> => {
      // A code with no grant was never redeemed: the directory voided it (its user, company or membership went,
      // storage.ts DirectoryStore). It answers as an unknown code does, and there is nothing to revoke.
      if (grantId === null) throw new OAuthError('invalid_grant', INVALID_CODE);
      // Unproven (a public client's code with a wrong or no verifier, or another redirect_uri): answered as an
      // unknown code, so whoever holds a used code learns nothing from the answer either (not even that it is real).
      if (!provesClient(client.clientType, usedCode, redirectUri, codeVerifier)) throw new OAuthError('invalid_grant', INVALID_CODE);
      // Issue 15 §5: the audit event and the partner's grant.revoked webhook commit with the revocation.
      await storage.grants.revoke(grantId, now, 'authorization_code_replayed', grantRevocationEffects(context.options.brand.urnNamespace, now, 'authorization_code_replayed', {
        type: 'authorization_code.replay_detected', at: now, actor: `client:${client.clientId}`,
        clientId: usedCode.clientId, grantId,
      }));
      throw new OAuthError('invalid_grant', 'authorization code was already used');
    };
    const catalogue = await loadResourceCatalogue(context);
    // RFC 9449 §5: with a proof the access token is bound to its key, and a public client's refresh token too
    // (a confidential client's refresh token is already sender-constrained by its authentication).
    const binding: { accessJkt?: string; refreshJkt?: string } = dpopJkt === undefined ? {} : { accessJkt: dpopJkt, ...(client.clientType === 'public' ? { refreshJkt: dpopJkt } : {}) };
    // Issue 12: a code is redeemed in ONE storage operation (consume + grant + tokens + audit), so a failure
    // anywhere leaves it unused and the client's retry works. A refused request (expired, wrong redirect_uri
    // or verifier) changes nothing. RFC 6749 §4.1.3: only a code issued to this client is found, so presenting
    // another client's code neither consumes it nor tells it apart from an unknown one.
    let found: { code: AuthorizationCodeRecord; used: boolean } | undefined;
    // A redirect_uri holding NUL matches no code's (PostgreSQL text cannot hold it, and would refuse it as a parameter
    // of the one-operation exchange: a 500): it takes the read below and is refused as a mismatch (RFC 6749 §4.1.3).
    if (context.options.accessTokenFormat !== 'jwt' && requestedResources.length === 0 && !redirectUri.includes('\u0000')) {
      // Issue 12: with opaque access tokens (minted before the code is read) and no resource named, the
      // storage makes the checks below itself (refusalOf, and tokenResource's for the default resource), so
      // the read and the redemption are one round trip. Any other code comes back unchanged for them.
      const minted = mintOpaqueTokenPair(context, now, binding);
      const grantId = randomUUIDv7();
      const attempt = await storage.grants.exchangeReadyCode(codeDigest, client.clientId, now, {
        redirectUri, codeChallenge: codeVerifier === undefined ? null : challengeOf(codeVerifier), dpopJkt: dpopJkt ?? null,
        // A code naming a scope the client is no longer registered for takes the path below, which narrows it.
        defaultResourceScopes: registeredScopes(client, catalogue.defaultResource.scopes), clientSecretDigest: authenticated.secretDigest,
      }, grantId, minted.tokens, {
        type: 'token.issued', at: now, actor: `client:${client.clientId}`, clientId: client.clientId, grantId,
        details: { grant_type: 'authorization_code', access_token_id: minted.tokens[0]!.tokenId, refresh_token_id: minted.tokens[1]!.tokenId },
      });
      if (attempt.outcome === 'issued') return tokenResponse(context, attempt.grant, attempt.grant.scope, minted.values, binding.accessJkt);
      if (attempt.outcome === 'replayed') return refuseReplay(attempt.code, attempt.grantId);
      if (attempt.outcome === 'code_outdated') throw new OAuthError('invalid_grant', CODE_OUTDATED);
      if (attempt.outcome === 'client_changed') throw new OAuthError('invalid_client', CLIENT_CHANGED);
      found = attempt.found;
    } else {
      found = await storage.authorizationCodes.find(codeDigest, client.clientId, { forRedemption: true });
    }
    if (found === undefined) throw new OAuthError('invalid_grant', INVALID_CODE);
    const answerReplay = async (): Promise<never> => {
      // Marks the code replayed and answers what its first use produced.
      const replayed = await storage.authorizationCodes.consume(codeDigest, now, client.clientId);
      if (replayed.outcome !== 'replayed') throw new OAuthError('invalid_grant', INVALID_CODE);
      return refuseReplay(replayed.code, replayed.grantId);
    };
    if (found.used) return answerReplay();
    const stored = found.code;
    const refusal = refusalOf(stored, now, redirectUri, codeVerifier, dpopJkt);
    if (refusal !== undefined) {
      // `forRedemption` may answer the code as this instance wrote it (PostgreSQL, postgres/written-rows.ts),
      // unused though another instance redeemed it since. The redemption below re-checks that; a refusal
      // must not trust it: a replayed code is answered as one, and revokes what its first use issued when
      // the client proves itself (SPEC decision 6), as when read fresh.
      if ((await storage.authorizationCodes.find(codeDigest, client.clientId))?.used) return answerReplay();
      throw refusal;
    }

    // A scope the client is no longer registered for is granted no more (clients.update narrows unredeemed codes
    // in its commit; this catches a code written by an authorization in flight then, or one this instance
    // remembers writing, postgres/written-rows.ts). Nothing left: the code is refused, as one the change voided.
    let grantedScope = registeredScopes(client, stored.scope);
    // README "Registering clients": a narrowing that commits while this request is in flight (read from the cached
    // client before it) makes the exchange refuse the grant built here (`scope_narrowed`, nothing written, the code
    // unused) and say what is left of it, read under the exchange's locks; the grant and its tokens (a JWT access
    // token is signed with its scope) are built again with that. Each turn grants strictly less, so this ends.
    for (;;) {
      if (grantedScope.length === 0) throw new OAuthError('invalid_grant', INVALID_CODE);
      // RFC 8707 §2.2: the access token is for one of the resources the code was issued for; its scope is the
      // code's scope within that resource's family (issue 15 §4).
      const { accessScope, audience } = tokenResource(catalogue, stored.resources, requestedResources, grantedScope, false);

      const grant: GrantRecord = {
        // A time-ordered UUID (RFC 9562 §5.7): the grants' primary key and the tokens' grant index take new
        // grants at their end, not on a random page (issue 12). It says when the grant was made, as created_at does.
        grantId: randomUUIDv7(), clientId: client.clientId, userId: stored.userId, subjectType: stored.subjectType,
        subjectId: stored.subjectId, scope: grantedScope, createdAt: now, revokedAt: null, revocationReason: null,
        ...(stored.resources ? { resources: stored.resources } : {}),
      };
      const { records, response } = await mintTokenPair(context, grant, client.clientName, accessScope, grantedScope, now, audience, binding);
      // Issue 12: consume, supersede, store the grant and its tokens, and record the audit event: one commit.
      const issued = await storage.grants.exchangeCode(codeDigest, client.clientId, now, grant, records, {
        type: 'token.issued', at: now, actor: `client:${client.clientId}`, clientId: client.clientId, grantId: grant.grantId,
        details: { grant_type: 'authorization_code', scope: accessScope.join(' '), ...(audience ? { resource: audience } : {}), access_token_id: records[0]!.tokenId, refresh_token_id: records[1]!.tokenId },
      }, authenticated);
      if (issued.outcome === 'scope_narrowed') {
        grantedScope = registeredScopes({ scopes: issued.scope }, grantedScope);
        continue;
      }
      if (issued.outcome === 'client_changed') throw new OAuthError('invalid_client', CLIENT_CHANGED);
      if (issued.outcome === 'unknown') throw new OAuthError('invalid_grant', INVALID_CODE);
      // A concurrent redemption of the same code won: this one is its replay (and it proved the client above).
      if (issued.outcome === 'replayed') return refuseReplay(stored, issued.grantId);
      // SPEC decision 6: the grant of this client and subject was revoked, disconnected or replaced by a newer
      // redemption after this code was issued; nothing was created or superseded.
      if (issued.outcome === 'code_outdated') throw new OAuthError('invalid_grant', CODE_OUTDATED);
      // RFC 6749 §5.1: the scope answered is the one stored (the exchange refused any other).
      return response;
    }
  },
};

/**
 * Why an unused code cannot be redeemed by this request, or undefined when it can (RFC 6749 §4.1.3,
 * RFC 7636 §4.6, RFC 9700 §2.1.1, RFC 9449 §10). Each refusal is a plain invalid_grant that changes nothing.
 */
function refusalOf(stored: AuthorizationCodeRecord, now: number, redirectUri: string | undefined, codeVerifier: string | undefined, dpopJkt: string | undefined): OAuthError | undefined {
  // SPEC decision 6: single use within its lifetime; an expired code reads like an unknown one.
  if (now >= stored.expiresAt) return new OAuthError('invalid_grant', INVALID_CODE);
  // RFC 6749 §4.1.3: redirect_uri identical to the one in the authorization request.
  if (redirectUri !== stored.redirectUri) return new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
  if (stored.codeChallenge !== null) {
    // RFC 7636 §4.6: the verifier must match the challenge the code was issued with.
    if (codeVerifier === undefined) return new OAuthError('invalid_grant', 'code_verifier is required: the authorization request had a code_challenge');
    if (!verifierMatchesChallenge(codeVerifier, stored.codeChallenge)) return new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
  } else if (codeVerifier !== undefined) {
    // RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a PKCE downgrade attempt.
    return new OAuthError('invalid_grant', 'code_verifier sent, but the authorization request had no code_challenge');
  }
  // RFC 9449 §10: "the authorization server ... verifies that [the proof key's thumbprint] matches the dpop_jkt
  // parameter value in the authorization request. If they do not match, it MUST reject the request." Checked
  // before the code is consumed, so the client holding the key can still redeem it.
  if (stored.dpopJkt !== undefined && dpopJkt !== stored.dpopJkt) {
    return new OAuthError('invalid_grant', dpopJkt === undefined
      ? 'a DPoP proof is required: the authorization request named dpop_jkt'
      : "the DPoP proof's key does not match the dpop_jkt of the authorization request");
  }
  return undefined;
}
