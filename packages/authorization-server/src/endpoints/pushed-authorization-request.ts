/**
 * POST /oauth/par — pushed authorization requests (RFC 9126).
 *
 * Parse the form (repeated parameters refused, RFC 6749 §3.2) → authenticate the client exactly as at the
 * token endpoint (SPEC decision 1; RFC 9126 §2: "the same rules for client authentication as would be
 * used for the token endpoint") → validate the authorization parameters as /oauth/authorize does
 * (endpoints/authorization.ts) → store them under a fresh `request_uri` (only its digest, single use,
 * `PUSHED_REQUEST_LIFETIME_SECONDS`) → 201 `{ request_uri, expires_in }` with `no-store` (RFC 9126 §2.2).
 *
 * Errors are RFC 6749 §5.2 JSON (RFC 9126 §2.3), rendered by the route's `json()` wrapper: `invalid_client`
 * (401) for failed authentication, `invalid_request` for what /oauth/authorize shows as an error page (an
 * unregistered redirect_uri, RFC 9126 §2.4), and the codes /oauth/authorize would redirect with
 * (`invalid_request`, `invalid_scope`, `unsupported_response_type`, `invalid_target` for a `resource` that is
 * unknown or not allowed, RFC 8707 §2) otherwise.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticateClient } from '../clients/client-authentication.ts';
import { OAuthError } from '../errors.ts';
import { singleParameter, type RawParameters } from '../http/parameters.ts';
import { rateLimitedAuthentication } from '../http/rate-limit.ts';
import type { ServerContext } from '../server-context.ts';
import { AuthorizationPageError, AuthorizationRedirectError, validateAuthorizationRequest } from './authorization.ts';
import { PUSHED_REQUEST_LIFETIME_SECONDS, storeAuthorizationRequest } from './request-uri.ts';
import { tokenRequestDpopKey } from '../tokens/dpop-proof.ts';
import { requireForm, sendNoStoreJson } from './token.ts';

/** POST /oauth/par */
export async function pushedAuthorizationRequestEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = requireForm(request);
  const now = context.clock.nowSeconds();
  // RFC 9126 §2: client authentication as at the token endpoint (HTTP Basic for confidential clients, client_id for public ones).
  const client = await rateLimitedAuthentication(context, 'pushed_authorization_request', // SPEC decision 18
    () => authenticateClient(context.storage, request.headers.authorization, body, { allowPublicClients: true }, now), (caller) => caller.clientId);
  if (client.kind !== 'client') throw new OAuthError('unauthorized_client', 'a resource server credential cannot make authorization requests');
  // RFC 9126 §2.1: the authenticated client is the request's client; a client_id in the body that names
  // another one was already refused by authenticateClient (two identities in one request).
  const parameters: RawParameters = { ...body, client_id: client.clientId };
  // RFC 9449 §10.1: a DPoP proof sent with the pushed request binds the code to its key, as dpop_jkt does;
  // "if both mechanisms are used at the same time, the authorization server MUST reject the request if the
  // JWK Thumbprint in dpop_jkt does not match the public key in the DPoP header".
  const proofJkt = await tokenRequestDpopKey(context, request, reply, '/oauth/par');
  if (proofJkt !== undefined) {
    // RFC 6749 §3.1: read as every parameter is (an empty one is omitted, a repeated one invalid_request); read raw, an
    // empty dpop_jkt was a key mismatch and a repeated one invalid_dpop_proof.
    const namedJkt = singleParameter(parameters, 'dpop_jkt');
    if (namedJkt === undefined) parameters.dpop_jkt = proofJkt;
    else if (namedJkt !== proofJkt) throw new OAuthError('invalid_dpop_proof', "the DPoP proof's key does not match dpop_jkt");
  }
  let validated;
  try {
    validated = await validateAuthorizationRequest(context, parameters);
  } catch (error) {
    // RFC 9126 §2.3: the token endpoint's error format, with the codes of RFC 6749 §4.1.2.1.
    if (error instanceof AuthorizationPageError) throw new OAuthError('invalid_request', error.message);
    if (error instanceof AuthorizationRedirectError) throw new OAuthError(error.code, error.description);
    throw error;
  }
  const requestUri = await storeAuthorizationRequest(context, client.clientId, validated.parameters, now, now + PUSHED_REQUEST_LIFETIME_SECONDS);
  await context.storage.audit.record({ type: 'authorization_request.pushed', at: now, actor: `client:${client.clientId}`, clientId: client.clientId });
  sendNoStoreJson(reply, 201, { request_uri: requestUri, expires_in: PUSHED_REQUEST_LIFETIME_SECONDS });
}
