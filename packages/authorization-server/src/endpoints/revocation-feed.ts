/**
 * GET /oauth/revoked-access-tokens?since=<epoch seconds>[&after=<jti>]: the revocation feed for resource
 * servers that validate JWT access tokens locally (SPEC decision 7: a superseded or revoked access token is
 * refused within a documented bound). Resource servers poll it with their introspection credentials.
 *
 * Response: `{ revoked: [{ jti, exp, revoked_at }], next_since, next_after?, server_time }`, ascending by
 * `revoked_at` then `jti`, at most 1000 entries. `since` alone is inclusive (every entry revoked in that
 * second or later); with `after`, the page starts after that entry of the second `since`. A full page
 * carries `next_after` (its last `jti`): the caller asks again with `since=next_since&after=next_after`, so
 * a second with more than a page of revocations (every rotation revokes an access token; revoking a client
 * revokes all of its at once) is read through. Callers without `after` get the first page of that second
 * again. Tokens expired for more than a minute are left out: they are refused anyway.
 *
 * Errors: 401 `invalid_client`; 400 `unauthorized_client` for a caller other than the audience's resource
 * server; 400 `invalid_request` for a malformed `since` or an `after` that is not a jti (a UUID).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient } from '../clients/client-authentication.ts';
import { OAuthError } from '../errors.ts';
import { singleParameter, type RawParameters } from '../http/parameters.ts';
import type { ServerContext } from '../server-context.ts';
import { sendNoStoreJson } from './token.ts';
import { isUuid } from '@gatehouse/protocol';

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
  const after = singleParameter(query, 'after');
  if (after !== undefined && !isUuid(after)) throw new OAuthError('invalid_request', 'after must be the jti of a feed entry');
  const now = context.clock.nowSeconds();
  const revoked = await context.storage.tokens.listRevokedAccessTokens({ sinceSeconds: since, afterTokenId: after }, now - REVOCATION_FEED_EXPIRY_GRACE_SECONDS,
    REVOCATION_FEED_PAGE_SIZE, isDefault ? null : caller.audience);
  const last = revoked.at(-1);
  sendNoStoreJson(reply, 200, {
    revoked: revoked.map((token) => ({ jti: token.tokenId, exp: token.expiresAt, revoked_at: token.revokedAt })),
    next_since: last === undefined ? since : last.revokedAt,
    ...(revoked.length === REVOCATION_FEED_PAGE_SIZE ? { next_after: last!.tokenId } : {}),
    server_time: now,
  });
}
