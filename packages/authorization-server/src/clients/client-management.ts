/**
 * Managing registered clients after registration: the one place the developer portal, the admin API
 * and the CLI change a client, so all three keep the same rules and leave the same audit trail.
 *
 * - Metadata updates are validated by `validateClientMetadata` (registration.ts), as registration is;
 *   refusals are `RegistrationError`s naming the field.
 * - Lifecycle (SPEC decision 13): pending → active (approve); active|pending → suspended (suspend);
 *   suspended → active (reactivate); anything but deleted → deleted (delete, final). A suspension
 *   revokes the client's access tokens at once (also for resource servers that validate locally and read
 *   the revocation feed); its grants stay, so reactivation restores the connections. A deletion revokes
 *   every grant and token of the client.
 * - Secret rotation (SPEC decision 10): a new secret shown once; the old one stays valid for
 *   `overlapSeconds` (default 0); optionally every grant is revoked.
 * - Every change is an audit event (SPEC decision 19): who (`actor`), what (`type`, field names, never a
 *   secret), when (`at`).
 */
import { clientEventDelivery, grantRevocationEffects, queueClientEvent } from '../webhooks/webhook-events.ts';
import { hash } from 'node:crypto';
import { imageSize } from 'image-size';
import type { Environment } from '../options.ts';
import type { AuditEvent, ClientPatch, ClientRecord, Storage } from '../storage/storage.ts';
import { digestClientSecret, generateClientSecret } from './client-secret.ts';
import { PAGE_URI_FIELDS, RegistrationError, requiresApproval, storedPageUri, validateClientMetadata, type ClientMetadata } from './registration.ts';

export interface ManagementContext {
  storage: Storage;
  environment: Environment;
  brandName: string;
  /** Seconds since the epoch (the injectable clock). */
  now: number;
  /** Audit actor: `admin:<name>` or `user:<id>` (a partner developer in the portal). */
  actor: string;
  /** SPEC decision 13: whether clients wait for approval; default outside development only. */
  requireApproval?: boolean;
  /** The brand's URN namespace, for `subject_urn` in `grant.revoked` webhook events (issue 15 §5); default `gatehouse`. */
  urnNamespace?: string;
}

const urnNamespaceOf = (context: ManagementContext) => context.urnNamespace ?? 'gatehouse';

/** A refused management step that is not a field problem: unknown client, or a state that does not allow it. */
export class ClientManagementError extends Error {
  /** `not_found`: no such client (or a resource server); `conflict`: not allowed in the client's current state. */
  readonly reason: 'not_found' | 'conflict';
  constructor(reason: 'not_found' | 'conflict', message: string) {
    super(message);
    this.reason = reason;
  }
}

/** The metadata a partner or administrator may change (RFC 7591 field meanings, camelCase here). Absent = unchanged. */
export type ClientMetadataChanges = Partial<Omit<ClientMetadata, 'clientType' | 'pkceRequired'>>;

/** Fields whose change means an administrator must review the branding again (the consent page shows them). */
// Issue 13: the marketplace description too: partner text shown to users under the platform's brand is reviewed before it is listed.
const BRANDING_FIELDS: (keyof ClientMetadataChanges)[] = ['clientName', 'logoUri', 'clientUri', 'tosUri', 'policyUri', 'description'];

/** Longest rotation overlap: 30 days. A longer window would keep a possibly leaked secret alive too long. */
export const MAX_SECRET_OVERLAP_SECONDS = 30 * 24 * 60 * 60;

/** SPEC decision 11 / seed "Logo: Square (1:1), high-resolution". */
export const LOGO_MIN_SIDE_PIXELS = 256;
export const LOGO_MAX_BYTES = 1024 * 1024;
const LOGO_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', webp: 'image/webp' };

/** A partner client (not a resource server's credentials), not deleted. @throws ClientManagementError not_found. */
export async function findManagedClient(storage: Storage, clientId: string): Promise<ClientRecord> {
  const client = await storage.clients.find(clientId);
  if (!client || client.kind !== 'client' || client.status === 'deleted') throw new ClientManagementError('not_found', `no client ${clientId}`);
  return client;
}

const isAdministrator = (actor: string) => actor.startsWith('admin:');

/**
 * Changes a client's metadata after validating the result as a whole.
 * @returns the updated client.
 * @throws RegistrationError naming the refused field; ClientManagementError not_found.
 */
export async function updateClient(context: ManagementContext, clientId: string, changes: ClientMetadataChanges): Promise<ClientRecord> {
  const client = await findManagedClient(context.storage, clientId);
  const merged = validateClientMetadata({ ...pickMetadata(client), ...definedOnly(changes) }, context.environment, context.brandName);
  const patch: ClientPatch = {};
  const changed: string[] = [];
  // Issue 13: the optional description and category are absent when none; a change to none is a patch with null.
  for (const key of new Set([...Object.keys(merged), 'description', 'category']) as Set<keyof ClientMetadata>) {
    if (JSON.stringify(merged[key] ?? null) !== JSON.stringify(client[key] ?? null)) {
      (patch as Record<string, unknown>)[key] = merged[key] ?? null;
      changed.push(key);
    }
  }
  if (changed.length === 0) return client;
  // A partner's new name or logo is unreviewed until an administrator approves it again; an administrator's edit is its own review.
  // A page URI stored before page URIs were percent-encoded (RFC 3986 §2.1) is rewritten by any update: the same page,
  // the reviewed one, so no branding change (it took the client out of the marketplace until approved again).
  const reviewed = (key: keyof ClientMetadata) => {
    const value = client[key] ?? null;
    return PAGE_URI_FIELDS.some(([field]) => field === key) && typeof value === 'string' ? storedPageUri(value) : value;
  };
  const brandingChanged = changed.some((key) => BRANDING_FIELDS.includes(key as keyof ClientMetadataChanges)
    && JSON.stringify(merged[key as keyof ClientMetadata] ?? null) !== JSON.stringify(reviewed(key as keyof ClientMetadata)));
  if (!isAdministrator(context.actor) && requiresApproval(context) && brandingChanged) {
    patch.brandingVerified = false;
    if (client.brandingVerified) await keepReviewedBranding(context, client);
  }
  const details = { fields: changed.map(wireName).join(' ') };
  if (patch.scopes === undefined) {
    const updated = (await context.storage.clients.update(clientId, patch))!;
    await audit(context, 'client.updated', clientId, details);
    return updated;
  }
  // A scope the client is no longer registered for leaves its grants, tokens and codes in the same commit
  // (storage.ts clients.update): a refresh never again answers with it (RFC 6749 §6 bounds a refresh by the grant).
  const updated = await context.storage.clients.update(clientId, patch, {
    now: context.now,
    grantRevoked: grantRevocationEffects(urnNamespaceOf(context), context.now, 'client_scopes_narrowed').webhookDelivery,
    auditEvent: ({ grantsNarrowed, grantsRevoked, accessTokensRevoked }) => auditEvent(context, 'client.updated', clientId, {
      ...details, ...(grantsNarrowed + grantsRevoked + accessTokensRevoked > 0
        ? { grants_narrowed: grantsNarrowed, grants_revoked: grantsRevoked, access_tokens_revoked: accessTokensRevoked } : {}),
    }),
  });
  if (!updated) throw new ClientManagementError('not_found', `no client ${clientId}`);
  return updated;
}

/** pending → active; also marks the branding reviewed (SPEC decision 13). Approving an active client re-verifies its branding. */
export async function approveClient(context: ManagementContext, clientId: string): Promise<ClientRecord> {
  const client = await findManagedClient(context.storage, clientId);
  if (client.status === 'suspended') throw new ClientManagementError('conflict', 'a suspended client is reactivated, not approved');
  const updated = (await context.storage.clients.update(clientId, { status: 'active', brandingVerified: true }))!;
  // Issue 13: the changed branding is now the reviewed one.
  const brandingChange = await context.storage.brandingReviews.remove(clientId);
  await audit(context, 'client.approved', clientId, { previous_status: client.status, ...(brandingChange ? { branding_change: true } : {}) });
  return updated;
}

/**
 * active|pending → suspended. Flows, code redemption, refresh and introspection stop at once (they check
 * the status); access tokens are revoked so the revocation feed carries them to locally validating
 * resource servers. Grants stay for a reactivation.
 */
export async function suspendClient(context: ManagementContext, clientId: string): Promise<ClientRecord> {
  await findManagedClient(context.storage, clientId);
  // One transaction: the status, the revocation, the audit event and the webhook (storage.ts changeStatus).
  const changed = await context.storage.clients.changeStatus(clientId, {
    status: 'suspended',
    now: context.now,
    auditEvent: ({ previousStatus, accessTokensRevoked }) => auditEvent(context, 'client.suspended', clientId, { previous_status: previousStatus, access_tokens_revoked: accessTokensRevoked }),
    clientEvent: clientEventDelivery(clientId, context.now, 'client.suspended'), // issue 15 §5
  });
  if (changed.outcome === 'not_found') throw new ClientManagementError('not_found', `no client ${clientId}`);
  return changed.client;
}

/** suspended → active. Its grants work again; its revoked access tokens stay revoked (a refresh issues new ones). */
export async function reactivateClient(context: ManagementContext, clientId: string): Promise<ClientRecord> {
  const client = await findManagedClient(context.storage, clientId);
  if (client.status !== 'suspended') throw new ClientManagementError('conflict', `only a suspended client can be reactivated (it is ${client.status})`);
  const updated = (await context.storage.clients.update(clientId, { status: 'active' }))!;
  await audit(context, 'client.reactivated', clientId, {});
  await queueClientEvent(context.storage, clientId, context.now, 'client.reactivated'); // issue 15 §5: the partner may resume
  return updated;
}

/**
 * → deleted, for good: every grant and token of the client is revoked (SPEC decision 13), in the transaction that
 * deletes it (storage.ts changeStatus). Deleting a deleted client completes what an older version's failed
 * revocation left, then answers not_found as before.
 */
export async function deleteClient(context: ManagementContext, clientId: string): Promise<{ client: ClientRecord; grantsRevoked: number }> {
  const stored = await context.storage.clients.find(clientId);
  if (!stored || stored.kind !== 'client') throw new ClientManagementError('not_found', `no client ${clientId}`);
  const changed = await context.storage.clients.changeStatus(clientId, {
    status: 'deleted',
    now: context.now,
    auditEvent: ({ previousStatus, grantsRevoked }) => auditEvent(context, 'client.deleted', clientId, { previous_status: previousStatus, grants_revoked: grantsRevoked }),
    // Issue 15 §5: a grant.revoked webhook per revoked grant, then client.deleted.
    grantRevoked: grantRevocationEffects(urnNamespaceOf(context), context.now, 'client_deleted').webhookDelivery,
    clientEvent: clientEventDelivery(clientId, context.now, 'client.deleted'),
  });
  if (changed.outcome !== 'changed') throw new ClientManagementError('not_found', `no client ${clientId}`);
  return { client: changed.client, grantsRevoked: changed.grantsRevoked };
}

/** Administrator only (SPEC decision 2): a confidential client may be exempted from PKCE; a public one never. */
export async function setPkceException(context: ManagementContext, clientId: string, exempt: boolean): Promise<ClientRecord> {
  if (!isAdministrator(context.actor)) throw new ClientManagementError('conflict', 'only an administrator can grant a PKCE exception');
  const client = await findManagedClient(context.storage, clientId);
  if (exempt && client.clientType === 'public') throw new RegistrationError('pkce_required', 'a public client cannot have a PKCE exception');
  const updated = (await context.storage.clients.update(clientId, { pkceRequired: !exempt }))!;
  await audit(context, exempt ? 'client.pkce_exception_granted' : 'client.pkce_exception_removed', clientId, {});
  return updated;
}

/**
 * SPEC decision 10: issues a new secret (shown once), keeps the old one valid for `overlapSeconds`
 * (0 = refused at once), and with `revokeGrants` revokes every grant of the client (their refresh tokens
 * stop, platform docs: "refresh tokens also stop working on … client credential rotation").
 * @throws RegistrationError `overlap_seconds` out of range; ClientManagementError for a public client.
 */
export async function rotateClientSecret(
  context: ManagementContext, clientId: string, options: { overlapSeconds?: number; revokeGrants?: boolean } = {},
): Promise<{ client: ClientRecord; clientSecret: string; grantsRevoked: number }> {
  const overlapSeconds = options.overlapSeconds ?? 0;
  if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > MAX_SECRET_OVERLAP_SECONDS) {
    throw new RegistrationError('overlap_seconds', `must be a whole number of seconds from 0 to ${MAX_SECRET_OVERLAP_SECONDS}`);
  }
  const client = await findManagedClient(context.storage, clientId);
  if (client.clientType !== 'confidential' || client.secretDigest === null) throw new ClientManagementError('conflict', 'a public client has no secret to rotate');
  const clientSecret = generateClientSecret();
  const updated = (await context.storage.clients.update(clientId, {
    secretDigest: digestClientSecret(clientSecret),
    previousSecretDigest: overlapSeconds > 0 ? client.secretDigest : null,
    previousSecretExpiresAt: overlapSeconds > 0 ? context.now + overlapSeconds : null,
  }))!;
  // Issue 15 §5: a grant.revoked webhook per revoked grant, queued in the revocation's transaction.
  const grantsRevoked = options.revokeGrants
    ? await context.storage.grants.revokeAllOfClient(clientId, context.now, 'client_secret_rotated', grantRevocationEffects(urnNamespaceOf(context), context.now, 'client_secret_rotated'))
    : 0;
  await audit(context, 'client.secret_rotated', clientId, { overlap_seconds: overlapSeconds, grants_revoked: grantsRevoked });
  return { client: updated, clientSecret, grantsRevoked };
}

/** What `inspectLogo` found in acceptable bytes. */
export interface LogoImage {
  contentType: string;
  widthPixels: number;
  heightPixels: number;
}

/**
 * Checks uploaded logo bytes by their content, never by a declared type: PNG, JPEG or WebP (SVG can carry
 * script and is refused), square (seed: "Square (1:1)"), at least 256×256 ("high-resolution"), at most 1 MiB.
 * @throws RegistrationError naming `logo`.
 */
export function inspectLogo(bytes: Buffer): LogoImage {
  if (bytes.length === 0) throw new RegistrationError('logo', 'is empty');
  if (bytes.length > LOGO_MAX_BYTES) throw new RegistrationError('logo', `must be at most ${LOGO_MAX_BYTES} bytes (1 MiB)`);
  let size: ReturnType<typeof imageSize>;
  try {
    size = imageSize(bytes);
  } catch {
    throw new RegistrationError('logo', 'must be a PNG, JPEG or WebP image');
  }
  const contentType = size.type ? LOGO_TYPES[size.type] : undefined;
  if (!contentType) throw new RegistrationError('logo', `must be a PNG, JPEG or WebP image (got ${size.type ?? 'unknown'})`);
  const { width, height } = size;
  if (!width || !height) throw new RegistrationError('logo', 'has no readable dimensions');
  if (width !== height) throw new RegistrationError('logo', `must be square (1:1), got ${width}×${height}`);
  if (width < LOGO_MIN_SIDE_PIXELS) throw new RegistrationError('logo', `must be at least ${LOGO_MIN_SIDE_PIXELS}×${LOGO_MIN_SIDE_PIXELS} pixels, got ${width}×${height}`);
  return { contentType, widthPixels: width, heightPixels: height };
}

/**
 * Stores an uploaded logo and points the client's `logo_uri` at it (`<issuer>/logos/<client_id>?v=<hash>`,
 * the hash busting caches on change). A partner's new logo needs review again.
 * @throws RegistrationError `logo`; ClientManagementError not_found.
 */
export async function setClientLogo(context: ManagementContext, issuer: string, clientId: string, bytes: Buffer): Promise<ClientRecord> {
  const client = await findManagedClient(context.storage, clientId);
  const image = inspectLogo(bytes);
  const sha256 = hash('sha256', bytes, 'base64url');
  if (!isAdministrator(context.actor) && requiresApproval(context) && client.brandingVerified) await keepReviewedBranding(context, client);
  await context.storage.clientLogos.put({ clientId, contentType: image.contentType, bytes, sha256, updatedAt: context.now });
  const patch: ClientPatch = { logoUri: logoUri(issuer, clientId, sha256) };
  if (!isAdministrator(context.actor) && requiresApproval(context)) patch.brandingVerified = false;
  const updated = (await context.storage.clients.update(clientId, patch))!;
  await audit(context, 'client.logo_set', clientId, { content_type: image.contentType, width_pixels: image.widthPixels, bytes: bytes.length });
  return updated;
}

export function logoUri(issuer: string, clientId: string, sha256: string): string {
  return `${issuer}/logos/${encodeURIComponent(clientId)}?v=${sha256.slice(0, 16)}`;
}

function pickMetadata(client: ClientRecord): ClientMetadata {
  const { clientName, clientType, redirectUris, scopes, subjectType, pkceRequired, clientUri, logoUri: logo, tosUri, policyUri, initiationUri, settingsUri, contacts } = client;
  return { clientName, clientType, redirectUris, scopes, subjectType, pkceRequired, clientUri, logoUri: logo, tosUri, policyUri, initiationUri, settingsUri, contacts, description: client.description ?? null, category: client.category ?? null };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

/** RFC 7591 names of the fields, for audit details. */
const WIRE_NAMES: Record<string, string> = {
  clientName: 'client_name', redirectUris: 'redirect_uris', scopes: 'scope', subjectType: 'subject_type', clientUri: 'client_uri',
  logoUri: 'logo_uri', tosUri: 'tos_uri', policyUri: 'policy_uri', initiationUri: 'initiation_uri', settingsUri: 'settings_uri', contacts: 'contacts',
};
const wireName = (key: string) => WIRE_NAMES[key] ?? key;

async function audit(context: ManagementContext, type: string, clientId: string, details: Record<string, string | number | boolean | null>): Promise<void> {
  await context.storage.audit.record(auditEvent(context, type, clientId, details));
}

function auditEvent(context: ManagementContext, type: string, clientId: string, details: Record<string, string | number | boolean | null>): AuditEvent {
  return { type, at: context.now, actor: context.actor, clientId, details };
}


/**
 * RFC 9126 §6 `require_pushed_authorization_requests`: whether the client's authorization requests must
 * come through /oauth/par. Only stricter for the client, so partners and administrators alike may set it.
 * @throws ClientManagementError not_found.
 */
export async function setPushedAuthorizationRequestsRequired(context: ManagementContext, clientId: string, required: boolean): Promise<ClientRecord> {
  const client = await findManagedClient(context.storage, clientId);
  if ((client.requirePushedAuthorizationRequests ?? false) === required) return client;
  const updated = (await context.storage.clients.update(clientId, { requirePushedAuthorizationRequests: required }))!;
  await audit(context, 'client.updated', clientId, { fields: 'require_pushed_authorization_requests' });
  return updated;
}

/**
 * RFC 9449 §5.2 `dpop_bound_access_tokens`: whether every token request of the client must carry a DPoP
 * proof (a request without one is refused, endpoints/token.ts). Only stricter for the client.
 * @throws ClientManagementError not_found.
 */
export async function setDpopBoundAccessTokens(context: ManagementContext, clientId: string, required: boolean): Promise<ClientRecord> {
  const client = await findManagedClient(context.storage, clientId);
  if ((client.dpopBoundAccessTokens ?? false) === required) return client;
  const updated = (await context.storage.clients.update(clientId, { dpopBoundAccessTokens: required }))!;
  await audit(context, 'client.updated', clientId, { fields: 'dpop_bound_access_tokens' });
  return updated;
}


/**
 * Issue 13, branding-change review. DESIGN: a partner's change of a reviewed client's name, logo or URIs
 * applies at once (the integration keeps working; the consent page marks the branding unverified and the
 * marketplace hides the app, as before), and the reviewed values are kept aside (storage `brandingReviews`,
 * logo bytes included) the first time, so the console shows them before and after. Approving
 * (`approveClient`) makes the change the reviewed branding; rejecting (`rejectBrandingChange`) restores the
 * reviewed values and logo. A client never reviewed (pending) keeps nothing: there is no "before".
 */
async function keepReviewedBranding(context: ManagementContext, client: ClientRecord): Promise<void> {
  const logo = await context.storage.clientLogos.get(client.clientId);
  await context.storage.brandingReviews.keep({
    clientId: client.clientId, keptAt: context.now,
    reviewed: { clientName: client.clientName, clientUri: client.clientUri, logoUri: client.logoUri, tosUri: client.tosUri, policyUri: client.policyUri, description: client.description ?? null },
    logo: logo ? { contentType: logo.contentType, bytes: logo.bytes, sha256: logo.sha256 } : null,
  });
}

/**
 * Administrator only (issue 13): refuses a partner's branding change by restoring the reviewed name, URIs
 * and uploaded logo kept when the change came; the branding counts as reviewed again. Audited as
 * `client.branding_rejected` with the restored fields' RFC 7591 names.
 * @throws ClientManagementError not_found; conflict when the actor is not an administrator or no change waits.
 */
export async function rejectBrandingChange(context: ManagementContext, clientId: string): Promise<ClientRecord> {
  if (!isAdministrator(context.actor)) throw new ClientManagementError('conflict', 'only an administrator can reject a branding change');
  const client = await findManagedClient(context.storage, clientId);
  const review = await context.storage.brandingReviews.find(clientId);
  if (!review) throw new ClientManagementError('conflict', 'no branding change of this client waits for review');
  if (review.logo) await context.storage.clientLogos.put({ clientId, ...review.logo, updatedAt: context.now });
  // In a fixed order (a jsonb snapshot does not keep its keys' order).
  const restored: string[] = (['clientName', 'logoUri', 'clientUri', 'tosUri', 'policyUri'] as const).filter((key) => review.reviewed[key] !== client[key]);
  // The marketplace description is reviewed too (absent in a record kept before it was: left as it is).
  if (review.reviewed.description !== undefined && review.reviewed.description !== (client.description ?? null)) restored.push('description');
  const updated = (await context.storage.clients.update(clientId, { ...review.reviewed, brandingVerified: true }))!;
  await context.storage.brandingReviews.remove(clientId);
  await audit(context, 'client.branding_rejected', clientId, { fields: restored.map(wireName).join(' ') });
  return updated;
}
