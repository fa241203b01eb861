export type { AccessTokenValidation, AccessTokenValidator, VerifiedAccessToken } from './access-token.ts';
export { BearerTokenError, INVALID_TOKEN_DESCRIPTION } from './bearer-token-error.ts';
export { authorizationHeaderValues, extractBearerToken, rejectAccessTokenOutsideHeader } from './bearer-token.ts';
export type { AuthorizationHeader, RequestParameterSources } from './bearer-token.ts';
export { formatBearerChallenge, quoteAuthParam } from './challenge.ts';
export type { BearerChallenge, BearerErrorCode } from './challenge.ts';
export { createAccessTokenCache, createAccessTokenCache as createIntrospectionCache, hashAccessToken } from './access-token-cache.ts';
export type {
  AccessTokenCache,
  AccessTokenCacheOptions,
  AccessTokenHash,
  AccessTokenCache as IntrospectionCache,
  AccessTokenCacheOptions as IntrospectionCacheOptions,
} from './access-token-cache.ts';
export { readIntrospectionResponse } from './introspection-response.ts';
export type { IntrospectionExpectations } from './introspection-response.ts';
export { IntrospectionUnavailableError } from './introspection-unavailable-error.ts';
export type { IntrospectionFailureReason } from './introspection-unavailable-error.ts';
export {
  createIntrospectionValidator,
  defaultIntrospectionEndpoint,
  isLoopbackHttpUrl,
  parseAuthorizationServerUrl,
} from './introspection.ts';
export type { FetchFunction, IntrospectionValidatorOptions } from './introspection.ts';
export { ResourceServerError } from './resource-server-error.ts';
export type { ErrorBody } from './resource-server-error.ts';
export { assertScopeNames, findMissingScopes, formatScope, isScopeName, parseScope, splitScope } from './scope.ts';
export {
  assertUrnNamespace,
  DEFAULT_URN_NAMESPACE,
  formatSubjectUrn,
  isUuid,
  parseSubjectUrn,
  requireOrganizationSubject,
  resolveCompanyId,
  SubjectAccessError,
  subjectUrnMemberName,
} from './subject.ts';
export type { CompanyMembershipLookup, Subject, SubjectAccessErrorCode, SubjectType, TokenSubject } from './subject.ts';
export { createTokenVerifier, TOKEN_VERIFIER_DEFAULTS } from './token-verifier.ts';
export type { IntrospectionVerifierOptions, LocalVerifierOptions, ProtectedResourceRequest, TokenVerifier, TokenVerifierOptions } from './token-verifier.ts';
// dpopHeaderValues: a middleware of another framework (Express) reads the DPoP proofs from rawHeaders as the Fastify hook does.
export { dpopHeaderValues, DpopTokenError, formatDpopChallenge } from './dpop.ts';
export type { DpopErrorCode } from './dpop.ts';
export { ACCESS_TOKEN_JWT_TYPE, ACCESS_TOKEN_SIGNING_ALGORITHMS, readJwtAccessTokenClaims } from './local-verifier.ts';
export { defaultJwksUri } from './jwks.ts';
export { defaultRevocationFeedEndpoint, REVOCATION_FEED_PAGE_SIZE } from './revocation-feed.ts';
export { scheduleUnrefTimer } from './timer.ts';
export type { ScheduleTimer, TimerHandle } from './timer.ts';
export { clientSecretBasicAuthorization } from './client-authentication.ts';
export {
  decorateAccessToken,
  fastifyLogSerializers,
  getAccessToken,
  redactAccessTokenFromUrl,
  requireAccessToken,
  sendResourceServerError,
} from './adapters/fastify.ts';
export type { AccessTokenHook } from './adapters/fastify.ts';
export { toResponse, verifyRequest, withAccessToken } from './adapters/web.ts';
export type { ProtectedHandler } from './adapters/web.ts';
// Issue 16: API keys alongside Bearer access tokens, with a per-route choice of accepted credentials.
export {
  API_KEY_PREFIX, ApiKeyError, createApiKeyVerifier, createCredentialVerifier, extractApiKey, formatBasicChallenge, INVALID_API_KEY_DESCRIPTION, readApiKeyIntrospection,
} from './api-key.ts';
export type { ApiKeyVerifier, ApiKeyVerifierOptions, CredentialKind, CredentialRequestMessage, CredentialVerifier, VerifiedApiKey, VerifiedCredential } from './api-key.ts';
export { credentialSubject, decorateCredential, getCredential, requireCredential } from './adapters/fastify-credential.ts';
