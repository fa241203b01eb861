/**
 * Fastify route hooks for routes that accept API keys (issue 16) as well as, or instead of, Bearer access
 * tokens: `preValidation: requireCredential(credentials, ['users:read'], ['bearer', 'api_key'])`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CredentialKind, CredentialVerifier, VerifiedCredential } from '../api-key.ts';
import { IntrospectionUnavailableError } from '../introspection-unavailable-error.ts';
import { ResourceServerError } from '../resource-server-error.ts';
import { assertScopeNames } from '../scope.ts';
import { sendResourceServerError } from './fastify.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by {@link requireCredential}; `null` on routes without it. */
    credential: VerifiedCredential | null;
  }
}

/** Declares `request.credential` (and `request.accessToken`) on the instance; idempotent. */
export function decorateCredential(app: import('fastify').FastifyInstance): void {
  if (!app.hasRequestDecorator('credential')) app.decorateRequest('credential', null);
  if (!app.hasRequestDecorator('accessToken')) app.decorateRequest('accessToken', null);
}

/**
 * A route hook admitting requests whose credential is one of `accepted` and grants every `requiredScopes`
 * entry. Sets `request.credential`, and for a Bearer token also `request.accessToken` (so
 * `getAccessToken` keeps working on Bearer-only code paths). A token in the query or a form body is
 * refused as before (RFC 6750 §2.2/§2.3). Refusals are rendered by `sendResourceServerError`.
 * @throws {TypeError} at route declaration when a scope name is malformed or `accepted` is empty.
 */
export function requireCredential(verifier: CredentialVerifier, requiredScopes: readonly string[], accepted: readonly CredentialKind[], realm: string) {
  assertScopeNames(requiredScopes);
  if (accepted.length === 0) throw new TypeError('accepted must name at least one credential kind');
  const scopes = [...requiredScopes];
  const kinds = [...accepted];
  return async function credentialHook(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    try {
      verifier.rejectAccessTokenOutsideHeader({ realm, query: request.query, body: request.body, contentType: request.headers['content-type'] });
      // Every Authorization and DPoP field of the raw request (Node keeps only the first in `headers`).
      const credential = await verifier.verifyRequestCredential(request.raw, scopes, kinds, request.ip);
      request.credential = credential;
      if (credential.kind === 'bearer') request.accessToken = credential.accessToken;
      return undefined;
    } catch (error) {
      if (error instanceof ResourceServerError) {
        if (error instanceof IntrospectionUnavailableError) request.log.error({ reason: error.reason, detail: error.detail }, 'credential could not be verified: authorization server unavailable');
        else request.log.info({ status: error.status, error: error.error, reason: (error as { reason?: string }).reason }, 'credential refused');
        return sendResourceServerError(reply, error);
      }
      throw error;
    }
  };
}

/**
 * The credential set by {@link requireCredential}, as the subject and scopes both kinds share.
 * @throws {Error} on a route without the hook (a programming error, hence 500).
 */
export function getCredential(request: FastifyRequest): VerifiedCredential {
  if (request.credential === null || request.credential === undefined) throw new Error('getCredential called on a route without requireCredential');
  return request.credential;
}

/** The subject and scopes of either kind of credential (what company isolation and scope checks need). */
export function credentialSubject(credential: VerifiedCredential) {
  return credential.kind === 'bearer' ? credential.accessToken : credential.apiKey;
}
