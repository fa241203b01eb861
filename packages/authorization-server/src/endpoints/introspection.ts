/**
 * POST /oauth/token/introspect (RFC 7662; SPEC §3, decision 14).
 *
 * Client-authenticated with HTTP Basic. A client sees only tokens issued to it; a resource server sees
 * the access tokens issued for its audience. Anything else, including unknown, malformed, expired,
 * revoked or superseded tokens, is `{"active": false}` (RFC 7662 §2.2) so nothing leaks.
 */
import { registeredScopes } from '../clients/registration.ts';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient } from '../clients/client-authentication.ts';
import { OAuthError } from '../errors.ts';
import { singleParameter } from '../http/parameters.ts';
import { rateLimitedAuthentication } from '../http/rate-limit.ts';
import type { ServerContext } from '../server-context.ts';
import type { ClientRecord, TokenWithGrant } from '../storage/storage.ts';
import { formatSubjectUrn, subjectUrnMemberName } from '@gatehouse/protocol';
import { isTokenActive } from '../tokens/token-state.ts';
import { isOwnAccessTokenJwt } from '../tokens/jwt-access-token.ts';
import { requireForm, sendNoStoreJson } from './token.ts';
import { audienceOf } from '../resources/resource-indicators.ts';
import { isApiKeyValue } from '../api-keys/api-key.ts';
import { introspectApiKey } from '../api-keys/api-key-introspection.ts';

/** How often an introspected access token refreshes its grant's `lastUsedAt`, in seconds. */
export const GRANT_USE_RECORDING_INTERVAL_SECONDS = 60;

export async function introspectionEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const parameters = requireForm(request);
  const caller = await rateLimitedAuthentication(context, 'introspection', // SPEC decision 18
    () => authenticateClient(context.storage, request.headers.authorization, parameters, { allowPublicClients: false }, context.clock.nowSeconds()), (client) => client.clientId);
  const token = singleParameter(parameters, 'token');
  singleParameter(parameters, 'token_type_hint'); // RFC 7662 §2.1: a hint only; checked for repetition, then ignored.
  if (token === undefined) throw new OAuthError('invalid_request', 'token is required');
  // Issue 16: API keys (`gak_…`) answer through api-keys/api-key-introspection.ts, with or without token_type_hint=api_key.
  if (isApiKeyValue(token)) return introspectApiKey(context, caller, token, reply);

  const found = await findToken(context, token);
  const now = context.clock.nowSeconds();
  // A scope the client is no longer registered for (clients.update revoked the access tokens naming one and
  // narrowed the refresh tokens in one commit; this catches a token issued by a request in flight at that moment).
  const registered = found && registeredScopes(found.client, found.token.scope);
  const narrowedAway = found !== undefined && registered!.length < found.token.scope.length && (found.token.kind === 'access' || registered!.length === 0);
  if (!found || narrowedAway || !isTokenActive(found, now) || !mayIntrospect(context, caller, found)) {
    sendNoStoreJson(reply, 200, { active: false });
    return;
  }
  // "Last token use" on the connected apps page (issue 7): at most one write per grant per minute, and none
  // while the token is younger than that. The listing's last use is the later of the recorded use and the
  // grant's latest token issued (storage.ts `GrantListing.lastUsedAt`), and this token is one of those, so
  // a write within the interval after its issue would add nothing the page may show. The recorded use comes
  // with the token's row, so every instance sees another's and none writes again early. Issue 12: the use is
  // noted, not written: the recorder writes the uses of a second in one statement, off this answer's path.
  const interval = GRANT_USE_RECORDING_INTERVAL_SECONDS;
  const recordedAt = found.grantUseRecordedAt;
  if (found.token.kind === 'access' && now - found.token.issuedAt >= interval && (recordedAt === undefined || now - recordedAt >= interval)) {
    context.lastUses.grants.note(found.grant.grantId, now);
  }
  const { options } = context;
  const ns = options.brand.urnNamespace;
  sendNoStoreJson(reply, 200, {
    active: true,
    scope: registered!.join(' '),
    client_id: found.token.clientId,
    client_name: found.client.clientName,
    // RFC 9449 §6.2: a bound access token is of type DPoP and names its key in `cnf.jkt`.
    token_type: found.token.kind === 'access' ? (found.token.dpopJkt === undefined ? 'Bearer' : 'DPoP') : 'refresh_token',
    ...(found.token.dpopJkt === undefined ? {} : { cnf: { jkt: found.token.dpopJkt } }),
    exp: found.token.expiresAt,
    iat: found.token.issuedAt,
    sub: found.grant.userId,
    // RFC 7662 §2.2 aud; RFC 8707 §2.2: the one resource the access token was issued for.
    aud: audienceOf(found.token, options.accessTokenAudience),
    iss: options.issuer,
    jti: found.token.tokenId,
    [subjectUrnMemberName(ns)]: formatSubjectUrn(ns, found.grant.subjectType, found.grant.subjectId),
  });
}

/**
 * Looks up an access token (opaque or JWT) or a refresh token; undefined when forged or unknown.
 * The HMAC tag or the JWT signature is checked before storage is asked.
 */
export async function findToken(context: ServerContext, token: string): Promise<TokenWithGrant | undefined> {
  let digest = context.codec.digestOf(token, 'gat') ?? context.codec.digestOf(token, 'grt');
  if (digest === undefined && (await isOwnAccessTokenJwt(context.signingKey, context.options.issuer, token))) {
    digest = context.codec.digestOfSignedValue(token);
  }
  return digest === undefined ? undefined : context.storage.tokens.findByDigest(digest);
}

/**
 * SPEC decision 14: a resource server sees only access tokens issued for its own audience (issue 15 §4:
 * never another resource server's, RFC 8707); a client only its own tokens.
 */
function mayIntrospect(context: ServerContext, caller: ClientRecord, found: TokenWithGrant): boolean {
  if (caller.kind === 'resource_server') {
    return found.token.kind === 'access' && caller.audience === audienceOf(found.token, context.options.accessTokenAudience);
  }
  return found.token.clientId === caller.clientId;
}
