/**
 * POST /oauth/revoke (RFC 7009; SPEC decision 15). Revoking a refresh token revokes its whole grant;
 * revoking an access token revokes that token. Unknown tokens, and tokens of other clients, answer
 * 200 and change nothing (RFC 7009 §2.2), so the endpoint reveals nothing about them.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient } from '../clients/client-authentication.ts';
import { OAuthError } from '../errors.ts';
import { singleParameter } from '../http/parameters.ts';
import { rateLimitedAuthentication } from '../http/rate-limit.ts';
import type { ServerContext } from '../server-context.ts';
import { findToken } from './introspection.ts';
import { requireForm } from './token.ts';

export async function revocationEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const parameters = requireForm(request);
  const client = await rateLimitedAuthentication(context, 'revocation', // SPEC decision 18
    () => authenticateClient(context.storage, request.headers.authorization, parameters, { allowPublicClients: true }, context.clock.nowSeconds()), (caller) => caller.clientId);
  const token = singleParameter(parameters, 'token');
  singleParameter(parameters, 'token_type_hint'); // RFC 7009 §2.1: a hint the server may ignore.
  if (token === undefined) throw new OAuthError('invalid_request', 'token is required');

  const found = await findToken(context, token);
  const now = context.clock.nowSeconds();
  if (found && found.token.clientId === client.clientId) {
    if (found.token.kind === 'refresh') {
      // The audit event commits with the revocation, and only if this request revoked the grant (issue 12:
      // one transaction, no separate round trip).
      await context.storage.grants.revoke(found.grant.grantId, now, 'revoked_by_client', {
        auditEvent: { type: 'grant.revoked', at: now, actor: `client:${client.clientId}`, clientId: client.clientId, grantId: found.grant.grantId, details: { via: 'refresh_token' } },
      });
    } else {
      // The audit event commits with the revocation, and only if this request revoked the token (issue 15 §5).
      await context.storage.tokens.revokeAccessToken(found.token.tokenDigest, now, {
        type: 'access_token.revoked', at: now, actor: `client:${client.clientId}`, clientId: client.clientId, grantId: found.grant.grantId,
        details: { access_token_id: found.token.tokenId },
      });
    }
  }
  reply.code(200).header('cache-control', 'no-store').send();
}
