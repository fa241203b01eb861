/**
 * Authorization server metadata discovery (RFC 8414 §3) through oauth4webapi, plus the checks that make
 * a Gatehouse integration safe by construction: the server must support PKCE with S256 (seeds: "Only
 * the S256 code challenge method is supported"), this client's authentication method, and `iss` in
 * authorization responses (RFC 9207), and every endpoint must be HTTPS (or loopback HTTP in development).
 */
import * as oauth from 'oauth4webapi';
import { AuthorizationServerError, ConfigurationError, InvalidResponseError } from './errors.ts';
import { isAllowedUrl, networkFailure, overloadFailure, requestOptions, type TransportSettings } from './transport.ts';

/**
 * @returns the metadata, its `issuer` equal to `issuer` (checked by oauth4webapi).
 * @throws TransportError when the server cannot be reached or answers 5xx/429.
 * @throws ConfigurationError when the metadata lacks what this client requires.
 * @throws InvalidResponseError when the metadata document is malformed or names another issuer.
 */
export async function discoverAuthorizationServer(
  issuer: URL, transport: TransportSettings, tokenEndpointAuthMethod: 'client_secret_basic' | 'none',
): Promise<oauth.AuthorizationServer> {
  let response: Response;
  try {
    response = await oauth.discoveryRequest(issuer, { ...requestOptions(transport), algorithm: 'oauth2' });
  } catch (error) {
    throw networkFailure(error, `metadata discovery at ${issuer.origin}`);
  }
  const overloaded = await overloadFailure(response, 'metadata discovery');
  if (overloaded) throw overloaded;
  let metadata: oauth.AuthorizationServer;
  try {
    metadata = await oauth.processDiscoveryResponse(issuer, response);
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError) throw new AuthorizationServerError('discovery', error.error, error.error_description, error.status);
    throw new InvalidResponseError(`metadata from ${issuer.href} is not usable: ${(error as Error).message}`);
  }

  if (!metadata.code_challenge_methods_supported?.includes('S256')) {
    throw new ConfigurationError(`${metadata.issuer} does not advertise PKCE with S256 (code_challenge_methods_supported)`);
  }
  // RFC 8414 §2: absent means client_secret_basic only.
  const authMethods = metadata.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
  if (!authMethods.includes(tokenEndpointAuthMethod)) {
    throw new ConfigurationError(`${metadata.issuer} does not accept token_endpoint_auth_method ${tokenEndpointAuthMethod}`);
  }
  // With this flag oauth4webapi requires `iss` in every authorization response (RFC 9207 §2.4).
  if (metadata.authorization_response_iss_parameter_supported !== true) {
    throw new ConfigurationError(`${metadata.issuer} does not advertise authorization_response_iss_parameter_supported (RFC 9207)`);
  }
  for (const name of ['authorization_endpoint', 'token_endpoint', 'revocation_endpoint'] as const) {
    const value = metadata[name];
    if (value === undefined) {
      if (name === 'revocation_endpoint') continue;
      throw new ConfigurationError(`${metadata.issuer} metadata has no ${name}`);
    }
    if (!URL.canParse(value) || !isAllowedUrl(new URL(value), transport.allowLoopbackHttp)) {
      throw new ConfigurationError(`${metadata.issuer} metadata ${name} must be https${transport.allowLoopbackHttp ? ' or loopback http' : ''}: ${value}`);
    }
  }
  return metadata;
}
