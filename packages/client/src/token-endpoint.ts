/**
 * Requests to the token endpoint (RFC 6749 §4.1.3, §6) and the revocation endpoint (RFC 7009), all
 * built and checked by oauth4webapi; this file only maps outcomes onto this package's error types:
 *
 * - no response (connection refused, reset, timeout) → `TransportError` (`network` / `timeout`)
 * - HTTP 5xx or 429 → `TransportError` (`http_<status>`, with `Retry-After`)
 * - an OAuth error body (RFC 6749 §5.2) → `AuthorizationServerError` (`error` verbatim, e.g. `invalid_grant`)
 * - a malformed success response → `InvalidResponseError`
 *
 * oauth4webapi errors are never attached as `cause`: some carry the response body, which holds tokens.
 */
import * as oauth from 'oauth4webapi';
import { AuthorizationServerError, ConfigurationError, InvalidResponseError, type AuthorizationServerEndpoint } from './errors.ts';
import { networkFailure, overloadFailure, requestOptions, type TransportSettings } from './transport.ts';

/** Everything a request to the authorization server needs. */
export interface OAuthContext {
  as: oauth.AuthorizationServer;
  client: oauth.Client;
  /** `ClientSecretBasic(secret)` for confidential clients, `None()` for public ones (SPEC decision 1). */
  clientAuthentication: oauth.ClientAuth;
  transport: TransportSettings;
  /**
   * RFC 9449: oauth4webapi's DPoP handle (`oauth.DPoP(client, keyPair)`) when the client uses DPoP; every
   * token request then carries a proof, and the tokens come back bound to its key (`token_type` DPoP).
   */
  dpop?: oauth.DPoPHandle;
}

/**
 * Exchanges an authorization code (validated callback parameters) with its PKCE verifier and the
 * same `redirect_uri` (RFC 6749 §4.1.3, RFC 7636 §4.5). Not retried: a code is single use, and a retry
 * after a lost response would look like a replayed code (RFC 6749 §4.1.2).
 */
export async function exchangeAuthorizationCode(
  context: OAuthContext, callbackParameters: URLSearchParams, redirectUri: string, codeVerifier: string,
): Promise<oauth.TokenEndpointResponse> {
  return tokenRequest(context, (options) => oauth.authorizationCodeGrantRequest(
    context.as, context.client, context.clientAuthentication, callbackParameters, redirectUri, codeVerifier, options,
  ), (response) => oauth.processAuthorizationCodeResponse(context.as, context.client, response));
}

/** One refresh_token grant request (RFC 6749 §6). The caller retries transient failures. */
export async function requestTokenRefresh(context: OAuthContext, refreshToken: string): Promise<oauth.TokenEndpointResponse> {
  return tokenRequest(context, (options) => oauth.refreshTokenGrantRequest(
    context.as, context.client, context.clientAuthentication, refreshToken, options,
  ), (response) => oauth.processRefreshTokenResponse(context.as, context.client, response));
}

/**
 * One token request, with a DPoP proof when the context has a handle. RFC 9449 §8: a `use_dpop_nonce`
 * answer is retried once with the nonce it carried (oauth4webapi's handle keeps it); Gatehouse checks
 * the nonce before it consumes a code, so the retry of a code exchange is safe.
 */
async function tokenRequest(
  context: OAuthContext, request: (options: oauth.TokenEndpointRequestOptions) => Promise<Response>, process: (response: Response) => Promise<oauth.TokenEndpointResponse>,
): Promise<oauth.TokenEndpointResponse> {
  const options: oauth.TokenEndpointRequestOptions = { ...requestOptions(context.transport), ...(context.dpop ? { DPoP: context.dpop } : {}) };
  for (let attempt = 1; ; attempt += 1) {
    const response = await send('token', () => request(options));
    try {
      return await processTokenResponse('token', () => process(response), attempt === 1 && context.dpop !== undefined);
    } catch (error) {
      if (error === NONCE_REQUESTED) continue;
      throw error;
    }
  }
}

/** Thrown by processTokenResponse instead of mapping a `use_dpop_nonce` answer, when a retry is allowed. */
const NONCE_REQUESTED = Symbol('use_dpop_nonce');

/** Revokes a token (RFC 7009 §2.1); for a refresh token Gatehouse revokes the whole grant (SPEC decision 15). */
export async function revokeToken(context: OAuthContext, token: string, tokenTypeHint: 'refresh_token' | 'access_token'): Promise<void> {
  const response = await send('revocation', () => oauth.revocationRequest(
    context.as, context.client, context.clientAuthentication, token,
    { ...requestOptions(context.transport), additionalParameters: { token_type_hint: tokenTypeHint } },
  ));
  await processTokenResponse('revocation', () => oauth.processRevocationResponse(response));
}

async function send(endpoint: AuthorizationServerEndpoint, request: () => Promise<Response>): Promise<Response> {
  let response: Response;
  try {
    response = await request();
  } catch (error) {
    // Refused before sending (e.g. an endpoint that is not HTTPS): configuration, not transport.
    if (error instanceof oauth.UnsupportedOperationError || error instanceof oauth.OperationProcessingError) {
      throw new ConfigurationError(`the ${endpoint} request was not sent: ${error.message}`);
    }
    // oauth4webapi's argument checks (a programming error here), not a network failure.
    if (String((error as { code?: unknown }).code ?? '').startsWith('ERR_INVALID_ARG')) throw error;
    throw networkFailure(error, `the ${endpoint} request`);
  }
  const overloaded = await overloadFailure(response, `the ${endpoint} endpoint`);
  if (overloaded) throw overloaded;
  return response;
}

async function processTokenResponse<T>(endpoint: AuthorizationServerEndpoint, process: () => Promise<T>, retryOnNonce = false): Promise<T> {
  try {
    return await process();
  } catch (error) {
    if (retryOnNonce && oauth.isDPoPNonceError(error)) throw NONCE_REQUESTED;
    if (error instanceof oauth.ResponseBodyError) {
      throw new AuthorizationServerError(endpoint, error.error, error.error_description, error.status);
    }
    if (error instanceof oauth.WWWAuthenticateChallengeError) {
      // A 401 with `WWW-Authenticate: Basic` (failed client authentication, RFC 6749 §5.2): the OAuth
      // error is still in the body, unread.
      const body = await error.response.json().catch(() => undefined) as { error?: unknown; error_description?: unknown } | undefined;
      throw new AuthorizationServerError(
        endpoint, typeof body?.error === 'string' ? body.error : 'invalid_client',
        typeof body?.error_description === 'string' ? body.error_description : undefined, error.response.status,
      );
    }
    throw new InvalidResponseError(`the ${endpoint} endpoint's response is not usable: ${(error as Error).message}`);
  }
}
