/**
 * What every surface (account pages, marketplace, connected apps, admin API, CLI, console, introspection)
 * does with API keys, in one place, each step with its audit event (SPEC decision 19; issue 16: creation,
 * use after revocation and deletion are audited, never with a key value).
 *
 * Audit events: `api_key.created` (details: key_id, key_type, subject_urn, scope, expires_at, and for a
 * reinstall `replaced_key_id`), `api_key.revoked` / `api_key.deleted` (key_id, key_type, reason),
 * `api_key.used_after_revocation` (key_id, key_type), `api_key.integration_enabled` / `_disabled`.
 */
import { hasHiddenCharacters } from '../clients/marketplace-listing.ts';
import { randomUUID } from 'node:crypto';
import { formatSubjectUrn, isScopeName } from '@gatehouse/protocol';
import type { ServerContext } from '../server-context.ts';
import type { ApiKeyRecord, ApiKeyRevocationReason, ClientRecord, SubjectType } from '../storage/storage.ts';
import { apiKeyDigestOf, apiKeyState, mintApiKey } from './api-key.ts';

/** The lifetimes a standalone key may have, seconds (30 days, 90 days, a year), besides none (README "API keys"). */
export const STANDALONE_API_KEY_LIFETIMES_SECONDS: readonly number[] = [30 * 24 * 3600, 90 * 24 * 3600, 365 * 24 * 3600];
/** How often a key's use refreshes its `lastUsedAt`, seconds (as grants: endpoints/introspection.ts). */
export const API_KEY_USE_RECORDING_INTERVAL_SECONDS = 60;
/** Longest standalone key name, characters. */
export const MAX_API_KEY_NAME_LENGTH = 100;

/** What revocation and the integration flag need (the CLI has no server, only storage, a clock and the brand). */
export type ApiKeyAdministration = Pick<ServerContext, 'storage' | 'clock'> & { options: Pick<ServerContext['options'], 'brand'> };

export interface CreatedApiKey {
  key: ApiKeyRecord;
  /** The value: shown once, then only its digest exists. */
  value: string;
}

const subjectUrnOf = (context: ApiKeyAdministration, key: Pick<ApiKeyRecord, 'subjectType' | 'subjectId'>) =>
  formatSubjectUrn(context.options.brand.urnNamespace, key.subjectType, key.subjectId);

async function recordCreated(context: ServerContext, key: ApiKeyRecord, actor: string, replacedKeyId: string | null): Promise<void> {
  await context.storage.audit.record({
    type: 'api_key.created', at: key.createdAt, actor, clientId: key.clientId,
    details: {
      key_id: key.keyId, key_type: key.keyType, subject_urn: subjectUrnOf(context, key), scope: key.scopes.join(' '), expires_at: key.expiresAt,
      ...(replacedKeyId === null ? {} : { replaced_key_id: replacedKeyId }),
    },
  });
}

/**
 * A standalone key (SPEC §3: name, expiration, access level company or organization, scopes). The caller
 * has checked that `userId` administers the subject and validated the input (createStandaloneApiKeyInput).
 */
export async function createStandaloneApiKey(context: ServerContext, input: {
  userId: string; name: string; subjectType: SubjectType; subjectId: string; scopes: string[]; expiresAt: number | null;
}): Promise<CreatedApiKey> {
  const now = context.clock.nowSeconds();
  const minted = mintApiKey(context.codec);
  const key: ApiKeyRecord = {
    keyId: randomUUID(), keyDigest: minted.digest, displayPrefix: minted.displayPrefix, keyType: 'standalone', name: input.name, clientId: null,
    subjectType: input.subjectType, subjectId: input.subjectId, scopes: input.scopes, createdByUserId: input.userId, createdAt: now,
    expiresAt: input.expiresAt, lastUsedAt: null, revokedAt: null, revocationReason: null,
  };
  await context.storage.apiKeys.create(key);
  await recordCreated(context, key, `user:${input.userId}`, null);
  return { key, value: minted.value };
}

/** Field-level problems with a standalone key's form, by field name; empty when it is fine. */
export function standaloneApiKeyProblems(input: { name: string; scopes: string[]; lifetimeSeconds: number | null | undefined }, allowedScopes: readonly string[]): Record<string, string> {
  const problems: Record<string, string> = {};
  if (input.name.trim() === '') problems.name = 'name_required';
  else if (input.name.length > MAX_API_KEY_NAME_LENGTH) problems.name = 'name_too_long';
  // Shown on account pages and in audit details: nothing that hides or reorders what it shows (U+202E).
  else if (hasHiddenCharacters(input.name)) problems.name = 'name_invalid';
  if (input.scopes.length === 0) problems.scopes = 'scopes_required';
  else if (input.scopes.some((scope) => !isScopeName(scope) || !allowedScopes.includes(scope))) problems.scopes = 'scope_unknown';
  // Only what the form offers: a lifetime made up by hand (5 s, 7 years) is refused, not stored.
  if (input.lifetimeSeconds === undefined || (input.lifetimeSeconds !== null && !STANDALONE_API_KEY_LIFETIMES_SECONDS.includes(input.lifetimeSeconds))) {
    problems.expiration = 'expiration_invalid';
  }
  return problems;
}

/**
 * Installs an integrated key of `client` for a company (issue 16: one key per company per integration,
 * pre-scoped by the platform): atomically replaces the company's previous key of this integration
 * (reconnect and rotation). The caller has checked that `userId` administers the subject.
 * @throws Error when the client does not offer integrated keys (no integration record).
 */
export async function installIntegratedApiKey(context: ServerContext, input: {
  userId: string; client: ClientRecord; subjectType: SubjectType; subjectId: string;
}): Promise<CreatedApiKey & { replacedKeyId: string | null }> {
  const integration = await context.storage.apiKeys.findIntegration(input.client.clientId);
  if (!integration) throw new Error('this client does not offer integrated API keys');
  const now = context.clock.nowSeconds();
  const minted = mintApiKey(context.codec);
  const key: ApiKeyRecord = {
    keyId: randomUUID(), keyDigest: minted.digest, displayPrefix: minted.displayPrefix, keyType: 'integrated', name: input.client.clientName,
    clientId: input.client.clientId, subjectType: input.subjectType, subjectId: input.subjectId, scopes: integration.scopes,
    createdByUserId: input.userId, createdAt: now, expiresAt: null, lastUsedAt: null, revokedAt: null, revocationReason: null,
  };
  const replacedKeyId = await context.storage.apiKeys.install(key);
  await recordCreated(context, key, `user:${input.userId}`, replacedKeyId);
  return { key, value: minted.value, replacedKeyId };
}

export type ApiKeyRevocationOutcome = 'revoked' | 'not_found' | 'already_revoked';

/**
 * Revokes (or, for `deleted`, deletes: the row stays, so a later use is recognised and audited) a key.
 * @param actor `user:<id>`, `admin:<name>` or `cli`.
 */
export async function revokeApiKey(context: ApiKeyAdministration, keyId: string, actor: string, reason: Exclude<ApiKeyRevocationReason, 'rotated'>): Promise<ApiKeyRevocationOutcome> {
  const key = await context.storage.apiKeys.find(keyId);
  if (!key) return 'not_found';
  const now = context.clock.nowSeconds();
  if (!(await context.storage.apiKeys.revoke(keyId, now, reason))) return 'already_revoked';
  await context.storage.audit.record({
    type: reason === 'deleted' ? 'api_key.deleted' : 'api_key.revoked', at: now, actor, clientId: key.clientId,
    details: { key_id: key.keyId, key_type: key.keyType, subject_urn: subjectUrnOf(context, key), reason },
  });
  return 'revoked';
}

/**
 * The active key a presented value names, or undefined: malformed, forged, unknown, revoked, expired,
 * an integrated key whose integration is no longer offered, or whose client is no longer active. All
 * alike for the caller (no oracle, RFC 7662 §2.2 `{"active": false}`). A revoked key's use is audited
 * (`api_key.used_after_revocation`); a use records `lastUsedAt` at most once a minute. An integrated key's
 * scopes are answered narrowed to what its integration offers now, within its client's registered scopes.
 */
export async function resolveApiKey(context: ServerContext, value: string): Promise<{ key: ApiKeyRecord; client: ClientRecord | undefined } | undefined> {
  const digest = apiKeyDigestOf(context.codec, value);
  if (digest === undefined) return undefined;
  const key = await context.storage.apiKeys.findByDigest(digest);
  if (!key) return undefined;
  const now = context.clock.nowSeconds();
  const state = apiKeyState(key, now);
  if (state === 'revoked') {
    await context.storage.audit.record({
      type: 'api_key.used_after_revocation', at: now, actor: 'system', clientId: key.clientId,
      details: { key_id: key.keyId, key_type: key.keyType, reason: key.revocationReason },
    });
    return undefined;
  }
  if (state === 'expired') return undefined;
  let client: ClientRecord | undefined;
  let scopes = key.scopes;
  if (key.clientId !== null) {
    client = await context.storage.clients.find(key.clientId);
    const integration = client?.status === 'active' ? await context.storage.apiKeys.findIntegration(key.clientId) : undefined;
    if (!client || !integration) return undefined;
    // An integration narrowed since the key was installed (or its client's registered scopes) narrows the key
    // at once, as disabling it stops the key at once: a key never answers for more than its integration offers now.
    const offered = new Set(integration.scopes.filter((scope) => client!.scopes.includes(scope)));
    scopes = key.scopes.filter((scope) => offered.has(scope));
  }
  // Within the interval the UPDATE would match no row (last_used_at only moves forward): not noted. Issue 12:
  // noted, not written here: the recorder writes a second's uses in one statement, off this answer's path.
  if (key.lastUsedAt === null || now - key.lastUsedAt >= API_KEY_USE_RECORDING_INTERVAL_SECONDS) {
    context.lastUses.apiKeys.note(key.keyId, now);
  }
  return { key: scopes === key.scopes ? key : { ...key, scopes }, client };
}

/** Allows a client to offer integrated keys with `scopes` (default: the client's registered scopes). */
export async function enableApiKeyIntegration(context: ApiKeyAdministration, client: ClientRecord, scopes: string[] | undefined, actor: string): Promise<void> {
  const now = context.clock.nowSeconds();
  const granted = scopes ?? client.scopes;
  await context.storage.apiKeys.enableIntegration({ clientId: client.clientId, scopes: granted, enabledAt: now, enabledBy: actor });
  await context.storage.audit.record({ type: 'api_key.integration_enabled', at: now, actor, clientId: client.clientId, details: { scope: granted.join(' ') } });
}

/** Stops a client offering integrated keys; its keys stop working at once (resolveApiKey), and stay listed until revoked. */
export async function disableApiKeyIntegration(context: ApiKeyAdministration, clientId: string, actor: string): Promise<boolean> {
  if (!(await context.storage.apiKeys.disableIntegration(clientId))) return false;
  await context.storage.audit.record({ type: 'api_key.integration_disabled', at: context.clock.nowSeconds(), actor, clientId });
  return true;
}
