/**
 * GET /oauth/revoked-access-tokens?since=<epoch seconds>: the revocation feed for resource servers that
 * validate JWT access tokens locally (SPEC decision 7: a superseded or revoked access token is refused
 * within a documented bound). Resource servers poll it with their introspection credentials.
 *
 * Response: `{ revoked: [{ jti, exp, revoked_at }], next_since, server_time }`, ascending by `revoked_at`,
 * at most 1000 entries; when full, the caller asks again with `since=next_since` (entries may repeat
 * across pages; callers dedupe by `jti`). Tokens expired for more than a minute are left out: they are
 * refused anyway.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient } from '../clients/client-authentication.ts';
import { OAuthError } from '../errors.ts';
import { singleParameter, type RawParameters } from '../http/parameters.ts';
import type { ServerContext } from '../server-context.ts';
import { sendNoStoreJson } from './token.ts';

export const REVOCATION_FEED_PAGE_SIZE = 1000;
/**
 * Revoked tokens stay in the feed this long past their `exp`: resource servers accept a token until
 * `exp` plus their clock skew, so dropping it at `exp` exactly could let it pass after revocation.
 */
export const REVOCATION_FEED_EXPIRY_GRACE_SECONDS = 60;

export async function revocationFeedEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const query = request.query as RawParameters;
  const caller = await authenticateClient(context.storage, request.headers.authorization, {}, { allowPublicClients: false }, context.clock.nowSeconds());
  // SPEC decision 14: only resource servers see tokens, and only those of their audience: the default
  // resource's, or a registered resource's (issue 15 §4, RFC 8707), never another's.
  const isDefault = caller.audience === context.options.accessTokenAudience;
  if (caller.kind !== 'resource_server' || caller.audience === null || (!isDefault && !(await context.storage.resources.find(caller.audience)))) {
    throw new OAuthError('unauthorized_client', 'only the resource server of this audience may read the revocation feed');
  }
  const sinceParameter = singleParameter(query, 'since') ?? '0';
  if (!/^\d{1,12}$/.test(sinceParameter)) throw new OAuthError('invalid_request', 'since must be whole seconds since the epoch');
  const since = Number(sinceParameter);
  const now = context.clock.nowSeconds();
  const revoked = await context.storage.tokens.listRevokedAccessTokens(since, now - REVOCATION_FEED_EXPIRY_GRACE_SECONDS, REVOCATION_FEED_PAGE_SIZE,
    isDefault ? null : caller.audience);
  sendNoStoreJson(reply, 200, {
    revoked: revoked.map((token) => ({ jti: token.tokenId, exp: token.expiresAt, revoked_at: token.revokedAt })),
    next_since: revoked.length > 0 ? revoked[revoked.length - 1]!.revokedAt : since,
    server_time: now,
  });
}
