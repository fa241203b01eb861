/**
 * GET /.well-known/oauth-authorization-server (RFC 8414 §3; SPEC decision 16): advertises exactly what
 * is supported.
 */
import type { ServerContext } from '../server-context.ts';
import { SCOPE_CATALOGUE } from '../scopes.ts';

export function authorizationServerMetadata({ options }: ServerContext): Record<string, unknown> {
  const { issuer } = options;
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    introspection_endpoint: `${issuer}/oauth/token/introspect`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'none'],
    scopes_supported: [...SCOPE_CATALOGUE.keys()],
    authorization_response_iss_parameter_supported: true,
  };
}
