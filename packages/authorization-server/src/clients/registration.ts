/**
 * Registering clients and resource servers, with the registration document's rules (seed
 * "OAuth 2.0 Client Registration"; SPEC decisions 1, 4, 9, 12, 13). Used by the CLI and the seed; the
 * developer portal and admin API build on it.
 */
import { randomUUID } from 'node:crypto';
import type { Environment } from '../options.ts';
import { SCOPE_CATALOGUE } from '../scopes.ts';
import type { ClientRecord, ClientType, Storage, SubjectType } from '../storage/storage.ts';
import { digestClientSecret, generateClientSecret } from './client-secret.ts';
import { redirectUriProblem } from './redirect-uri.ts';

/** A refused registration, naming the field (RFC 7591 §3.2.2 `invalid_redirect_uri` / `invalid_client_metadata`). */
export class RegistrationError extends Error {
  readonly field: string;
  readonly error: 'invalid_redirect_uri' | 'invalid_client_metadata';
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
    this.error = field === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata';
  }
}

export interface ClientRegistration {
  clientName: string;
  clientType: ClientType;
  redirectUris: string[];
  scopes: string[];
  subjectType?: SubjectType | null;
  /** Administrator only: false grants a confidential client a PKCE exception (SPEC decision 2). */
  pkceRequired?: boolean;
  clientUri?: string | null;
  logoUri?: string | null;
  tosUri?: string | null;
  policyUri?: string | null;
}

export interface RegistrationContext {
  storage: Storage;
  environment: Environment;
  brandName: string;
  now: number;
}

/**
 * Validates and stores a client. In development it is active at once; in staging and production it is
 * `pending` until an administrator approves it (SPEC decision 13).
 * @returns the client and, for confidential clients, the secret: shown once, stored only as a digest.
 * @throws RegistrationError naming the refused field.
 */
export async function registerClient(
  context: RegistrationContext,
  registration: ClientRegistration,
  fixed: { clientId?: string; clientSecret?: string } = {},
): Promise<{ client: ClientRecord; clientSecret: string | undefined }> {
  const name = registration.clientName.trim();
  if (!name || name.length > 100) throw new RegistrationError('client_name', 'must be 1-100 characters');
  // Seed: "Do not use <brand> branding in your client information" — any case, spaced or not.
  // NFKC folds full-width and other look-alike forms; dropping everything but letters and digits removes
  // spaces, punctuation and invisible characters (zero-width space, soft hyphen) that could hide the brand.
  const squash = (text: string) => text.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
  if (squash(name).includes(squash(context.brandName))) throw new RegistrationError('client_name', `must not use ${context.brandName} branding`);
  if (registration.clientType !== 'confidential' && registration.clientType !== 'public') {
    throw new RegistrationError('token_endpoint_auth_method', 'client type must be confidential or public');
  }
  if (registration.redirectUris.length === 0) throw new RegistrationError('redirect_uris', 'at least one redirect URI is required');
  for (const uri of registration.redirectUris) {
    const problem = redirectUriProblem(uri, registration.clientType, context.environment);
    if (problem) throw new RegistrationError('redirect_uris', `${uri} ${problem}`);
  }
  if (registration.scopes.length === 0) throw new RegistrationError('scope', 'at least one scope is required');
  const unknown = registration.scopes.filter((scope) => !SCOPE_CATALOGUE.has(scope));
  if (unknown.length > 0) throw new RegistrationError('scope', `not in the scope catalogue: ${unknown.join(' ')}`);
  const subjectType = registration.subjectType ?? null;
  if (subjectType !== null && subjectType !== 'company' && subjectType !== 'organization') {
    throw new RegistrationError('subject_type', 'must be company or organization');
  }
  const pkceRequired = registration.pkceRequired ?? true;
  if (!pkceRequired && registration.clientType === 'public') throw new RegistrationError('pkce_required', 'a public client cannot have a PKCE exception');

  const clientSecret = registration.clientType === 'confidential' ? (fixed.clientSecret ?? generateClientSecret()) : undefined;
  const client: ClientRecord = {
    clientId: fixed.clientId ?? randomUUID(),
    kind: 'client',
    clientName: name,
    clientType: registration.clientType,
    secretDigest: clientSecret === undefined ? null : digestClientSecret(clientSecret),
    redirectUris: registration.redirectUris,
    scopes: [...new Set(registration.scopes)],
    subjectType,
    pkceRequired,
    status: context.environment === 'development' ? 'active' : 'pending',
    clientUri: registration.clientUri ?? null,
    logoUri: registration.logoUri ?? null,
    tosUri: registration.tosUri ?? null,
    policyUri: registration.policyUri ?? null,
    audience: null,
    createdAt: context.now,
  };
  await context.storage.clients.create(client);
  await context.storage.audit.record({
    type: 'client.registered', at: context.now, actor: 'admin:cli', clientId: client.clientId,
    details: { client_name: client.clientName, client_type: client.clientType, status: client.status },
  });
  return { client, clientSecret };
}

/**
 * Registers a resource server's introspection credentials (SPEC decision 14): it may introspect the
 * access tokens issued for `audience`, and can do nothing else.
 */
export async function registerResourceServer(
  context: RegistrationContext,
  registration: { name: string; audience: string },
  fixed: { clientId?: string; clientSecret?: string } = {},
): Promise<{ client: ClientRecord; clientSecret: string }> {
  const clientSecret = fixed.clientSecret ?? generateClientSecret();
  const client: ClientRecord = {
    clientId: fixed.clientId ?? randomUUID(), kind: 'resource_server', clientName: registration.name, clientType: 'confidential',
    secretDigest: digestClientSecret(clientSecret), redirectUris: [], scopes: [], subjectType: null, pkceRequired: true,
    status: 'active', clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: registration.audience, createdAt: context.now,
  };
  await context.storage.clients.create(client);
  await context.storage.audit.record({ type: 'resource_server.registered', at: context.now, actor: 'admin:cli', clientId: client.clientId, details: { audience: registration.audience } });
  return { client, clientSecret };
}
