/**
 * POST /oauth/token (RFC 6749 §3.2): parse form → authenticate client (§2.3.1) → grant handler by
 * `grant_type` → JSON with `Cache-Control: no-store` (§5.1).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClientCredential } from '../clients/client-authentication.ts';
import { OAuthError } from '../errors.ts';
import { grantHandlers } from '../grants/grant.ts';
import { singleParameter, type RawParameters } from '../http/parameters.ts';
import { rateLimitedAuthentication } from '../http/rate-limit.ts';
import type { ServerContext } from '../server-context.ts';
import { tokenRequestDpopKey } from '../tokens/dpop-proof.ts';

export async function tokenEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const parameters = requireForm(request);
  // SPEC decision 18: counted against the address, and against the client once it authenticated.
  const { client, authenticated } = await rateLimitedAuthentication(context, 'token',
    () => authenticateClientCredential(context.storage, request.headers.authorization, parameters, { allowPublicClients: true }, context.clock.nowSeconds()),
    (authentication) => authentication.client.clientId);
  if (client.kind !== 'client') throw new OAuthError('unauthorized_client', 'a resource server credential cannot obtain tokens');
  const grantType = singleParameter(parameters, 'grant_type');
  if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
  const handler = grantHandlers.get(grantType);
  // RFC 6749 §5.2: error_description is a fixed text; the grant_type sent is never echoed.
  if (!handler) throw new OAuthError('unsupported_grant_type', 'grant_type is not supported: use authorization_code or refresh_token');
  // RFC 9449 §5: a DPoP proof binds the tokens to its key (checked, nonce, recorded against replay).
  const dpopJkt = await tokenRequestDpopKey(context, request, reply);
  // RFC 9449 §5.2 dpop_bound_access_tokens: "MUST reject token requests from the client that do not contain the DPoP header".
  if (dpopJkt === undefined && client.dpopBoundAccessTokens) throw new OAuthError('invalid_request', 'a DPoP proof is required: this client is registered with dpop_bound_access_tokens');
  let response: unknown;
  try {
    response = await handler.handle(context, client, parameters, dpopJkt, authenticated);
  } catch (error) {
    if (error instanceof OAuthError && REFUSALS_AUDITED.has(error.code)) await auditRefusal(context, client.clientId, grantType, error);
    throw error;
  }
  sendNoStoreJson(reply, 200, response);
}

/** The refusals a partner needs to see in the portal's integration activity (issue 13): why a redemption or refresh failed. */
const REFUSALS_AUDITED = new Set(['invalid_grant', 'invalid_scope']);

/**
 * SPEC decision 19: records `token.refused` with the client, the grant type and the OAuth error code and
 * description (fixed texts that never echo the request, RFC 6749 §5.2), never a code or token value.
 */
async function auditRefusal(context: ServerContext, clientId: string, grantType: string, error: OAuthError): Promise<void> {
  await context.storage.audit.record({
    type: 'token.refused', at: context.clock.nowSeconds(), actor: `client:${clientId}`, clientId,
    details: { grant_type: grantType, error: error.code, error_description: error.description },
  });
}

/**
 * RFC 6749 §3.2 (RFC 7009 §2.1, RFC 7662 §2.1, RFC 9126 §2.1 likewise): the token, revocation, introspection and
 * PAR endpoints take application/x-www-form-urlencoded POST bodies only. A body of another
 * media type never gets here (415 before it is read, http/media-types.ts); what this refuses is a POST without
 * a body (400, as before: there is no content whose type could be unsupported).
 */
export function requireForm(request: FastifyRequest): RawParameters {
  const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/x-www-form-urlencoded' || typeof request.body !== 'object' || request.body === null) {
    throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded');
  }
  return request.body as RawParameters;
}

/** RFC 6749 §5.1: responses with tokens or credentials carry `Cache-Control: no-store` and `Pragma: no-cache`. */
export function sendNoStoreJson(reply: FastifyReply, status: number, body: unknown): void {
  reply.code(status).header('cache-control', 'no-store').header('pragma', 'no-cache').type('application/json; charset=utf-8').send(body);
}
