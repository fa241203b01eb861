/**
 * GET /.well-known/oauth-authorization-server (RFC 8414 §3; SPEC decision 16): advertises exactly what
 * is supported.
 */
import type { ServerContext } from '../server-context.ts';
import { SCOPE_CATALOGUE } from '@gatehouse/protocol';
import { PROMPT_VALUES } from './authorization.ts';
import { DPOP_SIGNING_ALGORITHMS } from '@gatehouse/protocol/dpop';

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
    // RFC 9126 §5.
    pushed_authorization_request_endpoint: `${issuer}/oauth/par`,
    require_pushed_authorization_requests: options.requirePushedAuthorizationRequests,
    // OIDC Discovery §3 (used by RFC 8414 servers too): the prompt values /oauth/authorize honours.
    prompt_values_supported: [...PROMPT_VALUES],
    // RFC 9449 §5.1: the token endpoint accepts DPoP proofs signed with these algorithms.
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGORITHMS],
  };
}
