/**
 * Registering clients and resource servers, with the registration document's rules (seed
 * "OAuth 2.0 Client Registration"; SPEC decisions 1, 4, 9, 12, 13). Used by the CLI and the seed; the
 * developer portal and admin API build on it.
 */
import { randomUUID } from 'node:crypto';
import unhomoglyph from 'unhomoglyph';
import type { Environment } from '../options.ts';
import { isLoopbackHostname, SCOPE_CATALOGUE } from '@gatehouse/protocol';
import type { ClientRecord, ClientType, Storage, SubjectType } from '../storage/storage.ts';
import { digestClientSecret, generateClientSecret } from './client-secret.ts';
import { hostNameProblem, withAsciiHost } from './host-name.ts';
import { redirectUriProblem } from './redirect-uri.ts';
import { normalizeCategory, normalizeDescription } from './marketplace-listing.ts';

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
  initiationUri?: string | null;
  settingsUri?: string | null;
  /** RFC 7591 §2 `contacts`: e-mail addresses. */
  contacts?: string[];
  /** RFC 9126 §6 `require_pushed_authorization_requests`: authorization requests only through /oauth/par. Default false. */
  requirePushedAuthorizationRequests?: boolean;
  /** RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request must carry a DPoP proof. Default false. */
  dpopBoundAccessTokens?: boolean;
  /** Issue 13 (Marketplace): plain text, at most 500 characters; empty or null = none. */
  description?: string | null;
  /** Issue 13 (Marketplace): one of MARKETPLACE_CATEGORIES (storage.ts); empty or null = none. */
  category?: string | null;
}

/** The human-readable and technical metadata every client has, validated (registration and update alike). */
export type ClientMetadata = Pick<ClientRecord,
  'clientName' | 'clientType' | 'redirectUris' | 'scopes' | 'subjectType' | 'pkceRequired' | 'clientUri' | 'logoUri' | 'tosUri'
  | 'policyUri' | 'initiationUri' | 'settingsUri' | 'contacts' | 'description' | 'category'>;

export interface RegistrationContext {
  storage: Storage;
  environment: Environment;
  brandName: string;
  now: number;
  /** SPEC decision 13: new clients wait as `pending` for approval. Default: outside development only. */
  requireApproval?: boolean;
}

/** Whether new clients (and partners' branding changes) wait for an administrator (SPEC decision 13). */
export const requiresApproval = (context: { environment: Environment; requireApproval?: boolean }) =>
  context.requireApproval ?? context.environment !== 'development';

/** Who registers: an administrator (CLI, admin API, seed) or a partner developer in the portal. */
export interface Registrant {
  /** Audit actor: `admin:<name>` or `user:<id>`. */
  actor: string;
  /** The partner developer's user id; absent for administrators. */
  ownerUserId?: string | null;
}

const MAX_CONTACTS = 10;
const MAX_URI_LENGTH = 2_000;
/** A pragmatic address check (RFC 5321 §4.5.3.1.3: at most 254 characters): local@domain.tld, no spaces or angle brackets. */
export const EMAIL = /^[^\s@<>(),;:"[\]]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;

/**
 * The scopes of `scopes` the client is registered for now, in their order. A scope removed from the client is granted
 * no more (storage.ts clients.update narrows what was stored; the code exchange, the refresh and introspection call
 * this for a code or token a request in flight wrote meanwhile).
 */
export function registeredScopes(client: Pick<ClientRecord, 'scopes'>, scopes: readonly string[]): string[] {
  return scopes.filter((scope) => client.scopes.includes(scope));
}

/** The human-facing URIs (pageUriProblem), stored percent-encoded (storedPageUri), with their RFC 7591 names. */
export const PAGE_URI_FIELDS: readonly (readonly [keyof ClientMetadata, string])[] = [
  ['clientUri', 'client_uri'], ['logoUri', 'logo_uri'], ['tosUri', 'tos_uri'], ['policyUri', 'policy_uri'],
  ['initiationUri', 'initiation_uri'], ['settingsUri', 'settings_uri'],
];

/** `uri` with every character outside printable ASCII as its UTF-8 bytes percent-encoded (RFC 3986 §2.1). */
function percentEncodeBeyondAscii(uri: string): string {
  return uri.replace(/[^\x21-\x7E]/gu, (character) => [...Buffer.from(character, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

/**
 * A page URI as it is stored (validateClientMetadata): its internationalized host in ASCII form, its other characters
 * outside printable ASCII percent-encoded (RFC 3986 §2.1). The same page as the URI written otherwise; a URI already
 * stored so is returned unchanged (`%` is printable ASCII).
 */
export function storedPageUri(uri: string): string {
  return percentEncodeBeyondAscii(withAsciiHost(uri));
}

/**
 * Checks one human-facing URI (client_uri, logo_uri, tos_uri, policy_uri, initiation_uri, settings_uri).
 * Seed "Secure Transport": all communication over HTTPS; http only for localhost outside production
 * (SPEC §2); no user-info (it could pass for another host on the consent page); no fragment for the
 * initiation and settings URIs (the platform appends parameters to them, SPEC §3 session handover).
 * @returns why the URI is refused, or undefined.
 */
export function pageUriProblem(uri: string, environment: Environment): string | undefined {
  if (uri.length > MAX_URI_LENGTH) return `must be at most ${MAX_URI_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URI';
  }
  // As stored (percent-encoded, up to 9 characters for one typed): a longer one was accepted, then refused by every
  // later update, which checks the stored record, so the client could save no other change.
  if (storedPageUri(uri).length > MAX_URI_LENGTH) return `must be at most ${MAX_URI_LENGTH} characters`;
  if (/\s/.test(uri)) return 'must not contain white space';
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(uri)) return 'must not contain user information';
  // A mixed-script host label passes for another host on the consent page (UTS #39 §5.1).
  const hostProblem = hostNameProblem(uri);
  if (hostProblem) return hostProblem;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && isLoopbackHostname(url.hostname)) {
    return environment === 'production' ? 'must use https in production' : undefined;
  }
  return 'must use https (http is allowed only for localhost outside production)';
}

/**
 * Validates client metadata (seed "OAuth 2.0 Client Registration"; SPEC decisions 1, 2, 4, 12), trimming
 * names and dropping duplicate scopes and contacts. Used by registration and by every update.
 * @returns the normalized metadata.
 * @throws RegistrationError naming the refused field (RFC 7591 §3.2.2 names).
 */
export function validateClientMetadata(metadata: ClientMetadata, environment: Environment, brandName: string): ClientMetadata {
  const name = metadata.clientName.trim();
  if (!name || name.length > 100) throw new RegistrationError('client_name', 'must be 1-100 characters');
  // RFC 7591 §2: a human-readable name, shown on the consent page; as directory names (directory.ts readName). A NUL
  // reached the database, which PostgreSQL text cannot hold: a 500 (SPEC decision 18) where a field error belongs.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this check's purpose
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new RegistrationError('client_name', 'must not contain control characters');
  if (usesBrandName(name, brandName)) throw new RegistrationError('client_name', `must not use ${brandName} branding`);
  if (metadata.clientType !== 'confidential' && metadata.clientType !== 'public') {
    throw new RegistrationError('token_endpoint_auth_method', 'client type must be confidential or public');
  }
  if (metadata.redirectUris.length === 0) throw new RegistrationError('redirect_uris', 'at least one redirect URI is required');
  for (const uri of metadata.redirectUris) {
    const problem = redirectUriProblem(uri, metadata.clientType, environment);
    if (problem) throw new RegistrationError('redirect_uris', `${uri} ${problem}`);
  }
  if (metadata.scopes.length === 0) throw new RegistrationError('scope', 'at least one scope is required');
  const unknown = metadata.scopes.filter((scope) => !SCOPE_CATALOGUE.has(scope));
  if (unknown.length > 0) throw new RegistrationError('scope', `not in the scope catalogue: ${unknown.join(' ')}`);
  const subjectType = metadata.subjectType ?? null;
  if (subjectType !== null && subjectType !== 'company' && subjectType !== 'organization') {
    throw new RegistrationError('subject_type', 'must be company or organization');
  }
  // SPEC decision 2: PKCE is required for public clients, always.
  if (!metadata.pkceRequired && metadata.clientType === 'public') throw new RegistrationError('pkce_required', 'a public client cannot have a PKCE exception');
  for (const [field, wireName] of PAGE_URI_FIELDS) {
    const uri = metadata[field] as string | null;
    if (uri === null) continue;
    const problem = pageUriProblem(uri, environment);
    if (problem) throw new RegistrationError(wireName, `${uri} ${problem}`);
    // The platform appends the handover JWT to these (SPEC §3); a fragment would swallow it.
    if ((field === 'initiationUri' || field === 'settingsUri') && uri.includes('#')) throw new RegistrationError(wireName, `${uri} must not contain a fragment`);
  }
  const contacts = [...new Set(metadata.contacts.map((contact) => contact.trim()).filter(Boolean))];
  if (contacts.length > MAX_CONTACTS) throw new RegistrationError('contacts', `at most ${MAX_CONTACTS} addresses`);
  for (const contact of contacts) {
    // A control character is no address's (EMAIL lets them through), and a NUL reached PostgreSQL, which refused it: a 500.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is this check's purpose
    if (contact.length > 254 || !EMAIL.test(contact) || /[\u0000-\u001f\u007f]/.test(contact)) throw new RegistrationError('contacts', `${contact} is not an e-mail address`);
  }
  // Issue 13 (Marketplace): a plain-text description of at most 500 characters, and a category from the fixed list.
  const description = normalizeDescription(metadata.description);
  if ('problem' in description) throw new RegistrationError('description', description.problem);
  const category = normalizeCategory(metadata.category);
  if ('problem' in category) throw new RegistrationError('category', category.problem);
  // Internationalized hosts are stored in their ASCII form, the only form clients reach them by and the
  // form redirect_uri is compared with at the authorization endpoint (SPEC decision 4, exact match).
  // A page URI's other characters are stored percent-encoded (RFC 3986 §2.1), as a browser sends them: the initiation
  // and settings URIs are redirected to (a Location header cannot hold a control character or one beyond U+00FF), and
  // PostgreSQL text cannot hold NUL (a 500). Encoded, not refused: a client stored before keeps saving its other
  // changes (every update checks the whole record). Redirect URIs are refused instead (redirect-uri.ts): they are
  // compared exactly with what the client sends.
  const page = (uri: string | null) => (uri === null ? null : storedPageUri(uri));
  const normalized: ClientMetadata = {
    ...metadata, clientName: name, scopes: [...new Set(metadata.scopes)], subjectType, contacts,
    redirectUris: metadata.redirectUris.map(withAsciiHost),
    clientUri: page(metadata.clientUri), logoUri: page(metadata.logoUri), tosUri: page(metadata.tosUri),
    policyUri: page(metadata.policyUri), initiationUri: page(metadata.initiationUri), settingsUri: page(metadata.settingsUri),
  };
  // Absent when none, as storage returns them (ClientRecord.description / .category).
  delete normalized.description;
  delete normalized.category;
  if (description.description !== null) normalized.description = description.description;
  if (category.category !== null) normalized.category = category.category;
  return normalized;
}

/** Letters and digits only: spaces, punctuation, combining marks and invisible characters (zero-width space, soft hyphen) go. */
const squash = (text: string) => text.replace(/[^\p{L}\p{N}]+/gu, '');

/**
 * The UTS #39 §4 skeleton (NFD, then each confusable replaced by its prototype from the Unicode
 * confusables data, then NFD again), lower-cased and squashed: two strings that look alike have the
 * same one (Cyrillic `а` and Latin `a`; `0` and `o`; `rn` and `m`).
 */
const skeleton = (text: string) => squash(unhomoglyph(text.normalize('NFD')).normalize('NFD').toLowerCase());

/**
 * Whether a client name uses the brand (seed: "Do not use <brand> branding in your client information"):
 * in any case, spaced or punctuated, hidden by invisible characters, or spelt with look-alike letters of
 * other scripts. NFKC first folds full-width and compatibility forms. The skeleton is compared for the
 * name and brand as written, lower-cased and upper-cased, since confusables are mapped case by case
 * (Greek capital `Τ` looks like `T`, small `τ` does not look like `t`).
 */
export function usesBrandName(clientName: string, brandName: string): boolean {
  const name = clientName.normalize('NFKC');
  const brand = brandName.normalize('NFKC');
  if (squash(name.toLowerCase()).includes(squash(brand.toLowerCase()))) return true;
  return [(text: string) => text, (text: string) => text.toLowerCase(), (text: string) => text.toUpperCase()]
    .some((fold) => skeleton(fold(name)).includes(skeleton(fold(brand))));
}

/**
 * Validates and stores a client. In development it is active at once; in staging and production it is
 * `pending` until an administrator approves it (SPEC decision 13). A partner developer's client starts
 * with `brandingVerified` false outside development (its name and logo are not reviewed yet).
 * @returns the client and, for confidential clients, the secret: shown once, stored only as a digest.
 * @throws RegistrationError naming the refused field.
 */
export async function registerClient(
  context: RegistrationContext,
  registration: ClientRegistration,
  fixed: { clientId?: string; clientSecret?: string } = {},
  registrant: Registrant = { actor: 'admin:cli' },
): Promise<{ client: ClientRecord; clientSecret: string | undefined }> {
  const metadata = validateClientMetadata({
    clientName: registration.clientName, clientType: registration.clientType, redirectUris: registration.redirectUris,
    scopes: registration.scopes, subjectType: registration.subjectType ?? null, pkceRequired: registration.pkceRequired ?? true,
    clientUri: registration.clientUri ?? null, logoUri: registration.logoUri ?? null, tosUri: registration.tosUri ?? null,
    policyUri: registration.policyUri ?? null, initiationUri: registration.initiationUri ?? null,
    settingsUri: registration.settingsUri ?? null, contacts: registration.contacts ?? [],
    description: registration.description ?? null, category: (registration.category ?? null) as ClientMetadata['category'],
  }, context.environment, context.brandName);

  const clientSecret = metadata.clientType === 'confidential' ? (fixed.clientSecret ?? generateClientSecret()) : undefined;
  const review = requiresApproval(context);
  const ownerUserId = registrant.ownerUserId ?? null;
  const client: ClientRecord = {
    clientId: fixed.clientId ?? randomUUID(),
    kind: 'client',
    ...metadata,
    secretDigest: clientSecret === undefined ? null : digestClientSecret(clientSecret),
    status: review ? 'pending' : 'active',
    audience: null,
    createdAt: context.now,
    ownerUserId,
    previousSecretDigest: null,
    previousSecretExpiresAt: null,
    // An administrator's registration is its own review; a partner's waits for approval (unless nothing is reviewed).
    brandingVerified: !review || ownerUserId === null,
    ...(registration.requirePushedAuthorizationRequests ? { requirePushedAuthorizationRequests: true } : {}),
    ...(registration.dpopBoundAccessTokens ? { dpopBoundAccessTokens: true } : {}),
  };
  await context.storage.clients.create(client);
  await context.storage.audit.record({
    type: 'client.registered', at: context.now, actor: registrant.actor, clientId: client.clientId,
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
  registrant: Registrant = { actor: 'admin:cli' },
): Promise<{ client: ClientRecord; clientSecret: string }> {
  const clientSecret = fixed.clientSecret ?? generateClientSecret();
  const client: ClientRecord = {
    clientId: fixed.clientId ?? randomUUID(), kind: 'resource_server', clientName: registration.name, clientType: 'confidential',
    secretDigest: digestClientSecret(clientSecret), redirectUris: [], scopes: [], subjectType: null, pkceRequired: true,
    status: 'active', clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: registration.audience, createdAt: context.now,
    initiationUri: null, settingsUri: null, contacts: [], ownerUserId: null, previousSecretDigest: null, previousSecretExpiresAt: null,
    brandingVerified: true,
  };
  await context.storage.clients.create(client);
  await context.storage.audit.record({ type: 'resource_server.registered', at: context.now, actor: registrant.actor, clientId: client.clientId, details: { audience: registration.audience } });
  return { client, clientSecret };
}
