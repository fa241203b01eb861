/**
 * A client as JSON, with RFC 7591 §2 / §3.2.1 member names (plus Gatehouse's `status`, `pkce_required`,
 * `subject_type`, `initiation_uri`, `settings_uri`, `branding_verified`), for the admin API, the CLI's
 * `--json` and the portal. Never carries a secret or a secret digest; `client_secret` is added by the
 * caller only in the one response that issues it.
 */
import type { ClientRecord } from '../storage/storage.ts';

export interface ClientJson {
  client_id: string;
  client_name: string;
  token_endpoint_auth_method: 'client_secret_basic' | 'none';
  redirect_uris: string[];
  scope: string;
  subject_type: 'company' | 'organization' | null;
  pkce_required: boolean;
  client_uri: string | null;
  logo_uri: string | null;
  tos_uri: string | null;
  policy_uri: string | null;
  initiation_uri: string | null;
  settings_uri: string | null;
  contacts: string[];
  status: ClientRecord['status'];
  branding_verified: boolean;
  /** RFC 7591 §3.2.1: seconds since the epoch. */
  client_id_issued_at: number;
  /** The partner developer who registered it; null for administrators' registrations. */
  owner_user_id: string | null;
  /** Seconds since the epoch until which the previous secret still works (SPEC decision 10), or null. */
  previous_secret_expires_at: number | null;
  /** RFC 9126 §6: whether the client's authorization requests must come through /oauth/par. */
  require_pushed_authorization_requests: boolean;
  /** RFC 9449 §5.2: whether every token request of the client must carry a DPoP proof. */
  dpop_bound_access_tokens: boolean;
  /** Issue 13 (Marketplace): plain text of at most 500 characters, or null. */
  description: string | null;
  /** Issue 13 (Marketplace): one of `accounting`, `payroll`, `crm`, `reporting`, `e-commerce`, `other`, or null. */
  category: string | null;
}

export function clientToJson(client: ClientRecord): ClientJson {
  return {
    client_id: client.clientId,
    client_name: client.clientName,
    token_endpoint_auth_method: client.clientType === 'confidential' ? 'client_secret_basic' : 'none',
    redirect_uris: client.redirectUris,
    scope: client.scopes.join(' '),
    subject_type: client.subjectType,
    pkce_required: client.pkceRequired,
    client_uri: client.clientUri,
    logo_uri: client.logoUri,
    tos_uri: client.tosUri,
    policy_uri: client.policyUri,
    initiation_uri: client.initiationUri,
    settings_uri: client.settingsUri,
    contacts: client.contacts,
    status: client.status,
    branding_verified: client.brandingVerified,
    client_id_issued_at: client.createdAt,
    owner_user_id: client.ownerUserId,
    previous_secret_expires_at: client.previousSecretExpiresAt,
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests ?? false,
    dpop_bound_access_tokens: client.dpopBoundAccessTokens ?? false,
    description: client.description ?? null,
    category: client.category ?? null,
  };
}
