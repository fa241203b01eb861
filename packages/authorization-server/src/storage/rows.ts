/**
 * Turning stored rows (snake_case columns) into records, shared by the SQLite and PostgreSQL backends.
 * Lists and booleans are stored differently (SQLite: JSON text and 0/1; PostgreSQL: `text[]` and
 * `boolean`, migrations.ts `d.list`/`d.bool`): the mappers read both, `listColumn` writes either.
 */
import type { AuthorizationCodeRecord, DirectorySubjectRecord, DirectoryUserRecord, GrantRecord, SubjectRecord, SubjectType, TokenRecord, UserRecord } from './storage.ts';
import type { AuditListOptions, InteractionRecord } from './storage.ts';
import type { PushedRequestRecord } from './storage.ts';
import type { UserIdentityRecord } from './storage.ts';
import type { ResourceRecord } from './storage.ts';
import type { WebhookDeliveryRecord, WebhookEndpointRecord } from './storage.ts';
import type { ClientRecord } from './storage.ts';
import type { SqlDialect } from './sql/driver.ts';

export type Row = Record<string, unknown>;

export const nullableString = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
export const nullableNumber = (value: unknown): number | null => (value === null || value === undefined ? null : Number(value));
export const scopeList = (value: unknown): string[] => (String(value) === '' ? [] : String(value).split(' '));

/** The columns `toUser` reads: a query joining users to another table names them (stores/login-sessions.ts). */
export const USER_COLUMNS = ['user_id', 'email', 'name', 'password_hash'] as const;

export function toUser(row: Row): UserRecord {
  return { userId: String(row.user_id), email: String(row.email), name: String(row.name), passwordHash: nullableString(row.password_hash) };
}

export function toSubject(row: Row): SubjectRecord {
  return {
    subjectType: row.subject_type as SubjectType,
    subjectId: String(row.subject_id),
    name: String(row.name),
    organizationId: nullableString(row.organization_id),
  };
}

export function toCode(row: Row): AuthorizationCodeRecord {
  return {
    codeDigest: String(row.code_digest),
    clientId: String(row.client_id),
    userId: String(row.user_id),
    redirectUri: String(row.redirect_uri),
    scope: scopeList(row.scope),
    subjectType: row.subject_type as SubjectType,
    subjectId: String(row.subject_id),
    codeChallenge: nullableString(row.code_challenge),
    issuedAt: Number(row.issued_at),
    expiresAt: Number(row.expires_at),
    ...resourcesMember(row.resources),
    ...(typeof row.dpop_jkt === 'string' ? { dpopJkt: row.dpop_jkt } : {}),
  };
}

export function toGrant(row: Row): GrantRecord {
  return {
    grantId: String(row.grant_id),
    clientId: String(row.client_id),
    userId: String(row.user_id),
    subjectType: row.subject_type as SubjectType,
    subjectId: String(row.subject_id),
    scope: scopeList(row.scope),
    createdAt: Number(row.created_at),
    revokedAt: nullableNumber(row.revoked_at),
    revocationReason: nullableString(row.revocation_reason),
    ...resourcesMember(row.resources),
  };
}

export function toToken(row: Row): TokenRecord {
  return {
    tokenDigest: String(row.token_digest),
    tokenId: String(row.token_id),
    kind: row.kind as TokenRecord['kind'],
    grantId: String(row.grant_id),
    clientId: String(row.client_id),
    scope: scopeList(row.scope),
    issuedAt: Number(row.issued_at),
    expiresAt: Number(row.expires_at),
    rotatedAt: nullableNumber(row.rotated_at),
    revokedAt: nullableNumber(row.revoked_at),
    ...(row.audience === null || row.audience === undefined ? {} : { audience: String(row.audience) }),
    // RFC 9449 §6.1: present only when bound, so records of unbound tokens compare equal to what was stored.
    ...(row.dpop_jkt === null || row.dpop_jkt === undefined ? {} : { dpopJkt: String(row.dpop_jkt) }),
  };
}

/** `request_parameters` is JSON text on SQLite and `jsonb` (already parsed by `pg`) on PostgreSQL. */
export function toInteraction(row: Row): InteractionRecord {
  const parameters = typeof row.request_parameters === 'string' ? JSON.parse(row.request_parameters) : row.request_parameters;
  return {
    interactionDigest: String(row.interaction_digest),
    sessionDigest: String(row.session_digest),
    clientId: String(row.client_id),
    requestParameters: parameters as Record<string, string>,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

export function toDirectoryUser(row: Row): DirectoryUserRecord {
  return {
    userId: String(row.user_id), email: String(row.email), name: String(row.name), locale: nullableString(row.locale),
    createdAt: Number(row.created_at), updatedAt: Number(row.updated_at),
  };
}

export function toDirectorySubject(row: Row): DirectorySubjectRecord {
  return { ...toSubject(row), createdAt: Number(row.created_at), updatedAt: Number(row.updated_at) };
}

/**
 * The e-mail a deleted user's row keeps instead of their address (storage.ts DirectoryStore): unique
 * (their id), never deliverable (RFC 2606 `.invalid`), so the address is free again and not kept.
 */
export const deletedUserEmail = (userId: string) => `${userId}@deleted.invalid`;

export function toPushedRequest(row: Row): PushedRequestRecord {
  const parameters = typeof row.request_parameters === 'string' ? JSON.parse(row.request_parameters) : row.request_parameters;
  return {
    requestUriDigest: String(row.request_uri_digest),
    clientId: String(row.client_id),
    requestParameters: parameters as Record<string, string>,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    ...(row.reauthenticated_session_digest == null ? {} : { reauthenticatedSessionDigest: String(row.reauthenticated_session_digest) }),
  };
}

export function toUserIdentity(row: Row): UserIdentityRecord {
  return {
    issuer: String(row.issuer), subject: String(row.subject), userId: String(row.user_id),
    linkedAt: Number(row.linked_at), lastSignInAt: Number(row.last_sign_in_at),
  };
}

/** The WHERE clause of `audit.list` (both backends build it alike; `placeholder` numbers PostgreSQL's). */
export function auditFilter(options: AuditListOptions, placeholder: (index: number) => string): { where: string; parameters: (string | number)[] } {
  const conditions: string[] = [];
  const parameters: (string | number)[] = [];
  const add = (sql: (slot: string) => string, value: string | number) => {
    parameters.push(value);
    conditions.push(sql(placeholder(parameters.length)));
  };
  if (options.clientId !== undefined) add((slot) => `client_id = ${slot}`, options.clientId);
  if (options.beforeEventId !== undefined) add((slot) => `event_id < ${slot}`, options.beforeEventId);
  if (options.types !== undefined) {
    if (options.types.length === 0) conditions.push('1 = 0');
    else {
      const slots = options.types.map((type) => { parameters.push(type); return placeholder(parameters.length); });
      conditions.push(`type IN (${slots.join(', ')})`);
    }
  }
  return { where: conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`, parameters };
}

export const toWebhookDelivery = (row: Record<string, unknown>): WebhookDeliveryRecord => ({
  deliveryId: String(row.delivery_id), clientId: String(row.client_id), eventType: String(row.event_type), payload: String(row.payload),
  createdAt: Number(row.created_at), attempts: Number(row.attempts),
  nextAttemptAt: row.next_attempt_at === null ? null : Number(row.next_attempt_at),
  lastAttemptAt: row.last_attempt_at === null ? null : Number(row.last_attempt_at),
  lastStatus: row.last_status === null ? null : Number(row.last_status),
  deliveredAt: row.delivered_at === null ? null : Number(row.delivered_at),
});

/** RFC 8707 (issue 15 §4): `resources` is space-separated indicators (they hold no spaces), NULL when none was named. */
export const resourcesColumn = (resources: string[] | undefined): string | null => (resources === undefined ? null : resources.join(' '));
function resourcesMember(value: unknown): { resources?: string[] } {
  return value === null || value === undefined ? {} : { resources: scopeList(value) };
}

export function toResource(row: Row): ResourceRecord {
  return { resource: String(row.resource), name: String(row.name), scopes: scopeList(row.scopes), createdAt: Number(row.created_at) };
}

/** Issue 15 §5: `webhook_endpoints.event_types` (space-separated, NULL = every event) as the record's `eventTypes`. */
export const toWebhookEventTypes = (value: unknown): string[] | null => (value === null || value === undefined ? null : String(value).split(' ').filter(Boolean));

/** Whether an endpoint with these `event_types` receives `eventType`. */
export const webhookSubscribes = (eventTypes: unknown, eventType: string): boolean => {
  const types = toWebhookEventTypes(eventTypes);
  return types === null || types.includes(eventType);
};

export const toWebhookEndpoint = (row: Record<string, unknown>): WebhookEndpointRecord => ({
  clientId: String(row.client_id), url: String(row.url), secretCiphertext: String(row.secret_ciphertext), createdAt: Number(row.created_at),
  eventTypes: toWebhookEventTypes(row.event_types),
});

/** A `d.list` column as read: a `text[]` array (PostgreSQL) or JSON text (SQLite). */
export const storedList = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : value === null || value === undefined ? [] : JSON.parse(String(value)));

/** A `d.bool` column as read: `boolean` (PostgreSQL) or 0/1 (SQLite). */
export const storedBoolean = (value: unknown): boolean => value === true || Number(value) === 1;

/** A list as a `d.list` column's value for `dialect`: JSON text on SQLite, an array for `text[]` on PostgreSQL. */
export const listColumn = (dialect: SqlDialect, list: readonly string[]): unknown => (dialect === 'sqlite' ? JSON.stringify(list) : [...list]);

/**
 * How a client field is stored: `text`, `nullable` (text or NULL), `number`, `nullableNumber`, `list`
 * (`d.list`: JSON text or `text[]`), `scopes` (space-separated), `boolean` (`d.bool`), and two for fields
 * added after clients existed, absent from a record rather than false or null (so records built before the
 * field compare equal): `flag` (present only when true) and `optional` (text, present only when set).
 */
type ClientColumnKind = 'text' | 'nullable' | 'number' | 'nullableNumber' | 'list' | 'scopes' | 'boolean' | 'flag' | 'optional';

/**
 * Every `clients` column with its ClientRecord field, in one place (issue 12: a client column is added
 * here and in a migration). `toClient`, `clientColumnValue` and stores/clients.ts are written from it.
 */
export const CLIENT_FIELDS = [
  ['clientId', 'client_id', 'text'], ['kind', 'kind', 'text'], ['clientName', 'client_name', 'text'],
  ['clientType', 'client_type', 'text'], ['secretDigest', 'secret_digest', 'nullable'], ['redirectUris', 'redirect_uris', 'list'],
  ['scopes', 'scopes', 'scopes'], ['subjectType', 'subject_type', 'nullable'], ['pkceRequired', 'pkce_required', 'boolean'],
  ['status', 'status', 'text'], ['clientUri', 'client_uri', 'nullable'], ['logoUri', 'logo_uri', 'nullable'],
  ['tosUri', 'tos_uri', 'nullable'], ['policyUri', 'policy_uri', 'nullable'], ['audience', 'audience', 'nullable'],
  ['createdAt', 'created_at', 'number'], ['initiationUri', 'initiation_uri', 'nullable'], ['settingsUri', 'settings_uri', 'nullable'],
  ['contacts', 'contacts', 'list'], ['ownerUserId', 'owner_user_id', 'nullable'], ['previousSecretDigest', 'previous_secret_digest', 'nullable'],
  ['previousSecretExpiresAt', 'previous_secret_expires_at', 'nullableNumber'], ['brandingVerified', 'branding_verified', 'boolean'],
  ['requirePushedAuthorizationRequests', 'require_pushed_authorization_requests', 'flag'],
  ['dpopBoundAccessTokens', 'dpop_bound_access_tokens', 'flag'],
  // Issue 13 (Marketplace).
  ['description', 'description', 'optional'], ['category', 'category', 'optional'],
] as const satisfies ReadonlyArray<readonly [field: keyof ClientRecord, column: string, kind: ClientColumnKind]>;

/** Does not compile while a ClientRecord field is missing from CLIENT_FIELDS (it would be silently dropped). */
const EVERY_CLIENT_FIELD_STORED: Record<Exclude<keyof ClientRecord, (typeof CLIENT_FIELDS)[number][0]>, never> = {};
void EVERY_CLIENT_FIELD_STORED;

/** The column and kind of each field, for `clients.update`'s patches. */
const CLIENT_FIELD_BY_NAME = new Map<string, { column: string; kind: ClientColumnKind }>(CLIENT_FIELDS.map(([field, column, kind]) => [field, { column, kind }]));

/** A `clients` row (either database) as a ClientRecord. */
export function toClient(row: Row): ClientRecord {
  const client: Record<string, unknown> = {};
  for (const [field, column, kind] of CLIENT_FIELDS) {
    const value = row[column];
    switch (kind) {
      case 'text': client[field] = String(value); break;
      case 'nullable': client[field] = nullableString(value); break;
      case 'number': client[field] = Number(value); break;
      case 'nullableNumber': client[field] = nullableNumber(value); break;
      case 'list': client[field] = storedList(value); break;
      case 'scopes': client[field] = scopeList(value); break;
      case 'boolean': client[field] = storedBoolean(value); break;
      case 'flag': if (storedBoolean(value)) client[field] = true; break;
      case 'optional': if (value !== null && value !== undefined) client[field] = String(value); break;
    }
  }
  return client as unknown as ClientRecord;
}

/** The column of a ClientRecord field and its value as bound (the inverse of toClient); undefined for an unknown field. */
export function clientColumnValue(dialect: SqlDialect, field: string, value: unknown): { column: string; value: unknown } | undefined {
  const stored = CLIENT_FIELD_BY_NAME.get(field);
  if (!stored) return undefined;
  switch (stored.kind) {
    case 'list': return { column: stored.column, value: listColumn(dialect, value as string[]) };
    case 'scopes': return { column: stored.column, value: (value as string[]).join(' ') };
    // Booleans stay booleans: the SQLite driver binds them as 0/1.
    case 'flag': return { column: stored.column, value: value ?? false };
    case 'nullable': case 'nullableNumber': case 'optional': return { column: stored.column, value: value ?? null };
    default: return { column: stored.column, value };
  }
}
