import { isLoopbackHttpUrl } from '@gatehouse/protocol';
import * as oauth from 'oauth4webapi';
import type { AccessTokenValidator } from './access-token.ts';
import { readIntrospectionResponse } from './introspection-response.ts';
import type { IntrospectionExpectations } from './introspection-response.ts';
import { IntrospectionUnavailableError } from './introspection-unavailable-error.ts';
import type { IntrospectionFailureReason } from './introspection-unavailable-error.ts';

/** A `fetch`-compatible function; injectable so tests need no network. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

export interface IntrospectionValidatorOptions extends IntrospectionExpectations {
  /** Absolute URL of the RFC 7662 endpoint. */
  readonly introspectionEndpoint: string;
  /** The resource server's own client credentials (SPEC decision 14). */
  readonly introspectionClientId: string;
  readonly introspectionClientSecret: string;
  /** Abort an introspection request after this many milliseconds. */
  readonly introspectionTimeoutMilliseconds: number;
  readonly fetch?: FetchFunction | undefined;
}

/**
 * `isLoopbackHttpUrl` (from `@gatehouse/protocol`): the only case in which oauth4webapi's
 * `allowInsecureRequests` is enabled (SPEC §2: HTTP only for a development issuer on localhost).
 */
export { isLoopbackHttpUrl } from '@gatehouse/protocol';

/**
 * Parses an issuer or endpoint URL and enforces HTTPS except on loopback (SPEC decision 17).
 *
 * @throws {TypeError} for a relative URL, another scheme, or `http:` off loopback.
 */
export function parseAuthorizationServerUrl(value: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${name} must be an absolute URL`);
  }
  if (url.protocol !== 'https:' && !isLoopbackHttpUrl(url)) {
    throw new TypeError(`${name} must use https (http is allowed only for localhost, 127.0.0.1 and [::1])`);
  }
  return url;
}

/** `{issuer}/oauth/token/introspect` (SPEC §3), keeping any path of the issuer. */
export function defaultIntrospectionEndpoint(issuer: string): string {
  const base = issuer.endsWith('/') ? issuer : `${issuer}/`;
  return new URL('oauth/token/introspect', base).href;
}

/**
 * Introspection mode: asks the authorization server about each token (RFC 7662 §2.1)
 * with oauth4webapi, authenticating with `client_secret_basic` (RFC 6749 §2.3.1: the ID
 * and secret are form-urlencoded before base64, SPEC decision 1), sending
 * `token_type_hint=access_token`.
 *
 * `validate` resolves to an inactive outcome for tokens the answer does not accept, and
 * rejects with {@link IntrospectionUnavailableError} when there is no usable answer.
 */
export function createIntrospectionValidator(options: IntrospectionValidatorOptions): AccessTokenValidator {
  const endpoint = parseAuthorizationServerUrl(options.introspectionEndpoint, 'introspectionEndpoint');
  const authorizationServer: oauth.AuthorizationServer = {
    issuer: options.issuer,
    introspection_endpoint: endpoint.href,
  };
  const client: oauth.Client = { client_id: options.introspectionClientId };
  const clientAuthentication = oauth.ClientSecretBasic(options.introspectionClientSecret);
  const fetchFunction = options.fetch;
  const requestOptions: oauth.IntrospectionRequestOptions = {
    additionalParameters: { token_type_hint: 'access_token' },
    signal: () => AbortSignal.timeout(options.introspectionTimeoutMilliseconds),
    // Deprecated on purpose upstream; enabled only for http://localhost-style issuers.
    [oauth.allowInsecureRequests]: isLoopbackHttpUrl(endpoint),
    ...(fetchFunction === undefined ? {} : { [oauth.customFetch]: (url: string, init: RequestInit) => fetchFunction(url, init) }),
  };

  return {
    async validate(accessToken) {
      let introspection: oauth.IntrospectionResponse;
      try {
        const response = await oauth.introspectionRequest(authorizationServer, client, clientAuthentication, accessToken, requestOptions);
        introspection = await oauth.processIntrospectionResponse(authorizationServer, client, response);
      } catch (error) {
        throw toUnavailableError(error);
      }
      return readIntrospectionResponse(introspection, options);
    },
  };
}

function toUnavailableError(error: unknown): IntrospectionUnavailableError {
  const [reason, detail] = classifyFailure(error);
  return new IntrospectionUnavailableError(reason, detail);
}

/** Names the failure without copying response bodies, which may echo token metadata. */
function classifyFailure(error: unknown): [IntrospectionFailureReason, string] {
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    return ['client_authentication_failed', `introspection endpoint answered ${error.status} with a WWW-Authenticate challenge`];
  }
  if (error instanceof oauth.ResponseBodyError) {
    const reason = error.error === 'invalid_client' ? 'client_authentication_failed' : 'unexpected_response';
    return [reason, `introspection endpoint answered ${error.status} ${error.error}`];
  }
  if (error instanceof oauth.OperationProcessingError) {
    const status = error.cause instanceof Response ? ` (HTTP ${error.cause.status})` : '';
    return ['unexpected_response', `${error.message}${status}`];
  }
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return ['timeout', 'introspection request timed out'];
  }
  if (error instanceof Error) {
    const code = (error.cause as { code?: unknown } | undefined)?.code;
    return ['network_error', `${error.name}: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}`];
  }
  return ['network_error', 'introspection request failed'];
}
