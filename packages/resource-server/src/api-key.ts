/**
 * API keys at the resource server (issue 16; SPEC §3 "API keys, the documented alternative to OAuth"),
 * accepted alongside Bearer access tokens with a per-route choice of credentials.
 *
 * - Wire format: HTTP Basic (RFC 7617 §2) with the key as the user-id and an empty password
 *   (`curl -u "gak_…:"`).
 * - Resolution: the authorization server's RFC 7662 endpoint with `token_type_hint=api_key` (RFC 7662
 *   §2.1; the hint is only a hint, the `gak_` prefix decides there), authenticated as this resource
 *   server (SPEC decision 14). The answer must say `token_type: "api_key"`, our `iss`, our `aud` and a
 *   company or organization subject; anything else is refused like an unknown key.
 * - Caching: answers (active or not) are reused for `cacheTtlSeconds` (default 5, as access tokens:
 *   the documented revocation bound, SPEC decision 7), keyed by the key's SHA-256, never past `exp`.
 * - Refusals: no credentials → 401 with a challenge for every accepted scheme; malformed Basic or a
 *   password → 400 `invalid_request`; any key that is not active → 401 `invalid_token` with one fixed
 *   description (no oracle: revoked, expired and unknown keys answer alike); missing scope → 403
 *   `insufficient_scope`; the authorization server unreachable → 503 with `Retry-After`.
 */
import * as oauth from 'oauth4webapi';
import type { IntrospectionResponse } from 'oauth4webapi';
import { parseSubjectUrn, splitScope, subjectUrnMemberName } from '@gatehouse/protocol';
import type { VerifiedAccessToken } from './access-token.ts';
import type { AuthorizationHeader, RequestParameterSources } from './bearer-token.ts';
import { bearerTokenCandidate, rejectAccessTokenOutsideHeader } from './bearer-token.ts';
import { formatDpopChallenge, usesDpopScheme } from './dpop.ts';
import { BearerTokenError } from './bearer-token-error.ts';
import { formatBearerChallenge, quoteAuthParam } from './challenge.ts';
import { createAccessTokenCache, hashAccessToken } from './access-token-cache.ts';
import { defaultIntrospectionEndpoint, isLoopbackHttpUrl, parseAuthorizationServerUrl } from './introspection.ts';
import type { FetchFunction } from './introspection.ts';
import { IntrospectionUnavailableError } from './introspection-unavailable-error.ts';
import { createCredentialGuard, createRefusalLimit, type GuardOutcome } from './refusal-limit.ts';
import { ResourceServerError } from './resource-server-error.ts';
import { assertScopeNames, findMissingScopes, formatScope } from './scope.ts';
import type { SubjectType } from './subject.ts';
import { cachedBearerVerification } from './token-verifier.ts';
import type { TokenVerifier } from './token-verifier.ts';

/** The prefix of Gatehouse API keys. */
export const API_KEY_PREFIX = 'gak_';
/** The one description of every refused key (no oracle). */
export const INVALID_API_KEY_DESCRIPTION = 'The API key is invalid';

/** What a route accepts: Bearer access tokens, API keys, or both. */
export type CredentialKind = 'bearer' | 'api_key';

/** An API key the resource server accepted. Subject fields are those of {@link VerifiedAccessToken}. */
export interface VerifiedApiKey {
  /** `jti`: the key's id, safe to log. */
  readonly keyId: string;
  /** `api_key_type`: `integrated` (an integration's key for one company) or `standalone`. */
  readonly keyType: 'integrated' | 'standalone';
  /** `client_id`: the integration, for integrated keys only. */
  readonly clientId: string | undefined;
  readonly clientName: string | undefined;
  readonly scope: readonly string[];
  readonly subjectType: SubjectType;
  readonly subjectId: string;
  readonly subjectUrn: string;
  /** `sub`: the administrator who created the key. */
  readonly userId: string | undefined;
  /** `exp`, epoch seconds; undefined for keys that do not expire. */
  readonly expiresAt: number | undefined;
  readonly issuedAt: number | undefined;
}

/** The credential of a request: a Bearer access token or an API key. */
export type VerifiedCredential =
  | { readonly kind: 'bearer'; readonly accessToken: VerifiedAccessToken }
  | { readonly kind: 'api_key'; readonly apiKey: VerifiedApiKey };

/** A refusal of an API-key request (401 with a Basic challenge, 400, 403). */
export class ApiKeyError extends ResourceServerError {
  /** Why, for logs only (never sent); holds no key value. */
  readonly reason: string | undefined;
  readonly requiredScopes: readonly string[];

  constructor(status: number, error: string, description: string, headers: Record<string, string>, options: { reason?: string; requiredScopes?: readonly string[] } = {}) {
    super(status, error, description, headers);
    this.reason = options.reason;
    this.requiredScopes = options.requiredScopes ?? [];
  }

  override get body() {
    return this.error === 'insufficient_scope'
      ? { error: this.error, error_description: this.errorDescription, scope: this.requiredScopes.join(' ') }
      : super.body;
  }
}

/** RFC 7617 §2: the Basic challenge, with `charset="UTF-8"` (§2.1). */
export function formatBasicChallenge(realm: string): string {
  return `Basic realm=${quoteAuthParam(realm)}, charset="UTF-8"`;
}

/**
 * The API key of a `Basic` Authorization header (RFC 7617 §2: base64 of `user-id ":" password`; the key
 * is the user-id, the password must be empty), or undefined when the header is absent or another scheme.
 * @throws {ApiKeyError} 400 `invalid_request` for two Authorization values, malformed Basic credentials, or a password.
 */
export function extractApiKey(authorizationHeader: AuthorizationHeader, realm: string): string | undefined {
  const values = typeof authorizationHeader === 'string' ? [authorizationHeader] : (authorizationHeader ?? []);
  const malformed = (description: string) => new ApiKeyError(400, 'invalid_request', description, { 'www-authenticate': formatBasicChallenge(realm) });
  const basicValues = values.filter((value) => /^basic(?:[ \t]|$)/i.test(value.trim()));
  if (basicValues.length === 0) return undefined;
  // RFC 9110 §11.6.2: one credential per request.
  if (values.length > 1) throw malformed('The request has more than one Authorization header');
  const match = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(basicValues[0]!.trim());
  if (!match) throw malformed('The Authorization header is not well-formed Basic credentials (RFC 7617 section 2)');
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw malformed('The Basic credentials have no colon (RFC 7617 section 2)');
  if (decoded.slice(colon + 1) !== '') throw malformed('Send the API key as the user name with an empty password');
  const key = decoded.slice(0, colon);
  if (key === '') throw malformed('The Basic credentials carry no API key');
  return key;
}

export interface ApiKeyVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  /** This resource server's credentials at the authorization server (SPEC decision 14). */
  readonly introspectionClientId: string;
  readonly introspectionClientSecret: string;
  /** Default `{issuer}/oauth/token/introspect`. */
  readonly introspectionEndpoint?: string;
  /** Default `gatehouse`. */
  readonly urnNamespace?: string;
  /** Default the audience. */
  readonly realm?: string;
  /** How long an answer is reused, seconds; default 5 (the revocation bound). `0` disables the cache. */
  readonly cacheTtlSeconds?: number;
  readonly cacheMaxEntries?: number;
  readonly introspectionTimeoutMilliseconds?: number;
  readonly clockSkewSeconds?: number;
  /** Clock, epoch milliseconds; default `Date.now`. */
  readonly now?: () => number;
  readonly fetch?: FetchFunction;
  /**
   * Refused API keys one client address may present per minute; past it, every API key from that address
   * is answered 429 with `Retry-After` until the minute ends, without asking the authorization server (so
   * guessing keys costs the guesser, not this server's introspection budget). Default 30; `0` turns it off.
   */
  readonly maxRefusedApiKeysPerAddressPerMinute?: number;
  /**
   * API keys from one client address being checked with the authorization server at once; past it, another
   * unknown key from that address is answered 429 with `Retry-After: 1` (a burst cannot pass the refusal limit
   * before any of it is counted). Keys accepted in the last hour are never held back. Default 100; only with
   * the refusal limit on.
   */
  readonly maxApiKeyChecksInFlightPerAddress?: number;
}

type KeyValidation = { readonly active: true; readonly apiKey: VerifiedApiKey } | { readonly active: false; readonly reason: string };

export interface ApiKeyVerifier {
  readonly realm: string;
  /**
   * Verifies an API key and the scopes the resource needs.
   * @param clientAddress the caller's address, for the refusal limit (`maxRefusedApiKeysPerAddressPerMinute`).
   * @throws {ApiKeyError} 401 `invalid_token` (any key that is not active), 403 `insufficient_scope`,
   *   429 `too_many_requests` with `Retry-After` (too many refused keys from this address this minute).
   * @throws {IntrospectionUnavailableError} 503 when the authorization server gave no usable answer.
   */
  verifyApiKey(apiKey: string, requiredScopes: readonly string[], clientAddress?: string): Promise<VerifiedApiKey>;
  clearCache(): void;
}

/** Maps an RFC 7662 answer about an API key to an outcome (time-independent checks: it is cached). */
export function readApiKeyIntrospection(response: IntrospectionResponse, expectations: { issuer: string; audience: string; urnNamespace: string }): KeyValidation {
  if (response.active !== true) return { active: false, reason: 'The API key is not active' };
  if (response.token_type !== 'api_key') return { active: false, reason: 'The credential is not an API key' };
  if (response.iss !== expectations.issuer) return { active: false, reason: 'The API key was issued by another authorization server' };
  const audiences = typeof response.aud === 'string' ? [response.aud] : Array.isArray(response.aud) ? response.aud : [];
  if (!audiences.includes(expectations.audience)) return { active: false, reason: 'The API key is not for this resource server' };
  const subjectUrn = response[subjectUrnMemberName(expectations.urnNamespace)];
  const subject = typeof subjectUrn === 'string' ? parseSubjectUrn(expectations.urnNamespace, subjectUrn) : undefined;
  const keyType = response['api_key_type'];
  if (!subject || typeof subjectUrn !== 'string' || (keyType !== 'integrated' && keyType !== 'standalone') || typeof response.jti !== 'string') {
    return { active: false, reason: 'The API key answer lacks its subject, type or id' };
  }
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  return {
    active: true,
    apiKey: {
      keyId: response.jti, keyType, clientId: text(response.client_id), clientName: text(response['client_name']),
      scope: splitScope(typeof response.scope === 'string' ? response.scope : undefined), subjectType: subject.subjectType, subjectId: subject.subjectId,
      subjectUrn, userId: text(response.sub), expiresAt: typeof response.exp === 'number' ? response.exp : undefined,
      issuedAt: typeof response.iat === 'number' ? response.iat : undefined,
    },
  };
}

/** Creates the API-key verifier (introspection with `token_type_hint=api_key`, cached for the revocation bound). */
export function createApiKeyVerifier(options: ApiKeyVerifierOptions): ApiKeyVerifier {
  const endpoint = parseAuthorizationServerUrl(options.introspectionEndpoint ?? defaultIntrospectionEndpoint(options.issuer), 'introspectionEndpoint');
  const urnNamespace = options.urnNamespace ?? 'gatehouse';
  const realm = options.realm ?? options.audience;
  const now = options.now ?? Date.now;
  const ttlSeconds = options.cacheTtlSeconds ?? 5;
  const skewSeconds = options.clockSkewSeconds ?? 5;
  const authorizationServer: oauth.AuthorizationServer = { issuer: options.issuer, introspection_endpoint: endpoint.href };
  const client: oauth.Client = { client_id: options.introspectionClientId };
  const clientAuthentication = oauth.ClientSecretBasic(options.introspectionClientSecret);
  const fetchFunction = options.fetch;
  const requestOptions: oauth.IntrospectionRequestOptions = {
    additionalParameters: { token_type_hint: 'api_key' },
    signal: () => AbortSignal.timeout(options.introspectionTimeoutMilliseconds ?? 5_000),
    [oauth.allowInsecureRequests]: isLoopbackHttpUrl(endpoint),
    ...(fetchFunction === undefined ? {} : { [oauth.customFetch]: (url: string, init: RequestInit) => fetchFunction(url, init) }),
  };
  const cache = createAccessTokenCache<KeyValidation>({ maxEntries: options.cacheMaxEntries ?? 10_000, ttlSeconds, now });
  const inFlight = new Map<string, Promise<KeyValidation>>();
  const refusalLimit = createRefusalLimit(options.maxRefusedApiKeysPerAddressPerMinute ?? 30, now, undefined, options.maxApiKeyChecksInFlightPerAddress);
  // A key accepted here in the last hour is neither held back nor counted (a valid integration behind a shared
  // address is not locked out by others, nor by an outage's 503s).
  const keyGuard = createCredentialGuard(refusalLimit, now);
  const keyOutcome: GuardOutcome<VerifiedApiKey> = {
    knownUntil: () => now() + 3_600_000,
    refused: (error) => (error instanceof ApiKeyError && error.status === 401) || error instanceof IntrospectionUnavailableError,
    tooMany: (retryAfterSeconds, busy) => new ApiKeyError(429, 'too_many_requests', busy
      ? 'Too many API keys being checked from this address; try again later'
      : 'Too many refused API keys from this address; try again later', { 'retry-after': String(retryAfterSeconds) }),
  };
  const invalid = (reason: string) => new ApiKeyError(401, 'invalid_token', INVALID_API_KEY_DESCRIPTION, { 'www-authenticate': formatBasicChallenge(realm) }, { reason });

  async function introspect(apiKey: string): Promise<KeyValidation> {
    try {
      const response = await oauth.introspectionRequest(authorizationServer, client, clientAuthentication, apiKey, requestOptions);
      return readApiKeyIntrospection(await oauth.processIntrospectionResponse(authorizationServer, client, response), { issuer: options.issuer, audience: options.audience, urnNamespace });
    } catch (error) {
      const detail = error instanceof Error ? `${error.name}: ${error.message}` : 'introspection failed';
      throw new IntrospectionUnavailableError(error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError') ? 'timeout' : 'unexpected_response', detail);
    }
  }

  function validate(apiKey: string): Promise<KeyValidation> {
    const hash = hashAccessToken(apiKey);
    const cached = cache.get(hash);
    if (cached !== undefined) return Promise.resolve(cached);
    const pending = inFlight.get(hash);
    if (pending !== undefined) return pending;
    const sentAtMs = now();
    const request = introspect(apiKey).then((validation) => {
      // The bound counts from when the request left; never cached past the key's own exp.
      const expMs = validation.active && validation.apiKey.expiresAt !== undefined ? validation.apiKey.expiresAt * 1000 : Number.POSITIVE_INFINITY;
      cache.set(hash, validation, Math.min(sentAtMs + ttlSeconds * 1000, expMs));
      return validation;
    }).finally(() => inFlight.delete(hash));
    inFlight.set(hash, request);
    return request;
  }

  return {
    realm,
    async verifyApiKey(apiKey, requiredScopes, clientAddress) {
      assertScopeNames(requiredScopes);
      return keyGuard.check(clientAddress, hashAccessToken(apiKey), () => checkKey(apiKey, requiredScopes), keyOutcome);
    },
    clearCache: () => cache.clear(),
  };

  async function checkKey(apiKey: string, requiredScopes: readonly string[]): Promise<VerifiedApiKey> {
    // Not one of ours: refused without asking (the same answer as an unknown key).
    if (!apiKey.startsWith(API_KEY_PREFIX)) throw invalid('The credential does not look like an API key');
    const validation = await validate(apiKey);
    if (!validation.active) throw invalid(validation.reason);
    const key = validation.apiKey;
    if (key.expiresAt !== undefined && now() / 1000 >= key.expiresAt + skewSeconds) throw invalid('The API key expired');
    const missing = findMissingScopes(key.scope, requiredScopes);
    if (missing.length > 0) {
      throw new ApiKeyError(403, 'insufficient_scope', `The API key lacks the scope ${formatScope(missing)} that this resource requires`,
        { 'www-authenticate': formatBasicChallenge(realm) }, { requiredScopes });
    }
    return key;
  }
}

export interface CredentialVerifier {
  /**
   * Verifies the request's credential among the `accepted` kinds.
   * @throws {ResourceServerError} 401 with a challenge for every accepted scheme when there is none; the
   *   Bearer verifier's and {@link ApiKeyVerifier}'s refusals otherwise.
   */
  verifyCredential(
    authorizationHeader: AuthorizationHeader, requiredScopes: readonly string[], accepted: readonly CredentialKind[], clientAddress?: string,
    resourceRequest?: DpopRequestParts,
  ): Promise<VerifiedCredential>;
  /**
   * {@link verifyCredential} for a Node HTTP request (`IncomingMessage`: Fastify's `request.raw`, Express's
   * `req`): every `Authorization` field (two are refused, RFC 6750 §3.1) and every `DPoP` field (RFC 9449
   * §4.3 item 1) read from `rawHeaders`, with the method and target for a DPoP proof (RFC 9449 §7).
   * This is what {@link requireCredential} calls per request, so a substitute (the benchmark's floor)
   * replaces all of the authentication a route does.
   * @param clientAddress the caller's address, for the refusal limits (API keys, and access tokens in introspection mode).
   * @throws as {@link verifyCredential}.
   */
  verifyRequestCredential(
    message: CredentialRequestMessage, requiredScopes: readonly string[], accepted: readonly CredentialKind[], clientAddress?: string,
  ): Promise<VerifiedCredential>;
  /**
   * Refuses an access token in the query string or a form body (RFC 6750 §2.2/§2.3).
   * @throws {BearerTokenError} 400 `invalid_request`.
   */
  rejectAccessTokenOutsideHeader(sources: RequestParameterSources): void;
}

/** What {@link CredentialVerifier.verifyRequestCredential} reads of a Node HTTP request (`IncomingMessage` has it). */
export interface CredentialRequestMessage {
  /** Node's flat name/value list of every header field, in order. */
  readonly rawHeaders: readonly string[];
  /** The request method; a DPoP proof's `htm` must match it. */
  readonly method?: string | undefined;
  /** The request target (a path, or an absolute URI); a DPoP proof's `htu` must match it. */
  readonly url?: string | undefined;
}

/**
 * RFC 9449 §7: what a DPoP-bound access token needs beside the `Authorization` header: the `DPoP` header
 * value(s), the method and the request target (as {@link TokenVerifier.verifyProtectedResourceRequest}).
 */
export interface DpopRequestParts {
  readonly dpop: string | readonly string[] | undefined;
  readonly method: string;
  readonly url: string;
}

/**
 * Puts the Bearer verifier and the API-key verifier behind one per-route choice of accepted credentials.
 * @param verifiers.maxRefusedAccessTokensPerAddressPerMinute access tokens (Bearer or DPoP) refused
 *   `invalid_token` per caller address per minute before that address is answered 429 `too_many_requests`
 *   with `Retry-After`, without asking the authorization server (refusal-limit.ts: made-up tokens would
 *   otherwise spend the introspection budget and answer 503 to everyone). A token already cached is decided
 *   without it. Default 30 in introspection mode, off (`0`) in local mode, which asks nobody per token.
 * @param verifiers.maxAccessTokenChecksInFlightPerAddress access tokens from one caller address being checked
 *   at once (introspected, or verified on a cache miss); past it, another unknown token from that address is
 *   answered 429 with `Retry-After: 1`. Tokens accepted before are never held back. Default 100; only with the
 *   refusal limit on.
 * @param verifiers.now milliseconds since the epoch (tests); default `Date.now`.
 * @throws {TypeError} a limit that is not a whole number (0 or more; the in-flight ceiling 1 or more).
 */
export function createCredentialVerifier(verifiers: {
  tokenVerifier: TokenVerifier; apiKeyVerifier: ApiKeyVerifier; maxRefusedAccessTokensPerAddressPerMinute?: number;
  maxAccessTokenChecksInFlightPerAddress?: number; now?: () => number;
}): CredentialVerifier {
  const { tokenVerifier, apiKeyVerifier } = verifiers;
  const tokenRefusals = createRefusalLimit(
    verifiers.maxRefusedAccessTokensPerAddressPerMinute ?? (tokenVerifier.mode === 'introspection' ? 30 : 0), verifiers.now ?? Date.now, undefined,
    verifiers.maxAccessTokenChecksInFlightPerAddress,
  );
  // Made-up tokens are counted against their address (refusal-limit.ts); a token once accepted is known until an
  // hour past its exp, expired or revoked since included, so the limit falls on made-up tokens only.
  const tokenGuard = createCredentialGuard(tokenRefusals, verifiers.now ?? Date.now);
  const tokenOutcome: GuardOutcome<VerifiedAccessToken> = {
    knownUntil: (token) => (token.expiresAt + 3600) * 1000,
    // Refused, or not checkable (503: the authorization server unreachable, or this server's introspection budget
    // spent): either way an unknown token costs its address, so a sender cannot keep the budget spent.
    refused: (error) => (error instanceof ResourceServerError && error.status === 401 && error.error === 'invalid_token') || error instanceof IntrospectionUnavailableError,
    tooMany: (retryAfterSeconds, busy) => new ResourceServerError(429, 'too_many_requests', busy
      ? 'Too many access tokens being checked from this address; try again later'
      : 'Too many refused access tokens from this address; try again later', { 'retry-after': String(retryAfterSeconds) }),
  };
  /** `verify` (an access token's check) under the token guard. */
  function limited(clientAddress: string | undefined, authorizationHeader: AuthorizationHeader, verify: () => Promise<VerifiedAccessToken>): Promise<VerifiedAccessToken> {
    const header = Array.isArray(authorizationHeader) ? (authorizationHeader.length === 1 ? authorizationHeader[0] : undefined) : authorizationHeader;
    const presented = typeof header === 'string' ? /^(?:bearer|dpop) +(\S+)$/i.exec(header.trim())?.[1] : undefined;
    return tokenGuard.check(clientAddress, presented === undefined ? undefined : hashAccessToken(presented), verify, tokenOutcome);
  }
  // RFC 9449 §7.1: DPoP-bound access tokens are accepted wherever Bearer ones are, so the DPoP scheme (with its
  // algorithms) is offered beside Bearer.
  const challenges = (accepted: readonly CredentialKind[]) => accepted
    .map((kind) => (kind === 'bearer' ? `${formatBearerChallenge({ realm: tokenVerifier.realm })}, ${formatDpopChallenge({})}` : formatBasicChallenge(apiKeyVerifier.realm))).join(', ');
  // Issue 12, the per-request path: a cached Bearer token is decided without a promise of its own, and a
  // repeated token reuses its credential object (both are immutable).
  const verifyCachedBearer = cachedBearerVerification(tokenVerifier);
  let lastAccessToken: VerifiedAccessToken | undefined;
  let lastCredential: VerifiedCredential | undefined;
  const credentialVerifier: CredentialVerifier = {
    verifyRequestCredential(message, requiredScopes, accepted, clientAddress) {
      // One pass over the raw fields for both names; arrays only for a second field (refused further on).
      const rawHeaders = message.rawHeaders;
      let authorization: string | undefined;
      let authorizations: string[] | undefined;
      let dpop: string | undefined;
      let dpops: string[] | undefined;
      for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
        const name = rawHeaders[index]!;
        // The length first: most fields are neither, and Node gives names as sent (any case, RFC 9110 §5.1).
        if (name.length === 13 && name.toLowerCase() === 'authorization') {
          const value = rawHeaders[index + 1]!;
          if (authorization === undefined) authorization = value;
          else (authorizations ??= [authorization]).push(value);
        } else if (name.length === 4 && name.toLowerCase() === 'dpop') {
          const value = rawHeaders[index + 1]!;
          if (dpop === undefined) dpop = value;
          else (dpops ??= [dpop]).push(value);
        }
      }
      // The hot path: one Authorization field whose Bearer token the caches decide. A DPoP header beside a
      // Bearer token changes nothing (as in verifyCredential: the scheme decides); a DPoP-bound token sent
      // as Bearer is refused inside (RFC 9449 §7.1); anything else takes the full path below.
      if (verifyCachedBearer !== undefined && authorizations === undefined && authorization !== undefined && accepted.includes('bearer')) {
        try {
          const accessToken = verifyCachedBearer(authorization, requiredScopes);
          if (accessToken !== undefined) {
            if (accessToken !== lastAccessToken) {
              lastCredential = { kind: 'bearer', accessToken };
              lastAccessToken = accessToken;
            }
            return Promise.resolve(lastCredential!);
          }
        } catch (error) {
          return Promise.reject(error);
        }
      }
      return credentialVerifier.verifyCredential(authorizations ?? (authorization === undefined ? [] : [authorization]), requiredScopes, accepted, clientAddress, {
        dpop: dpops ?? (dpop === undefined ? undefined : [dpop]), method: message.method ?? 'GET', url: message.url ?? '/',
      });
    },
    rejectAccessTokenOutsideHeader,
    async verifyCredential(authorizationHeader, requiredScopes, accepted, clientAddress, resourceRequest) {
      // RFC 9449 §7: `Authorization: DPoP` is an access token too, checked with its proof (issue 15 §3).
      if (accepted.includes('bearer') && resourceRequest !== undefined && usesDpopScheme(authorizationHeader)) {
        return { kind: 'bearer', accessToken: await limited(clientAddress, authorizationHeader, () => tokenVerifier.verifyProtectedResourceRequest({ authorization: authorizationHeader, ...resourceRequest }, requiredScopes)) };
      }
      // The hot path first: a Bearer header goes straight to the token verifier (its cache), as before.
      if (accepted.includes('bearer') && bearerTokenCandidate(authorizationHeader) !== undefined) {
        return { kind: 'bearer', accessToken: await limited(clientAddress, authorizationHeader, () => tokenVerifier.verifyAccessToken(authorizationHeader, requiredScopes)) };
      }
      if (accepted.includes('api_key')) {
        const apiKey = extractApiKey(authorizationHeader, apiKeyVerifier.realm);
        if (apiKey !== undefined) return { kind: 'api_key', apiKey: await apiKeyVerifier.verifyApiKey(apiKey, requiredScopes, clientAddress) };
      }
      if (accepted.includes('bearer')) {
        try {
          return { kind: 'bearer', accessToken: await limited(clientAddress, authorizationHeader, () => tokenVerifier.verifyAccessToken(authorizationHeader, requiredScopes)) };
        } catch (error) {
          // No usable credential at all: say every scheme this route accepts (RFC 9110 §11.6.1).
          if (error instanceof BearerTokenError && error.bearerError === undefined) {
            throw new BearerTokenErrorWithChallenges(error, challenges(accepted), accepted.includes('api_key'));
          }
          throw error;
        }
      }
      throw new ApiKeyError(401, 'unauthorized', 'An API key is required as HTTP Basic credentials (the key as the user name, an empty password)', { 'www-authenticate': challenges(accepted) });
    },
  };
  return credentialVerifier;
}

/** A "no credentials" refusal whose `WWW-Authenticate` lists every accepted scheme. */
class BearerTokenErrorWithChallenges extends ResourceServerError {
  readonly reason: string | undefined = undefined;
  constructor(original: BearerTokenError, challenges: string, apiKeys: boolean) {
    super(original.status, original.error, apiKeys
      ? 'Send a Bearer access token, or an API key as HTTP Basic credentials (the key as the user name, an empty password)'
      : original.errorDescription, { 'www-authenticate': challenges });
  }
}
