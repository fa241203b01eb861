/**
 * The storage contract: everything the authorization server persists, as one interface every backend
 * (SQLite in `sqlite/`, PostgreSQL in `postgres/`) implements and `contract/` tests (one suite per store).
 *
 * Rules every backend keeps:
 * - Codes, tokens, sessions and client secrets are stored only as digests (SPEC decision 9).
 * - Steps that must be atomic are single operations here: consuming an authorization code
 *   (`authorizationCodes.consume`), the whole code exchange (`grants.exchangeCode`: consume, issue and
 *   audit; `grants.exchangeReadyCode`: read, check, consume, issue and audit; issue 12), issuing a grant
 *   for a consumed code (`grants.issueForCode`), the consent decision (`interactions.consumeWithCode`:
 *   the interaction taken, the code stored), and rotating a refresh token (`tokens.rotateRefreshToken`).
 *   Each must hold across processes sharing the database.
 * - Times are whole seconds since the Unix epoch, passed in by the caller (the injectable clock).
 * - Audit events are append-only (SPEC decision 19).
 * - Everything several server instances must share lives here (login sessions, login rate-limit
 *   counters, the OAuth endpoints' rate-limit counters, the keys in `settings`), so a request may land
 *   on any instance.
 */

export type SubjectType = 'company' | 'organization';
/** SPEC decision 1. `confidential` authenticates with client_secret_basic; `public` with none. */
export type ClientType = 'confidential' | 'public';
/** SPEC decision 13. Only `active` clients can start a flow, redeem a code, refresh or introspect. */
export type ClientStatus = 'active' | 'pending' | 'suspended' | 'deleted';
/** A partner's OAuth client, or a resource server holding introspection credentials (SPEC decision 14). */
export type ClientKind = 'client' | 'resource_server';

export interface ClientRecord {
  clientId: string;
  kind: ClientKind;
  clientName: string;
  clientType: ClientType;
  /** SHA-256 (base64url) of the secret; null for public clients. */
  secretDigest: string | null;
  /** Exact strings as registered (SPEC decision 4). */
  redirectUris: string[];
  /** Scopes the client may request. */
  scopes: string[];
  /** SPEC decision 12: none means company. */
  subjectType: SubjectType | null;
  /** SPEC decision 2: false only by an administrator's exception for a confidential client. */
  pkceRequired: boolean;
  status: ClientStatus;
  clientUri: string | null;
  logoUri: string | null;
  tosUri: string | null;
  policyUri: string | null;
  /** Resource servers only: the `aud` whose tokens it may introspect. */
  audience: string | null;
  createdAt: number;
  /** Seed "Client Registration" §2: the page where users begin connecting the app. */
  initiationUri: string | null;
  /** Seed "Client Registration" §2: the app's page where users manage the integration's settings. */
  settingsUri: string | null;
  /** RFC 7591 §2 `contacts`: e-mail addresses of the people responsible for the client. */
  contacts: string[];
  /** The partner developer (user id) who registered it in the portal; null when an administrator did (CLI, admin API). */
  ownerUserId: string | null;
  /** SPEC decision 10: the digest of the secret replaced by the last rotation, accepted until `previousSecretExpiresAt`. */
  previousSecretDigest: string | null;
  /** Seconds since the epoch; the previous secret is refused from then on. */
  previousSecretExpiresAt: number | null;
  /** Whether an administrator reviewed the name and logo; the consent page says "unverified" otherwise. */
  brandingVerified: boolean;
  /**
   * RFC 9126 §6 `require_pushed_authorization_requests`: the client's authorization requests must come
   * through /oauth/par. Absent means false: backends return the member only when it is true.
   */
  requirePushedAuthorizationRequests?: boolean;
  /**
   * RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request of the client must carry a DPoP proof.
   * Absent means false: backends return the member only when it is true.
   */
  dpopBoundAccessTokens?: boolean;
  /**
   * Issue 13 (Marketplace): what the app does, plain text of at most 500 characters, shown in the
   * marketplace. Absent means none: backends return the member only when it is set; `null` in a patch clears it.
   */
  description?: string | null;
  /** Issue 13 (Marketplace): the marketplace category; absent means none (`null` in a patch clears it). */
  category?: MarketplaceCategory | null;
}

/** Issue 13 (Marketplace): the fixed list of marketplace categories (wire values; labels are translated). */
export const MARKETPLACE_CATEGORIES = ['accounting', 'payroll', 'crm', 'reporting', 'e-commerce', 'other'] as const;
export type MarketplaceCategory = typeof MARKETPLACE_CATEGORIES[number];

/** What `clients.update` may change: everything but the identity, kind and creation time. */
export type ClientPatch = Partial<Omit<ClientRecord, 'clientId' | 'kind' | 'createdAt'>>;

/** A client's uploaded logo (PNG, JPEG or WebP), served at `/logos/<client_id>`. */
export interface ClientLogoRecord {
  clientId: string;
  /** `image/png`, `image/jpeg` or `image/webp`. */
  contentType: string;
  bytes: Buffer;
  /** SHA-256 of `bytes`, base64url: the ETag and cache-busting query of the logo URI. */
  sha256: string;
  updatedAt: number;
}

/** An administrator's API credential: a 256-bit random bearer token stored only as its SHA-256 (SPEC decision 9). */
export interface AdminCredentialRecord {
  /** Who holds it, named in audit events as `admin:<name>`. */
  name: string;
  /** SHA-256 of the token, base64url. */
  tokenDigest: string;
  createdAt: number;
}

export interface UserRecord {
  userId: string;
  email: string;
  name: string;
  /** PHC-formatted argon2id hash (users/password.ts); null for a user who never set a password (directory users). */
  passwordHash: string | null;
}

export interface SubjectRecord {
  subjectType: SubjectType;
  subjectId: string;
  name: string;
  /** For a company: the organization grouping it, if any. */
  organizationId: string | null;
}

export interface LoginSessionRecord {
  sessionDigest: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  /**
   * When the person last proved who they are (OIDC Core `auth_time`: what `prompt=login` and `max_age`
   * compare), when it is not `createdAt`: a sign-in through the identity provider that did not ask for
   * credentials (its `auth_time`, or 0 when unknown). Absent means `createdAt`.
   */
  authenticatedAt?: number;
}

/** A live login session as a request finds it (`loginSessions.findActive`). Times in seconds since the epoch. */
export interface ActiveLoginSession extends LoginSessionRecord {
  /** As in LoginSessionRecord, always present here (`createdAt` when it was not stored). */
  authenticatedAt: number;
  lastSeenAt: number;
  user: UserRecord & { locale: string | null };
  /**
   * Only when asked for (`findActive`'s `administeredSubjectType`): the subjects of that type the user
   * administers, by name in byte order, as `subjects.listAdministeredBy` lists them.
   */
  administeredSubjects?: SubjectRecord[];
}

/** A login session as the account page lists it (issue 10 §4). Times in seconds since the epoch. */
export interface LoginSessionListing extends LoginSessionRecord {
  /** A short summary of the User-Agent it started with ("Firefox on Linux"); '' when unknown. */
  device: string;
  /** The latest request seen with it (moved forward at most once per interval, `loginSessions.touch`, within a second of the request). */
  lastSeenAt: number;
}

/**
 * A growing delay on failed logins for one throttle key (SPEC decision 18, issue 10 §3): the first
 * `freeFailures` failures cost nothing; once a key holds n ≥ `freeFailures` failures, the next attempt
 * must wait min(`maxDelaySeconds`, `baseDelaySeconds` × 2^(n − `freeFailures`)) seconds after the latest
 * failure. A key's failures are forgotten `forgetAfterSeconds` after its latest failure.
 */
export interface LoginDelayRule {
  freeFailures: number;
  baseDelaySeconds: number;
  maxDelaySeconds: number;
  forgetAfterSeconds: number;
}

/** SPEC decision 6: bound to client, redirect URI, PKCE challenge, scopes, subject and user. */
export interface AuthorizationCodeRecord {
  codeDigest: string;
  clientId: string;
  userId: string;
  redirectUri: string;
  scope: string[];
  subjectType: SubjectType;
  subjectId: string;
  /** The S256 challenge, or null when the client had a PKCE exception and sent none. */
  codeChallenge: string | null;
  issuedAt: number;
  expiresAt: number;
  /**
   * RFC 8707 §2.1: the resource indicators the authorization request named, in order. Absent when it named
   * none (the default resource, the configured platform API): backends return the member only when set.
   */
  resources?: string[];
  /**
   * RFC 9449 §10: the `dpop_jkt` of the authorization request (the JWK SHA-256 thumbprint of the key the
   * code may be redeemed with). Absent when the request named none: backends return the member only when set.
   */
  dpopJkt?: string;
}

/**
 * SPEC decision 11: an authorization request waiting for the user's consent, kept server-side. Created at
 * GET /oauth/authorize once the request is valid and the user is logged in; the consent form carries
 * only its id (256 random bits, stored only as this digest) and the user's choices.
 */
export interface InteractionRecord {
  /** SHA-256 (base64url) of the interaction id. */
  interactionDigest: string;
  /** SHA-256 of the login session cookie the consent page was shown in: only that session may answer it. */
  sessionDigest: string;
  clientId: string;
  /** The validated authorization request's parameters as received (client_id, redirect_uri, scope, state, PKCE, subject, prompt). */
  requestParameters: Record<string, string>;
  /** Seconds since the epoch. */
  createdAt: number;
  /** Seconds since the epoch; refused from then on. */
  expiresAt: number;
}

/**
 * RFC 9126 §2.2: an authorization request a client pushed to /oauth/par, waiting for the browser to
 * bring its `request_uri` to /oauth/authorize. Single use; the random part of the request_uri is stored
 * only as its digest (SPEC decision 9).
 */
export interface PushedRequestRecord {
  /** SHA-256 (base64url) of the random part of `urn:ietf:params:oauth:request_uri:<random>`. */
  requestUriDigest: string;
  /** The authenticated client that pushed it: only that client_id may use it (RFC 9126 §4). */
  clientId: string;
  /** The validated authorization request's parameters as pushed (client_id, redirect_uri, scope, state, PKCE, subject, prompt, max_age). */
  requestParameters: Record<string, string>;
  /** Seconds since the epoch. */
  createdAt: number;
  /** Seconds since the epoch; refused from then on. */
  expiresAt: number;
  /**
   * The login session (its cookie's SHA-256) that a login completed on the login page of this request started
   * (`markReauthenticated`): it satisfies `prompt=login` even within the second the request began. Absent until then.
   */
  reauthenticatedSessionDigest?: string;
}

export interface GrantRecord {
  grantId: string;
  clientId: string;
  userId: string;
  subjectType: SubjectType;
  subjectId: string;
  scope: string[];
  createdAt: number;
  revokedAt: number | null;
  revocationReason: string | null;
  /**
   * RFC 8707 §2.2: the resources granted at authorization; a token request may ask for any one of them,
   * never another. Absent when the request named none (the default resource): returned only when set.
   */
  resources?: string[];
}

/** Which active grants `grants.listActive` returns: one client's, one user's (who consented), or one subject's. */
export type GrantFilter =
  | { clientId: string }
  | { userId: string }
  | { subjectType: SubjectType; subjectId: string };

/** An active grant as the connected apps page and the admin API list it. */
export interface GrantListing extends GrantRecord {
  /**
   * Seconds since the epoch: the last use of the grant's tokens — the latest of a token issued (the
   * first exchange or a refresh) and a use recorded by `grants.recordUses` (an access token introspected
   * as active); null if there was none.
   */
  lastUsedAt: number | null;
}

export type TokenKind = 'access' | 'refresh';

export interface TokenRecord {
  tokenDigest: string;
  /** Public identifier (`jti`), safe to log. */
  tokenId: string;
  kind: TokenKind;
  grantId: string;
  clientId: string;
  scope: string[];
  issuedAt: number;
  expiresAt: number;
  /** Refresh tokens: when a rotation replaced it. */
  rotatedAt: number | null;
  revokedAt: number | null;
  /**
   * Access tokens, RFC 8707 §2.2: the one resource (`aud`) it was issued for. Absent for the default
   * resource (the configured platform API, `accessTokenAudience`): backends return the member only when set.
   */
  audience?: string;
  /**
   * RFC 9449 §6.1: the JWK SHA-256 thumbprint (`cnf.jkt`) of the DPoP key the token is bound to. Absent
   * for a token that is not bound: backends return the member only when it is set.
   */
  dpopJkt?: string;
}

/** A use to record (`grants.recordUses`, `apiKeys.recordUses`): the grant's or key's id and when, in seconds since the epoch. */
export interface RecordedUse {
  id: string;
  usedAt: number;
}

/** A token with the grant and client it belongs to, as introspection and refresh need them. */
export interface TokenWithGrant {
  token: TokenRecord;
  grant: GrantRecord;
  client: ClientRecord;
  /**
   * When a use of the grant was last recorded (`grants.recordUses`), in seconds since the epoch, as read with
   * the token; absent when none was, or when the lookup answered from memory (PostgreSQL's refresh, which
   * never reads it). The introspection endpoint notes no use within the interval after it.
   */
  grantUseRecordedAt?: number;
}

/**
 * The successor pair of a rotation, kept for the reuse grace window (SPEC decision 8): one record per
 * grant, for its last rotation only. `sealedSuccessor` is AES-256-GCM ciphertext under a key derived from
 * the replaced refresh token's value, which is never stored (grants/refresh-token-grace.ts), so the
 * database alone reveals no token.
 */
export interface GraceSuccessor {
  grantId: string;
  /** The digest of the refresh token the rotation replaced (the one a retry presents). */
  previousDigest: string;
  /** Opaque text: `iv.ciphertext.tag`, base64url. */
  sealedSuccessor: string;
  /** Seconds since the epoch: from then on the replaced token is plain reuse. */
  graceExpiresAt: number;
}

export type ConsumeCodeResult =
  | { outcome: 'consumed'; code: AuthorizationCodeRecord }
  /** RFC 6749 §4.1.2: the code was used before; `grantId` is what its first use produced, if anything yet. */
  | { outcome: 'replayed'; code: AuthorizationCodeRecord; grantId: string | null }
  | { outcome: 'unknown' };

/**
 * The client as the token endpoint's authentication found it (SPEC decisions 10 and 13): its id and the stored
 * digest of the secret the request presented (its current or, within the overlap, its previous one:
 * client-authentication.ts `authenticateClientCredential`; null for a public client). A code exchange or a refresh
 * given one is made only while the client still accepts that secret, checked inside its own transaction: active,
 * and that digest its secret or its previous one within the overlap (a rotation with overlap refuses no request
 * in flight that presented the current secret; one that presented the previous secret is refused by any later
 * rotation, as its authentication would be). A suspension, a deletion or a rotation that stops the secret and
 * commits while the request is in flight refuses it (`client_changed`, nothing written) instead of leaving
 * a grant or token the change did not revoke. On PostgreSQL the exchange checks under the client row's SHARE
 * lock, and a rotation after its grant row's lock; suspension, deletion and `revoke_grants` revoke under the
 * client row's FOR NO KEY UPDATE lock and the grant rows' locks (stores/grants.ts, stores/tokens.ts), so each
 * such request is wholly before or after them.
 */
export interface AuthenticatedClient {
  clientId: string;
  secretDigest: string | null;
}

/**
 * README "Registering clients": `tokens.rotateRefreshToken` stored nothing, the new tokens naming a scope the presented
 * token, as read under the rotation's lock, or its client no longer has; `scope` is what is left of the token's
 * scope (empty: nothing).
 */
export interface ScopeNarrowed {
  outcome: 'scope_narrowed';
  scope: string[];
}

/** What `grants.exchangeCode` did (issue 12). */
export type ExchangeCodeResult =
  | { outcome: 'issued' }
  | { outcome: 'replayed'; grantId: string | null }
  | { outcome: 'code_outdated' }
  | { outcome: 'unknown' }
  /** The client is no longer active with the secret it authenticated with (AuthenticatedClient): nothing changed. */
  | { outcome: 'client_changed' }
  /**
   * README "Registering clients": the grant names a scope its client is no longer registered for, as read under the
   * exchange's locks (a narrowing committed while the request was in flight): nothing changed, the code is unused.
   * `scope` is what of the grant's scope is left (empty: nothing); the caller builds the grant and tokens again.
   */
  | { outcome: 'scope_narrowed'; scope: string[] };

/**
 * What `grants.exchangeReadyCode` requires of the stored code before it redeems it (issue 12: the code
 * exchange in one round trip). Together they are the token endpoint's own checks on a code issued for the
 * default resource, and they give the access token the code's whole scope (RFC 6749 §4.1.3, RFC 7636 §4.6,
 * RFC 9700 §2.1.1, RFC 9449 §10, RFC 8707 §2.2): the code is unused, unexpired, issued to the client, with
 * this redirect URI, this challenge, no DPoP key or this one, no resources, and a scope within these.
 */
export interface ReadyCodeConditions {
  redirectUri: string;
  /** BASE64URL(SHA256(code_verifier)) (RFC 7636 §4.6), or null when the request sent no verifier. */
  codeChallenge: string | null;
  /** The JWK SHA-256 thumbprint of the request's DPoP proof (RFC 9449 §10), or null without one. */
  dpopJkt: string | null;
  /** The default resource's scopes (RFC 8707 §2.2: the token is for it, so its scope is the code's). */
  defaultResourceScopes: readonly string[];
  /** The secret digest the client authenticated with (AuthenticatedClient); absent: the client is not checked. */
  clientSecretDigest?: string | null;
}

/**
 * A token `grants.exchangeReadyCode` stores: for the grant it creates (issued then, to the code's client),
 * with the code's scope, for the default resource (no audience), neither rotated nor revoked.
 */
export type TokenForCode = Pick<TokenRecord, 'tokenDigest' | 'tokenId' | 'kind' | 'expiresAt' | 'dpopJkt'>;

/** What `grants.exchangeReadyCode` did (issue 12). */
export type ExchangeReadyCodeResult =
  /** Everything is stored, as returned: the grant, its tokens and the audit event with the code's scope. */
  | { outcome: 'issued'; grant: GrantRecord; tokens: TokenRecord[]; auditEvent?: AuditEvent }
  /** RFC 6749 §4.1.2: a concurrent redemption used the code first; as for `exchangeCode`. */
  | { outcome: 'replayed'; code: AuthorizationCodeRecord; grantId: string | null }
  | { outcome: 'code_outdated' }
  /** As for `exchangeCode`: nothing changed. */
  | { outcome: 'client_changed' }
  /** Nothing changed: the code as `authorizationCodes.find` reads it (absent: no such code for the client). */
  | { outcome: 'not_ready'; found?: { code: AuthorizationCodeRecord; used: boolean } };

/**
 * What `tokens.rotateReadyRefreshToken` requires of the stored refresh token before it rotates it (issue 12:
 * the refresh in one round trip). Together they are the refresh grant's own checks for a request that names
 * no scope, no resource and no DPoP proof, and they give the new access token the token's whole scope
 * (RFC 6749 §6, RFC 8707 §2.2, RFC 9449 §5, SPEC decision 8): a refresh token, issued to this client, current
 * (neither rotated nor revoked), unexpired, not bound to a DPoP key, of an unrevoked grant that named no
 * resources, with a scope within the default resource's.
 */
export interface ReadyRefreshConditions {
  clientId: string;
  /** The default resource's scopes (RFC 8707 §2.2: the access token is for it, with the refresh token's scope). */
  defaultResourceScopes: readonly string[];
  /** The secret digest the client authenticated with (AuthenticatedClient); absent: the client is not checked. */
  clientSecretDigest?: string | null;
}

/** The sealed successor pair `tokens.rotateReadyRefreshToken` keeps for the grant it finds (GraceSuccessor without grant and digest). */
export type ReadyGraceSuccessor = Pick<GraceSuccessor, 'sealedSuccessor' | 'graceExpiresAt'>;

/** What `tokens.rotateReadyRefreshToken` did (issue 12). */
export type RotateReadyRefreshTokenResult =
  /**
   * Rotated, as `rotateRefreshToken` does: `tokens` stored with the presented token's grant and client, and `scope`:
   * the presented token's scope as read under the rotation's lock, less any scope the client is no longer registered
   * for (README "Registering clients": a narrowing that committed while the rotation waited is not undone; RFC 6749 §6,
   * the response's scope); and the audit event as recorded (its grant, and `scope` and `previous_refresh_token_id`
   * added to its details).
   */
  | { outcome: 'rotated'; presented: TokenRecord; grant: GrantRecord; scope: string[]; tokens: TokenRecord[]; auditEvent?: AuditEvent }
  /** The token met the conditions when read, but a concurrent rotation or revocation came first: nothing stored. */
  | { outcome: 'not_current'; presented: TokenRecord; grant: GrantRecord }
  /** The client is no longer active with the secret it authenticated with (AuthenticatedClient): nothing stored. */
  | { outcome: 'client_changed' }
  /** Nothing changed: the token and grant as read (absent: no such token). */
  | { outcome: 'not_ready'; found?: { token: TokenRecord; grant: GrantRecord } };

export interface AuditEvent {
  /** e.g. `consent.granted`, `token.issued`, `refresh_token.rotated`, `refresh_token.reuse_detected`. */
  type: string;
  at: number;
  /** Who acted: `user:<id>`, `client:<id>`, `admin:<name>`, `system`. */
  actor: string;
  clientId?: string | null;
  grantId?: string | null;
  /** Never a secret, code or token value. */
  details?: Record<string, string | number | boolean | null>;
}

export interface StoredAuditEvent extends AuditEvent {
  eventId: number;
}

/** Filters and cursor of `audit.list`. */
export interface AuditListOptions {
  limit?: number;
  clientId?: string;
  types?: string[];
  /** Cursor: only events older than this one (`eventId` strictly smaller). */
  beforeEventId?: number;
}

/** An access token's revocation, as the revocation feed publishes it (no token value, only its `jti`). */
/**
 * Where a page of the revocation feed starts. Without `afterTokenId`: every entry with `revokedAt >=
 * sinceSeconds` (inclusive, as a poll's first page asks). With it: the entries after that one in the feed's
 * order, `(revokedAt, tokenId) > (sinceSeconds, afterTokenId)`, so that a second with more revocations than
 * a page holds (a rotation burst, a client's tokens revoked at once) is read through page by page.
 */
export interface RevocationFeedPosition {
  /** Seconds since the epoch. */
  sinceSeconds: number;
  /** The `tokenId` of the last entry already read in the second `sinceSeconds`. */
  afterTokenId?: string;
}

export interface RevokedAccessToken {
  tokenId: string;
  /** Seconds since the epoch: after this the token is refused anyway, so the feed can drop it. */
  expiresAt: number;
  /** Seconds since the epoch. */
  revokedAt: number;
}

/** A fixed-window limit on failed logins (SPEC decision 18). */
export interface LoginRateLimit {
  /** Failures allowed in one window; the next attempt is refused until the window ends. */
  maxFailures: number;
  /** Length of a window in seconds, counted from the first failure in it (fixed, not sliding). */
  windowSeconds: number;
}

/** One key's count after `rateLimits.hit`. */
export interface RateLimitHit {
  /** Requests counted in the key's current window, this one included. */
  hits: number;
  /** Seconds since the epoch; the window is current while `now < windowEndsAt`. */
  windowEndsAt: number;
}

/** Rows one cleanup run deleted, by kind; `deleted` is their sum. */
export interface CleanupResult {
  deleted: number;
  loginSessions: number;
  authorizationCodes: number;
  accessTokens: number;
  refreshTokens: number;
  grants: number;
  loginThrottleWindows: number;
  /** Consent interactions past their expiry, used or not. */
  interactions: number;
  /** Rate-limit windows of the OAuth endpoints (`rateLimits`) that have ended. */
  rateLimitWindows: number;
  /** Known devices (issue 10 §3) whose `expiresAt <= now`. */
  knownDevices: number;
  /** Pushed authorization requests (RFC 9126) whose `expiresAt <= now`, used or not. */
  pushedRequests: number;
  /** Refresh-token reuse grace records (SPEC decision 8) whose window ended (`graceExpiresAt <= now`). */
  refreshTokenGrace: number;
  /** Partner team invitations (issue 13), answered or not, whose `expiresAt + PARTNER_TEAM_INVITATION_RETENTION_SECONDS <= now`. */
  partnerTeamInvitations: number;
}

/**
 * How long a partner team invitation is kept after it expires: 30 days, so that an invitee opening an old e-mail
 * is told the invitation expired rather than that there is none. The audit log keeps every answer (SPEC decision 19).
 */
export const PARTNER_TEAM_INVITATION_RETENTION_SECONDS = 30 * 86_400;

/**
 * How long an authorization code is kept after it expires: one day. A code is single use with a
 * lifetime of at most 600 s (SPEC decision 6); while its row exists, a second redemption is recognised
 * as a replay and revokes the grant the first one produced (RFC 6749 §4.1.2). An attacker replays a
 * stolen code within seconds or minutes; a day covers any clock skew or retry loop with a wide margin,
 * and after it the replay is still refused (the code is unknown), only without revoking the grant.
 */
export const AUTHORIZATION_CODE_RETENTION_SECONDS = 86_400;

export interface Storage {
  clients: {
    create(client: ClientRecord): Promise<void>;
    find(clientId: string): Promise<ClientRecord | undefined>;
    list(): Promise<ClientRecord[]>;
    /** Clients registered by one partner developer (`ownerUserId`), oldest first. */
    listByOwner(userId: string): Promise<ClientRecord[]>;
    /**
     * Changes the given fields (absent fields stay as they are; `null` clears a nullable one).
     *
     * With `scopes` in the patch, `narrowing` is required, and in the same transaction every active grant of the
     * client loses the scopes the client is no longer registered for (stores/client-scopes.ts): its scope and its
     * current refresh token's are narrowed (RFC 6749 §6: a refresh then answers with what is left), its live access
     * tokens holding a removed scope are revoked (the revocation feed, SPEC decision 7), a grant left with no scope
     * is revoked with its tokens (reason `client_scopes_narrowed`, `narrowing.grantRevoked`'s webhook), and the
     * client's unredeemed codes are narrowed or voided alike; `narrowing.auditEvent` commits with it. PostgreSQL
     * locks the client's unredeemed codes, then the client row, then its grants in key order (`COLLATE "C"`).
     * @returns the client after the change, or undefined when no client has that id.
     * @throws Error when `scopes` is patched without `narrowing` (a programming error).
     */
    update(clientId: string, patch: ClientPatch, narrowing?: ScopeNarrowing): Promise<ClientRecord | undefined>;
    /**
     * Suspends or deletes a client (SPEC decision 13) and, in the same transaction, revokes what the change
     * takes away and records it, so that a failure or a crash leaves either all of it or none of it (before,
     * the status, the revocation, the audit event and the webhook were four commits):
     * - `suspended`: every access token of the client is revoked (its grants stay, for a reactivation);
     * - `deleted`: the previous secret is cleared, every active grant is revoked with its tokens (with
     *   `grantRevoked`'s webhook per grant), and every access token.
     * The audit event (`auditEvent`, built from what was done) and the client's webhook (`clientEvent`, queued if
     * its endpoint subscribes) commit with it. PostgreSQL: the client row is locked first (FOR NO KEY UPDATE: an
     * exchange in flight holds its SHARE lock and commits first), then its grants in key order (`COLLATE "C"`).
     *
     * A client already in that status (a database written by a version that committed the revocation
     * separately, and failed between) gets the revocation completed: `unchanged`, with the audit event only if
     * something was revoked, and no webhook. A deleted client cannot be suspended (`not_found`).
     * @returns `not_found` when no client has that id (or, for `suspended`, it is deleted).
     */
    changeStatus(clientId: string, change: ClientStatusChange): Promise<ClientStatusChangeOutcome>;
  };
  /** Uploaded client logos (one per client; a new upload replaces the old). */
  clientLogos: {
    put(logo: ClientLogoRecord): Promise<void>;
    get(clientId: string): Promise<ClientLogoRecord | undefined>;
  };
  /** Administrator API credentials (`gatehouse admins create-token`). */
  adminCredentials: {
    /** @throws when the name is taken (names are unique, they identify the actor in audit events). */
    create(credential: AdminCredentialRecord): Promise<void>;
    findByDigest(tokenDigest: string): Promise<AdminCredentialRecord | undefined>;
    /** Every credential, by name. */
    list(): Promise<AdminCredentialRecord[]>;
    /** Deletes the credential named `name` (its token stops working at once). @returns false when there was none. */
    delete(name: string): Promise<boolean>;
  };
  /** Users who may register clients in the developer portal (partner developers). */
  developers: {
    /** Idempotent. */
    add(userId: string): Promise<void>;
    isDeveloper(userId: string): Promise<boolean>;
    /** @returns false when the user was not a partner developer. */
    remove(userId: string): Promise<boolean>;
  };
  users: {
    create(user: UserRecord): Promise<void>;
    find(userId: string): Promise<UserRecord | undefined>;
    /** Case-insensitive for every Unicode letter (stores/users.ts `emailKey`); live users only (a deleted user never logs in). */
    findByEmail(email: string): Promise<UserRecord | undefined>;
    /**
     * The form this database compares `email` in (PostgreSQL `lower()`; SQLite the JavaScript lowercase key),
     * with every ς as σ: every spelling `findByEmail` finds one user by folds alike, whether or not a user
     * has it (what the login throttle counts an account under, SPEC decision 18).
     */
    foldEmail(email: string): Promise<string>;
    /** Sets (or, with null, clears) a live user's password hash. @returns false when there is no live user with that id. */
    setPasswordHash(userId: string, passwordHash: string | null): Promise<boolean>;
  };
  subjects: {
    create(subject: SubjectRecord): Promise<void>;
    find(subjectType: SubjectType, subjectId: string): Promise<SubjectRecord | undefined>;
    addAdministrator(userId: string, subjectType: SubjectType, subjectId: string): Promise<void>;
    /** The subjects of one type the user administers, by name. */
    listAdministeredBy(userId: string, subjectType: SubjectType): Promise<SubjectRecord[]>;
  };
  loginSessions: {
    create(session: LoginSessionRecord): Promise<void>;
    /**
     * The session if it exists, `now < expiresAt` and its user is live (a deleted user signs nobody in, even
     * through a session that outlived the deletion), with `lastSeenAt` (seconds; `createdAt` until a touch
     * moved it, so a caller can tell without a write whether `touch` would change anything) and the user
     * with the directory's locale: one read for what every session request needs (issue 12).
     * With `administeredSubjectType`, also `administeredSubjects` in the same read: the consent page's
     * session and its choice of subjects in one round trip on PostgreSQL (issue 12).
     */
    findActive(sessionDigest: string, now: number, administeredSubjectType?: SubjectType): Promise<ActiveLoginSession | undefined>;
    delete(sessionDigest: string): Promise<void>;
    /**
     * Creates a session that records its device (issue 10 §4); `lastSeenAt` starts at `createdAt`.
     * `device` is stored as given: the caller passes a short summary, never the raw User-Agent.
     */
    createWithDevice(session: LoginSessionRecord & { device: string }): Promise<void>;
    /**
     * Records visits: each session's `lastSeenAt` moves to its visit's `usedAt` (the `id` is the session
     * digest) when it is at least `minimumIntervalSeconds` older (at most one write a minute per session).
     * ONE statement for the batch; ids distinct; an unknown or deleted session changes nothing. The server
     * calls it from its last-use recorder (storage/last-use-recorder.ts), off the pages' path.
     */
    touch(visits: readonly RecordedUse[], minimumIntervalSeconds: number): Promise<void>;
    /** The user's sessions with `now < expiresAt`, most recently seen first. */
    listActiveOfUser(userId: string, now: number): Promise<LoginSessionListing[]>;
    /** Deletes every session of the user but `keptSessionDigest` ("sign out everywhere else"). @returns how many were deleted. */
    deleteOthersOfUser(userId: string, keptSessionDigest: string): Promise<number>;
  };
  /**
   * Browsers that signed in successfully before (issue 10 §3): a long-lived random device cookie, stored
   * only as its SHA-256 with the user it signed in. A known device is throttled on its own key, so other
   * people's failures never block it.
   */
  knownDevices: {
    /** Records (or extends) `deviceDigest` as known for `userId` until `expiresAt`. */
    remember(deviceDigest: string, userId: string, now: number, expiresAt: number): Promise<void>;
    /** Whether `deviceDigest` is known for `userId` and `now < expiresAt`. */
    isKnown(deviceDigest: string, userId: string, now: number): Promise<boolean>;
  };
  authorizationCodes: {
    /**
     * Stores a new code; with `auditEvent` (the consent that issued it, SPEC decision 19), the event in the
     * same transaction: both commit, or neither does (one statement on PostgreSQL, one commit on SQLite).
     * With `onlyForAdministrator`, only if the code's user administers the code's subject at that moment
     * (the consent decision's check, issue 10 §1, made atomic with the code: one round trip fewer on
     * PostgreSQL, issue 12).
     * @returns false when `onlyForAdministrator` refused it: nothing (neither code nor event) was stored.
     */
    create(code: AuthorizationCodeRecord, auditEvent?: AuditEvent, options?: { onlyForAdministrator?: boolean }): Promise<boolean>;
    /**
     * Atomically marks the code used; when `clientId` is given (the token endpoint always gives it), only
     * if the code was issued to that client (RFC 6749 §4.1.3): another client's code answers `unknown` and
     * is left untouched, so the legitimate client can still redeem it.
     * A second call for the same code by its client returns `replayed` (and marks it so, which makes a
     * concurrent `issueGrantForCode` for it fail). Expiry is the caller's check.
     */
    consume(codeDigest: string, now: number, clientId?: string): Promise<ConsumeCodeResult>;
    /**
     * Issue 12: reads the code without changing it, only if it was issued to `clientId` (RFC 6749 §4.1.3;
     * another client's code is undefined, as an unknown one). `used` is true once a redemption consumed it.
     * The token endpoint validates what it reads, then redeems with `grants.exchangeCode`, which re-checks
     * single use. With `forRedemption` (that read only), `used` may read false for a code redeemed meanwhile
     * (PostgreSQL answers a code this instance wrote from memory, postgres/written-rows.ts, issue 12: no
     * round trip); a refusal is then decided on a read without it. Without it, the code as stored now.
     */
    find(codeDigest: string, clientId: string, options?: { forRedemption?: boolean }): Promise<{ code: AuthorizationCodeRecord; used: boolean } | undefined>;
  };
  grants: {
    /**
     * Atomically, for a consumed code that was not replayed: revokes the client's previous active grant
     * for the same subject (SPEC decision 11, reason `superseded`), stores the grant and its first
     * tokens, and links the code to the grant. Returns `code_replayed` and stores nothing when the
     * code was replayed meanwhile. Returns `code_outdated` and stores nothing (supersedes nothing) when
     * something newer happened to the grant's (client, subject) after the code's `issuedAt` (SPEC
     * decision 6): a grant for that pair created after it (a newer redemption) or revoked after it (a
     * revocation, a disconnect); checked under the same lock as the insert. "After" is in commit order: what
     * the code saw of the pair as it was written decides (migration 48: the live grant, and how many grants are
     * stamped within RECENT_GRANTS_WINDOW_SECONDS before its issue); a code written before 48 by whole seconds. `auditEvent`, if given, is recorded in the same transaction, so a
     * token exchange costs one commit (and is never issued without its audit trail).
     */
    issueForCode(codeDigest: string, grant: GrantRecord, tokens: TokenRecord[], auditEvent?: AuditEvent): Promise<'issued' | 'code_replayed' | 'code_outdated'>;
    /**
     * Issue 12, the whole code exchange as ONE atomic operation (one transaction; one statement on
     * PostgreSQL): consumes the code, then does what `issueForCode` does (supersede, grant, tokens, link,
     * `auditEvent`). A failure anywhere (a terminated backend, a full disk) leaves the code unused and
     * nothing written, so the client's retry redeems it. Outcomes, each changing only what it says:
     * - `issued`: the code was unused and issued to `clientId`; everything is stored.
     * - `replayed`: the code was used before (RFC 6749 §4.1.2), e.g. by a concurrent redemption: it is marked
     *   replayed (as `authorizationCodes.consume` does) and `grantId` is what its first use produced, if
     *   anything; nothing else is stored. Revoking that grant is the caller's decision (SPEC decision 6).
     * - `code_outdated`: as for `issueForCode` (SPEC decision 6); the code is consumed, nothing else stored.
     * - `unknown`: no such code for `clientId`; nothing changes.
     * - `client_changed`: `authenticated` is given and the client is no longer active with that secret; nothing changes.
     * - `scope_narrowed`: the grant names a scope the client is no longer registered for (read under the
     *   exchange's locks: a narrowing of its scopes committed meanwhile); nothing changes (ExchangeCodeResult).
     * Expiry, redirect URI and PKCE are the caller's checks, made before (a refused request changes nothing).
     */
    exchangeCode(
      codeDigest: string, clientId: string, now: number, grant: GrantRecord, tokens: TokenRecord[], auditEvent?: AuditEvent, authenticated?: AuthenticatedClient,
    ): Promise<ExchangeCodeResult>;
    /**
     * Issue 12, the code exchange in ONE round trip when the code needs no check the storage cannot make:
     * reads the code and, only when it meets `conditions` (ReadyCodeConditions), does what `exchangeCode`
     * does, in the same transaction (one statement on PostgreSQL). The new grant (`grantId`, created `now`)
     * and its `tokens` take the code's client, user, subject and scope (the code's as read under its lock, less any
     * scope its client is no longer registered for: README "Registering clients"); `auditEvent` gains `details.scope`,
     * that scope. Outcomes: `issued`, `replayed`, `code_outdated` and `client_changed` (with
     * `conditions.clientSecretDigest`) as for `exchangeCode`; `not_ready`
     * changes nothing and returns the code as `authorizationCodes.find` would (used, or failing a
     * condition), for the caller's checks and a redemption with `exchangeCode`.
     */
    exchangeReadyCode(
      codeDigest: string, clientId: string, now: number, conditions: ReadyCodeConditions, grantId: string, tokens: TokenForCode[], auditEvent?: AuditEvent,
    ): Promise<ExchangeReadyCodeResult>;
    find(grantId: string): Promise<GrantRecord | undefined>;
    /** Active grants of a client for a subject (at most one, SPEC decision 11). */
    findActive(clientId: string, subjectType: SubjectType, subjectId: string): Promise<GrantRecord | undefined>;
    /** Active (unrevoked) grants matching the filter, newest first, with the time a token was last issued. */
    listActive(filter: GrantFilter): Promise<GrantListing[]>;
    /**
     * Records uses of grants' tokens (an access token introspected as active): each grant's `last_used_at`
     * moves to its use's `usedAt`, unless a use was recorded less than `minimumIntervalSeconds` before it
     * (last_used_at only moves forward, at most once per interval). ONE statement for the batch; ids are
     * distinct; an unknown id changes nothing. The server calls it from its last-use recorder
     * (storage/last-use-recorder.ts, once a second), which the introspection endpoint notes a use in only
     * when the recorded use it read with the token (`TokenWithGrant.grantUseRecordedAt`) is at least an
     * interval old, and never for a token issued less than that before (its issue is already the listing's
     * last use, `GrantListing.lastUsedAt`): a busy API costs at most one write per grant per interval, on
     * any number of instances, and none on an introspection's answer path.
     */
    recordUses(uses: readonly RecordedUse[], minimumIntervalSeconds: number): Promise<void>;
    /**
     * Revokes the grant and every token of it; false when it was already revoked. `effects` (issue 15 §5)
     * are recorded in the same transaction, and only when this call revoked the grant.
     */
    revoke(grantId: string, now: number, reason: string, effects?: GrantRevocationEffects): Promise<boolean>;
    /**
     * Revokes every active grant of a client and every token of them (client deletion, a secret rotation
     * with `revoke_grants`; SPEC decisions 10 and 13). On PostgreSQL it takes the client row's lock first
     * (AuthenticatedClient), so an exchange in flight commits before it and its grant is revoked too.
     * @returns how many grants it revoked.
     */
    revokeAllOfClient(clientId: string, now: number, reason: string, effects?: GrantRevocationEffects): Promise<number>;
  };
  tokens: {
    /**
     * One token with its grant and client; undefined if any is missing. With `forRotation` (the refresh
     * grant's lookup, always followed by `rotateRefreshToken`, whose compare-and-swap re-checks the token's
     * and the grant's state): the answer may be the token as this instance last wrote it (PostgreSQL,
     * postgres/written-rows.ts, issue 12: no round trip), so its rotated/revoked state may be stale; every
     * other field is immutable. Without it (introspection), the state as stored now.
     */
    findByDigest(tokenDigest: string, options?: { forRotation?: boolean }): Promise<TokenWithGrant | undefined>;
    /**
     * Compare-and-swap rotation (SPEC decision 8): if `presentedDigest` is still the current refresh token
     * (not rotated, not revoked, grant not revoked), marks it rotated, revokes the grant's access tokens,
     * and stores `newTokens`, all at once. Otherwise stores nothing and returns `not_current`, so of two
     * concurrent rotations exactly one succeeds. `auditEvent`, if given, is recorded with the rotation
     * (and only if it happens), in the same commit. With `graceSuccessor` (whose `previousDigest` is
     * `presentedDigest`), the rotation also replaces the grant's grace record with it, in the same commit;
     * without one it deletes the grant's grace record (window 0: no retry is ever answered). With
     * `authenticated`, a client no longer active with that secret rotates nothing and answers `client_changed`
     * (checked before `not_current`: the caller must not take a client change for a lost race, which revokes).
     * A current token whose `newTokens` name a scope it, as read under the rotation's lock, or its client no longer
     * has (README "Registering clients": a narrowing committed while the request was in flight) rotates nothing
     * and answers ScopeNarrowed, with what is left, for the caller to mint again.
     */
    rotateRefreshToken(
      presentedDigest: string, now: number, newTokens: TokenRecord[], auditEvent?: AuditEvent, graceSuccessor?: GraceSuccessor,
      authenticated?: AuthenticatedClient,
    ): Promise<'rotated' | 'not_current' | 'client_changed' | ScopeNarrowed>;
    /**
     * Issue 12 (PostgreSQL: the refresh in one round trip): reads the presented refresh token with its grant
     * and, only when they meet `conditions` (ReadyRefreshConditions), rotates it as `rotateRefreshToken`
     * does, with `newTokens` given the token's grant, client and scope, issued at `now` for the default
     * resource; the audit event's details get `scope` and `previous_refresh_token_id`, and `graceSuccessor`
     * (if any) becomes the grant's grace record. One operation, one commit. With `conditions.clientSecretDigest`,
     * a client no longer active with that secret (AuthenticatedClient) changes nothing: `client_changed`.
     * Anything else changes nothing and returns what was read, for the refresh grant's ordinary checks.
     */
    rotateReadyRefreshToken(
      presentedDigest: string, now: number, conditions: ReadyRefreshConditions, newTokens: TokenForCode[], auditEvent?: AuditEvent,
      graceSuccessor?: ReadyGraceSuccessor,
    ): Promise<RotateReadyRefreshTokenResult>;
    /**
     * The sealed successor pair of the grant's last rotation (SPEC decision 8's reuse grace window), if
     * `presentedDigest` is the refresh token that rotation replaced and the grant is not revoked. One read:
     * the next rotation of the grant replaces (or, without a grace successor, deletes) the record in its own
     * commit, so a retry is answered either before the successor's first use or never after it.
     * Expiry (`graceExpiresAt`) is the caller's check. Found through the presented token's row: a token
     * cleanup deleted (its whole family expired, successor included) has none.
     */
    findGraceSuccessor(presentedDigest: string): Promise<GraceSuccessor | undefined>;
    /**
     * Revokes one access token (RFC 7009 §2.1). `auditEvent`, when given, commits with the revocation and
     * only if this call revoked the token (issue 15 §5: a side effect commits with its cause, or not at all).
     * @returns true when this call revoked it; false when it was revoked before, is unknown, or is a refresh token.
     */
    revokeAccessToken(tokenDigest: string, now: number, auditEvent?: AuditEvent): Promise<boolean>;
    /**
     * The revocation feed for resource servers that validate JWT access tokens locally: access tokens
     * after `position` (see {@link RevocationFeedPosition}) that have not expired (`expiresAt > now`),
     * ordered by `revokedAt` then `tokenId`, at most `limit` of them. Rotation, grant revocation and
     * `revokeAccessToken` all set `revokedAt`. Indexed on (`revoked_at`, `token_id`). With `audience`
     * (RFC 8707, issue 15 §4), only the access tokens issued for it: a string is that `audience`, null the
     * default resource (tokens stored without one).
     */
    listRevokedAccessTokens(position: RevocationFeedPosition, now: number, limit: number, audience?: string | null): Promise<RevokedAccessToken[]>;
  };
  audit: {
    record(event: AuditEvent): Promise<void>;
    /**
     * Events newest first (by `eventId`), at most `limit` (default 100). `clientId` keeps one client's
     * events, `types` only those types (an empty list keeps none), `beforeEventId` is the cursor: only events
     * with a smaller `eventId` (pass the last `eventId` of the previous page).
     */
    list(options?: AuditListOptions): Promise<StoredAuditEvent[]>;
    /**
     * Issue 14 (`gatehouse audit export`): events with `at >= sinceSeconds` and `eventId > afterEventId`,
     * oldest first (by `eventId`), at most `limit`; page on with the last `eventId`.
     */
    listSince(sinceSeconds: number, afterEventId: number, limit: number): Promise<StoredAuditEvent[]>;
    /**
     * Issue 14, audit retention: records `cutoffSeconds` (if later than every earlier cutoff) and deletes at
     * most `limit` events with `at < cutoff`; the only deletion the append-only audit log allows.
     * @returns how many events it deleted.
     */
    deleteOlderThan(cutoffSeconds: number, now: number, limit: number): Promise<number>;
  };
  /**
   * Failed-login counters per key (SPEC decision 18), shared by every instance. Keys are chosen by the
   * caller (`account:<sha-256 of the e-mail>`, `address:<ip>`); each has one fixed window at a time,
   * current while `now < windowEndsAt`, with `windowEndsAt = first failure + windowSeconds`.
   */
  loginThrottle: {
    /**
     * One login attempt, atomically for all `keys` (also across instances): if any key's current window
     * already holds `limit.maxFailures` failures, counts nothing and answers the seconds until the longest
     * such window ends; otherwise counts one failure on every distinct key (a key without a current window
     * starts one at `now`) and answers `retryAfterSeconds: 0`. `failures` is each key's count in its
     * current window after the call (0 without one), in the order of `keys`. Called BEFORE the password
     * check, so a parallel burst cannot pass the limit.
     */
    recordFailure(keys: string[], now: number, limit: LoginRateLimit): Promise<{ retryAfterSeconds: number; failures: number[] }>;
    /** Takes back one counted failure from each key's current window (the attempt succeeded); never below 0. */
    retract(keys: string[], now: number): Promise<void>;
    /** Forgets a key's window (a successful login clears its account). */
    reset(key: string): Promise<void>;
    /**
     * One login attempt under growing delays (`LoginDelayRule`, each key its own rule), atomically for all
     * keys, also across instances: if any key must still wait, counts nothing and answers the longest wait
     * in seconds; otherwise counts one failure on every distinct key (the latest failure is `now`; the
     * key is forgotten `forgetAfterSeconds` later) and answers `retryAfterSeconds: 0`. `failures` is each
     * key's count after the call (0 when forgotten), in the order of `counters`. Called BEFORE the password
     * check; a success then `reset`s or `retract`s. A key's first rule wins if it appears twice.
     */
    attempt(counters: { key: string; rule: LoginDelayRule }[], now: number): Promise<{ retryAfterSeconds: number; failures: number[] }>;
  };
  /**
   * Request counters of the token, revocation, introspection and PAR endpoints (SPEC decision 18). Keys
   * are chosen by the caller (`token:client:<client_id>`, `token:address:<ip>`); each has one fixed window
   * at a time, current while `now < windowEndsAt`, with `windowEndsAt = first hit + windowSeconds`.
   * Counters are not worth a disk flush: a crash or restart may lose recent hits or whole windows, never
   * more than that. Where they live: PostgreSQL, an UNLOGGED table shared by every instance, by default
   * counted in each instance's memory and added to the table in one statement per flush interval (another
   * instance's hits are seen up to one interval late; stores/rate-limits-shared.ts), or with
   * `rateLimitCounters: 'database'` written per hit; SQLite, this process's memory by default (counts per
   * process, bounded, no write), or with `rateLimitCounters: 'database'` the file's table, shared by every
   * process on the file (stores/rate-limits*.ts).
   */
  rateLimits: {
    /**
     * Counts one request on every distinct key, each atomically (also across the processes that share the
     * counters; PostgreSQL's `shared` counters see the other instances' hits up to one flush interval late):
     * a key without a current window starts one at `now` with 1 hit. Nothing is refused here; the caller
     * compares `hits` with its limit.
     * @param windowSeconds length of a new window, ≥ 1. @param now seconds since the epoch.
     * @returns per key, in the order of `keys`: the hits in its current window after this one, and when
     *   that window ends (seconds since the epoch).
     */
    hit(keys: string[], windowSeconds: number, now: number): Promise<RateLimitHit[]>;
    /**
     * Only where counters are synchronised in the background (PostgreSQL's `shared` counters): sends this
     * instance's pending hits now and learns the shared totals, as the periodic flush does. Never throws.
     */
    flush?(): Promise<void>;
  };
  /**
   * Deleting what can no longer matter, in small batches, safe to run on every instance at once
   * (rows another run holds are skipped, never waited for or deleted twice).
   */
  cleanup: {
    /**
     * Deletes, in statements or short transactions of at most `batchSize` rows each, until none is left:
     * - login sessions with `expiresAt <= now`;
     * - authorization codes with `expiresAt + AUTHORIZATION_CODE_RETENTION_SECONDS <= now` (replay
     *   detection stays meaningful for that long);
     * - access tokens with `expiresAt <= now` (expired, so refused anyway, and out of the revocation feed);
     * - refresh tokens of a grant only once EVERY refresh token of that grant has expired: until the
     *   family's own expiry (its latest refresh token's `expiresAt`) a rotated-out token must still be
     *   recognised as a replay and revoke the grant (SPEC decision 8, RFC 9700 §4.14.2);
     * - grants that are revoked (superseded, revoked, replayed) once no token and no code refers to them
     *   (active grants stay: they are the record of consent);
     * - login-throttle windows that have ended;
     * - consent interactions with `expiresAt <= now`, used or not;
     * - rate-limit windows that have ended;
     * - known devices with `expiresAt <= now`;
     * - pushed authorization requests with `expiresAt <= now`, used or not;
     * - refresh-token reuse grace records with `graceExpiresAt <= now` (SPEC decision 8: after the window a
     *   retry is plain reuse, recognised by the rotated-out token itself, so the sealed successor pair
     *   serves no one and is not kept).
     * - partner team invitations, answered or not, with `expiresAt + PARTNER_TEAM_INVITATION_RETENTION_SECONDS <= now`.
     * Audit events are never deleted (SPEC decision 19). A run stops at a batch that comes back short,
     * so rows a concurrent run holds are left to it (or to the next run).
     * @param now seconds since the epoch. @param batchSize rows per statement, ≥ 1.
     * @returns how many rows of each kind this call deleted.
     * @throws RangeError when `batchSize` is not a positive integer.
     */
    deleteExpired(now: number, batchSize: number): Promise<CleanupResult>;
  };
  /** Consent interactions (SPEC decision 11): the authorization request a consent page answers, single use. */
  interactions: {
    create(interaction: InteractionRecord): Promise<void>;
    /**
     * The consent page's read and write in one operation (one round trip on PostgreSQL, issue 12): the
     * session `interaction.sessionDigest` names, as `loginSessions.findActive(…, now, administeredSubjectType)`
     * finds it (undefined when none is active: nothing stored), and `interaction` stored bound to it only
     * when its user administers at least one subject of that type (`interactionStored`).
     */
    createInSession(interaction: InteractionRecord, now: number, administeredSubjectType: SubjectType): Promise<(ActiveLoginSession & { interactionStored: boolean }) | undefined>;
    /**
     * Atomically marks the interaction used and returns it with its session, only if it exists, belongs to
     * `sessionDigest`, has not expired (`now < expiresAt`), was not used before, and its session is active
     * (as `loginSessions.findActive` finds it, returned as `session`); otherwise returns undefined and
     * changes nothing. Of two concurrent calls for one interaction, at most one gets it (also across
     * instances). The consent decision's session and interaction in one round trip on PostgreSQL (issue 12).
     */
    consume(interactionDigest: string, sessionDigest: string, now: number): Promise<{ interaction: InteractionRecord; session: ActiveLoginSession } | undefined>;
    /**
     * Issue 12, the consent decision in one operation (one round trip on PostgreSQL): `consume`, and in the
     * same transaction, only if it took the interaction, `authorizationCodes.create(code, auditEvent,
     * { onlyForAdministrator: true })` — the code only if its `userId` is the session's user and that user
     * administers its subject. Returns undefined (nothing changed) as `consume` does; otherwise the
     * interaction and session with `codeCreated` (false: the interaction is used all the same, no code).
     */
    consumeWithCode(
      interactionDigest: string, sessionDigest: string, now: number, code: AuthorizationCodeRecord, auditEvent: AuditEvent,
    ): Promise<{ interaction: InteractionRecord; session: ActiveLoginSession; codeCreated: boolean } | undefined>;
    /**
     * The interaction bound to `sessionDigest`, unused and unexpired at `now`, with its session's user id;
     * undefined otherwise. Changes nothing, and decides nothing: PostgreSQL answers an interaction this
     * instance stored with `createInSession` from memory (postgres/written-rows.ts, no round trip), so it may
     * have been used, or its session ended, since. Only `consume` and `consumeWithCode` take it. Issue 12:
     * the consent decision reads the request before it consumes it, to prepare its code.
     */
    peek(interactionDigest: string, sessionDigest: string, now: number): Promise<{ interaction: InteractionRecord; userId: string } | undefined>;
  };
  /** Pushed authorization requests (RFC 9126): stored by /oauth/par, used once by /oauth/authorize. */
  pushedRequests: {
    create(pushedRequest: PushedRequestRecord): Promise<void>;
    /**
     * Atomically marks the pushed request used and returns it, only if it exists, was pushed by `clientId`,
     * has not expired (`now < expiresAt`) and was not used before; otherwise returns undefined and changes
     * nothing. Of two concurrent calls for one request, at most one gets it (also across instances).
     */
    consume(requestUriDigest: string, clientId: string, now: number): Promise<PushedRequestRecord | undefined>;
    /**
     * Records that `sessionDigest`'s login completed on this request's login page (`reauthenticatedSessionDigest`),
     * only while it is `clientId`'s, unexpired and unused. @returns false when nothing was marked.
     */
    markReauthenticated(requestUriDigest: string, clientId: string, sessionDigest: string, now: number): Promise<boolean>;
  };
  /** The directory the platform pushes in (admin API, CLI, import): see DirectoryStore. */
  directory: DirectoryStore;
  /**
   * RFC 9449 §11.1: the DPoP proofs the token endpoint accepted, by a digest of their key thumbprint and
   * `jti`, until their acceptance window ends, so a replayed proof is refused on every instance.
   */
  dpopProofs: {
    /**
     * Atomically records `proofDigest` unless a record of it exists that has not expired (`now < expiresAt`);
     * an expired record is replaced. Of two concurrent calls (on any instances) exactly one gets true.
     * @returns true when recorded (the proof is new), false when it was seen before (a replay).
     */
    recordOnce(proofDigest: string, expiresAt: number, now: number): Promise<boolean>;
    /** Deletes at most `limit` records with `expiresAt <= now`. @returns how many it deleted. */
    deleteExpired(now: number, limit: number): Promise<number>;
  };
  /** Named server secrets (the development token key, the JWT signing key), created once; concurrent callers, on any instance, all get the one stored value. */
  settings: {
    getOrCreate(name: string, create: () => string): Promise<string>;
    /** Every setting whose name starts with `prefix`, ordered by name (key rings: `token_hmac_key.k1`, …). */
    list(prefix: string): Promise<Array<{ name: string; value: string }>>;
  };
  /** Invitations, password resets and the TOTP second factor (issue 10 §3): see LocalAccountStore. */
  localAccounts: LocalAccountStore;
  /** Partner teams of the developer portal (issue 13): see PartnerTeamStore. */
  partnerTeams: PartnerTeamStore;
  /** Invitations to a partner team, pending until the invitee accepts (issue 13): see PartnerTeamInvitationStore. */
  partnerTeamInvitations: PartnerTeamInvitationStore;
  /** Upstream OpenID Provider accounts linked to directory users (issue 10 §2): see UserIdentityStore. */
  userIdentities: UserIdentityStore;
  /** Directory users who hold the platform-administrator role: they may use the console at /admin (issue 13). */
  consoleAdministrators: {
    /** Idempotent (keeps the first `grantedAt`). @returns false when the user does not exist. */
    grant(userId: string, now: number): Promise<boolean>;
    isConsoleAdministrator(userId: string): Promise<boolean>;
    /** @returns false when the user did not hold the role. */
    revoke(userId: string): Promise<boolean>;
  };
  /** Issue 13: the reviewed branding of clients whose branding changed since review (see BrandingReviewRecord). */
  brandingReviews: {
    /** Keeps the snapshot unless the client has one already (the first reviewed values win). @returns whether it was kept. */
    keep(record: BrandingReviewRecord): Promise<boolean>;
    find(clientId: string): Promise<BrandingReviewRecord | undefined>;
    /** @returns false when the client had none. */
    remove(clientId: string): Promise<boolean>;
  };
  /** Issue 15 §5, partner webhooks: one endpoint per client and the durable delivery queue (webhooks/). */
  webhooks: {
    /** Sets (or replaces) the client's endpoint. */
    setEndpoint(endpoint: WebhookEndpointRecord): Promise<void>;
    /** @returns false when the client had none. Queued deliveries stay (they are dropped when due). */
    removeEndpoint(clientId: string): Promise<boolean>;
    findEndpoint(clientId: string): Promise<WebhookEndpointRecord | undefined>;
    enqueue(delivery: WebhookDeliveryRecord): Promise<void>;
    /**
     * Atomically takes at most `limit` deliveries due at `now` (`nextAttemptAt <= now`), oldest due first,
     * and moves their `nextAttemptAt` to `now + leaseSeconds`, so no other worker (on any instance) takes
     * them meanwhile (PostgreSQL: `FOR UPDATE SKIP LOCKED`). Returns them as they were before the lease.
     */
    claimDue(now: number, limit: number, leaseSeconds: number): Promise<WebhookDeliveryRecord[]>;
    /** Records one attempt: `attempts + 1`, `lastAttemptAt`, `lastStatus` (HTTP status, 0 when no response), then `nextAttemptAt` (null: no more attempts) and `deliveredAt`. */
    recordAttempt(deliveryId: string, attempt: { at: number; status: number; nextAttemptAt: number | null; deliveredAt: number | null }): Promise<void>;
    /** One client's deliveries, newest first (by `createdAt`, then `deliveryId`), at most `limit`. */
    list(clientId: string, limit: number): Promise<WebhookDeliveryRecord[]>;
    /** Makes a delivery of `clientId` due again at `now` (resend). @returns false when no such delivery. */
    resend(clientId: string, deliveryId: string, now: number): Promise<boolean>;
    /**
     * Queues `delivery` only if its client has an endpoint subscribed to `delivery.eventType` (eventTypes
     * null = every event), checked and inserted in one transaction. @returns whether it was queued.
     */
    enqueueIfSubscribed(delivery: WebhookDeliveryRecord): Promise<boolean>;
    /** Changes which events the client's endpoint receives (null: every event). @returns false when the client has no endpoint. */
    setEventTypes(clientId: string, eventTypes: string[] | null): Promise<boolean>;
    /**
     * Retention (issue 15 §5): deletes at most `limit` deliveries that are finished (delivered, or given up:
     * `nextAttemptAt` null) and were created before `cutoffSeconds`. Pending ones are never deleted.
     * @returns how many it deleted.
     */
    deleteFinishedBefore(cutoffSeconds: number, limit: number): Promise<number>;
  };
  /** Registered resources with their scope families (RFC 8707, issue 15 §4): see ResourceStore. */
  resources: ResourceStore;
  /** Issue 16, API keys (the documented alternative to OAuth, SPEC §3): see ApiKeyStore (api-keys/). */
  apiKeys: ApiKeyStore;
  close(): Promise<void>;
  /**
   * Graceful shutdown's deadline (operations/shutdown.ts): stops what is still waiting on the database, and
   * starts nothing new. Those operations fail with StorageUnavailableError and what they had not committed is
   * not done: a rotation waiting on a lock must not commit after its request was cut, leaving the client
   * without the only refresh token that still works. PostgreSQL cancels the statements running on the pool's
   * connections (`pg_cancel_backend`; best effort: an unreachable database commits nothing either, and a
   * statement already committing finishes); SQLite, whose statements run synchronously and never span the
   * deadline, fails the operations waiting for another connection's write lock and opens no new batch.
   * @returns how many connections (PostgreSQL) or operations (SQLite) it stopped; 0 when nothing waited.
   */
  cancelStatements?(): Promise<number>;
  /**
   * PostgreSQL only: the connection pool's occupancy right now (connections open, idle, requests waiting
   * for one, and the pool's size), for the pool-saturation metric (issue 14). SQLite has no pool.
   */
  connectionPool?(): ConnectionPoolStats;
  /**
   * Readiness (`/health/ready`): one cheap query that reaches the database and checks that every
   * migration this code knows is applied.
   * @throws StorageUnavailableError (storage-unavailable.ts) when the database cannot be reached;
   * Error when the schema is behind.
   */
  checkReady(): Promise<void>;
}

/** A user as the directory holds it (no password: that is `users`' business). Times in seconds since the epoch. */
export interface DirectoryUserRecord {
  /** The platform's own UUID (lowercase); the `sub` of every token the user's consent produces. */
  userId: string;
  email: string;
  name: string;
  /** BCP 47 language tag, e.g. `da-DK`; null when unknown. */
  locale: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A company or organization with its times (seconds since the epoch). */
export interface DirectorySubjectRecord extends SubjectRecord {
  createdAt: number;
  updatedAt: number;
}

/** One administrator membership: the user administers the subject. */
export interface MembershipRecord {
  subjectType: SubjectType;
  subjectId: string;
}

/** Cursor pagination: records with an id greater than `afterId` (ids ascending), at most `limit` of them. */
export interface DirectoryPage {
  afterId?: string;
  limit: number;
}

/** What an upsert did; a refusal names the field and the reason, and changed nothing. */
export type DirectoryUpsertOutcome =
  | { outcome: 'created' | 'updated' | 'unchanged' }
  | { outcome: 'refused'; field: string; reason: string };

/**
 * One record of an import batch: a subject, or a user with (when `administers` is given) exactly those
 * memberships. An optional member left `undefined` (`organizationId`, `locale`) keeps what is stored (null
 * for a new record); `null` clears it.
 */
export type DirectoryImportRecord =
  | { kind: 'subject'; subject: Omit<DirectorySubjectRecord, 'createdAt' | 'updatedAt' | 'organizationId'> & { organizationId?: string | null } }
  | { kind: 'user'; user: Omit<DirectoryUserRecord, 'createdAt' | 'updatedAt' | 'locale'> & { locale?: string | null }; administers?: MembershipRecord[] };

/**
 * The directory: organizations, companies, users and who administers what (issue 10 §1).
 *
 * Lifecycle rules every backend keeps (README "Directory"):
 * - Users are soft-deleted (`deleted_at`): the row stays, so grants (which belong to the subject) keep
 *   their `user_id` and connected apps still name who connected them. Deleting a user, in one
 *   transaction, clears the password, ends every login session, removes the memberships and the partner
 *   developer role, and voids the user's unredeemed authorization codes. A deleted user's id is never
 *   reused. Their e-mail address is not kept: the row's `email` becomes `<user_id>@deleted.invalid`
 *   (rows.ts `deletedUserEmail`), so the address is free again (e-mails are unique case-insensitively).
 * - Companies and organizations are deleted for good, in one transaction with: every active grant on
 *   them revoked (with its tokens), their memberships removed, their unredeemed codes voided. An
 *   organization that still groups companies is not deleted (`has_companies`).
 * - Removing a membership (`deleteMembership`, or an import that leaves it out) voids the user's unredeemed codes
 *   for that subject; grants already made stay (they belong to the subject).
 * - A voided code is marked consumed and replayed, so its redemption is `invalid_grant`.
 */
export interface DirectoryStore {
  /** @returns `duplicate_id` when the id was ever used (deleted users included), `duplicate_email` when a live user has the e-mail. */
  createUser(user: DirectoryUserRecord): Promise<'created' | 'duplicate_id' | 'duplicate_email'>;
  /** A live (not deleted) user. */
  findUser(userId: string): Promise<DirectoryUserRecord | undefined>;
  /** Live users by id ascending; `email` matches case-insensitively. */
  listUsers(filter: { email?: string }, page: DirectoryPage): Promise<DirectoryUserRecord[]>;
  /**
   * Changes the given fields of a live user; `updatedAt` moves only when something changed. A new e-mail address (not
   * a change of case) also, in the same transaction, voids the user's unused set-password links, clears the password
   * and the second factor, ends every login session and pending login, and voids unredeemed codes (stores/directory.ts
   * `endOldAddressAccess`; the same for an import's change of address).
   */
  updateUser(userId: string, changes: Partial<Pick<DirectoryUserRecord, 'email' | 'name' | 'locale'>>, now: number): Promise<DirectoryUserRecord | 'not_found' | 'duplicate_email'>;
  /** Soft-deletes a live user (see the lifecycle rules). @returns undefined when there is no live user with that id. */
  deleteUser(userId: string, now: number): Promise<{ loginSessionsEnded: number; membershipsRemoved: number } | undefined>;
  /** @returns `unknown_organization` when a company names an organization that does not exist. */
  createSubject(subject: DirectorySubjectRecord): Promise<'created' | 'duplicate_id' | 'unknown_organization'>;
  findSubject(subjectType: SubjectType, subjectId: string): Promise<DirectorySubjectRecord | undefined>;
  /** Subjects of one type by id ascending; `organizationId` filters companies. */
  listSubjects(subjectType: SubjectType, filter: { organizationId?: string }, page: DirectoryPage): Promise<DirectorySubjectRecord[]>;
  updateSubject(subjectType: SubjectType, subjectId: string, changes: Partial<Pick<DirectorySubjectRecord, 'name' | 'organizationId'>>, now: number): Promise<DirectorySubjectRecord | 'not_found' | 'unknown_organization'>;
  /**
   * Deletes a subject (see the lifecycle rules); `reason` is the revoked grants' revocation reason;
   * `effects` (issue 15 §5) are recorded in the same transaction for each grant it revoked. Its active API
   * keys (standalone and integrated) are revoked too (`revoked`), so none outlives it, nor follows its id
   * should it be created again.
   */
  deleteSubject(subjectType: SubjectType, subjectId: string, now: number, reason: string, effects?: GrantRevocationEffects): Promise<{ outcome: 'deleted'; grantsRevoked: number; apiKeysRevoked: number } | { outcome: 'not_found' | 'has_companies' }>;
  /** The memberships of a user, by subject type then id. */
  listMemberships(userId: string): Promise<MembershipRecord[]>;
  /** Idempotent. */
  putMembership(userId: string, membership: MembershipRecord): Promise<'added' | 'unchanged' | 'unknown_user' | 'unknown_subject'>;
  /**
   * Removes the membership and, in the same transaction, voids the codes the user obtained for that subject
   * but did not redeem (a code must not outlive the right to consent that produced it).
   * @returns false when there was no such membership (nothing changed).
   */
  deleteMembership(userId: string, membership: MembershipRecord, now: number): Promise<boolean>;
  /**
   * Upserts each record in its own savepoint inside one transaction (so one refused record changes
   * nothing of itself and leaves the others applied), in the order given. A record equal to what is
   * stored is `unchanged` and keeps its `updatedAt`. Refusals: `id` (a deleted user's id), `email` (a
   * live user has it), `organization_id` (unknown organization), `administers` (an unknown subject).
   * Each change records its audit event (`directory.<kind>.created|updated`, by `actor`) in the same savepoint.
   * With `dryRun`, the outcomes are computed the same way and everything is rolled back at the end.
   * @returns one outcome per record, in order.
   */
  importBatch(records: DirectoryImportRecord[], now: number, actor: string, options?: { dryRun?: boolean }): Promise<DirectoryUpsertOutcome[]>;
}

/** Why a set-password link was issued (issue 10 §3): an administrator's invitation (72 h) or a forgotten password (1 h). */
export type PasswordTokenPurpose = 'invitation' | 'reset';

/** A one-time set-password link; only the token's SHA-256 is stored (SPEC decision 9). Times in seconds since the epoch. */
export interface PasswordTokenRecord {
  tokenDigest: string;
  userId: string;
  purpose: PasswordTokenPurpose;
  createdAt: number;
  expiresAt: number;
}

/** A user's TOTP second factor (RFC 6238). The secret is stored only encrypted (AES-256-GCM, users/second-factor-secret.ts). */
export interface SecondFactorRecord {
  userId: string;
  /** The encrypted TOTP secret as the caller's cipher produced it; never the plain secret. */
  secretCiphertext: string;
  createdAt: number;
  /** Null while the enrolment awaits its first code; a factor counts only once confirmed. */
  confirmedAt: number | null;
  /** The latest TOTP time step (Unix seconds / 30) accepted, so a code is never accepted twice (RFC 6238 §5.2). */
  lastTimeStep: number | null;
}

/**
 * A sign-in between its password and its second factor (issue 10 §3): the browser holds a random id, only
 * its SHA-256 is stored; no login session exists until the second step succeeds.
 */
export interface PendingLoginRecord {
  pendingDigest: string;
  userId: string;
  /** `verify`: the user has a factor and must give a code; `enrol`: the user must enrol before anything else. */
  step: 'verify' | 'enrol';
  /** Where to continue after the second step (login.ts RETURN_TO). */
  returnTo: string;
  /** When the first step authenticated the person (a password: when it was given; the identity provider: its auth_time, 0 when unknown). */
  createdAt: number;
  /**
   * Present when the first step proved no fresh authentication (the identity provider signed the person in
   * without asking, OIDC Core §3.1.2.1): an enrolment after it then counts for no `prompt=login`.
   */
  firstStepStale?: true;
  expiresAt: number;
  /** Wrong codes given so far. */
  failures: number;
}

/** Invitations, password resets and the TOTP second factor of local accounts (issue 10 §3). */
export interface LocalAccountStore {
  /** Stores a new link and voids the user's earlier unused links of the same purpose (only the latest works). */
  createPasswordToken(token: PasswordTokenRecord): Promise<void>;
  /** The link if it exists, was not used, its user is live and `now < expiresAt`. */
  findPasswordToken(tokenDigest: string, now: number): Promise<PasswordTokenRecord | undefined>;
  /**
   * Atomically marks the link used and returns it, under the same conditions as `findPasswordToken`;
   * otherwise undefined and nothing changes. Of two concurrent calls at most one gets it. In the same
   * transaction the user's other unused links (any purpose) are voided, one password set ends them all, and
   * the user's pending logins (second step) are deleted: they proved the password being replaced.
   */
  consumePasswordToken(tokenDigest: string, now: number): Promise<PasswordTokenRecord | undefined>;
  /** The user's factor, confirmed or not. */
  findSecondFactor(userId: string): Promise<SecondFactorRecord | undefined>;
  /** Starts an enrolment (unconfirmed), replacing an unconfirmed one. @returns false (and changes nothing) when a confirmed factor exists. */
  startSecondFactor(userId: string, secretCiphertext: string, now: number): Promise<boolean>;
  /**
   * Confirms an unconfirmed factor with its first code's time step and stores the recovery codes' digests
   * (replacing any). @returns false (and changes nothing) when there is no unconfirmed factor.
   */
  confirmSecondFactor(userId: string, timeStep: number, recoveryCodeDigests: string[], now: number): Promise<boolean>;
  /** Atomically accepts `timeStep` only if it is later than the last one accepted (RFC 6238 §5.2: no replay). */
  useTimeStep(userId: string, timeStep: number): Promise<boolean>;
  /** Atomically marks one unused recovery code of the user used. @returns false when there is none with that digest. */
  useRecoveryCode(userId: string, codeDigest: string, now: number): Promise<boolean>;
  /** Unused recovery codes of the user. */
  countRecoveryCodes(userId: string): Promise<number>;
  /** Removes the factor and its recovery codes. @returns false when there was none. */
  removeSecondFactor(userId: string): Promise<boolean>;
  createPendingLogin(pending: PendingLoginRecord): Promise<void>;
  /** The pending login if it exists and `now < expiresAt`. */
  findPendingLogin(pendingDigest: string, now: number): Promise<PendingLoginRecord | undefined>;
  /** Counts a wrong code. @returns the failures after this one. */
  recordPendingLoginFailure(pendingDigest: string): Promise<number>;
  /** Deletes it (done, or too many failures). @returns false when it was already gone (a concurrent completion). */
  deletePendingLogin(pendingDigest: string): Promise<boolean>;
  /** Deletes used or expired password links and expired pending logins, at most `batchSize` per statement. */
  deleteExpired(now: number, batchSize: number): Promise<{ passwordTokens: number; pendingLogins: number }>;
}

/**
 * An upstream OpenID Provider account linked to a directory user (issue 10 §2): the pair (upstream
 * issuer, `sub`) identifies the account (OpenID Connect Core §5.7: only `iss` + `sub` are stable, never
 * the e-mail). Times in seconds since the epoch.
 */
export interface UserIdentityRecord {
  /** The upstream issuer identifier, exactly as its ID tokens carry it in `iss`. */
  issuer: string;
  /** The upstream `sub`. */
  subject: string;
  userId: string;
  linkedAt: number;
  /** The latest sign-in through this identity; `linkedAt` at first. */
  lastSignInAt: number;
}

/** Links between upstream accounts and directory users; at most one per (issuer, sub) and one per (issuer, user). */
export interface UserIdentityStore {
  /** The link of (issuer, subject), only while its user is live (not deleted). */
  find(issuer: string, subject: string): Promise<UserIdentityRecord | undefined>;
  /**
   * Links (issuer, subject) to a live user. @returns `subject_taken` when (issuer, subject) is already
   * linked, `user_taken` when the user already has another account at that issuer, `unknown_user` when no
   * live user has that id; nothing is stored then.
   */
  link(identity: UserIdentityRecord): Promise<'linked' | 'subject_taken' | 'user_taken' | 'unknown_user'>;
  /** Moves `lastSignInAt` to `now`. */
  recordSignIn(issuer: string, subject: string, now: number): Promise<void>;
  /** The user's links, by issuer. */
  listOfUser(userId: string): Promise<UserIdentityRecord[]>;
}

/** Issue 15 §5: a client's webhook endpoint. The signing secret (`whsec_…`) is stored only encrypted (AES-256-GCM, webhooks/webhook-secret.ts). */
export interface WebhookEndpointRecord {
  clientId: string;
  url: string;
  secretCiphertext: string;
  createdAt: number;
  /** Issue 15 §5 (migration 21): the event types it receives; null or absent = every event. */
  eventTypes?: string[] | null;
}

/** What `clients.changeStatus` does and records (storage.ts). Times in seconds since the epoch. */
export interface ClientStatusChange {
  readonly status: 'suspended' | 'deleted';
  readonly now: number;
  /** The audit event of the change, built inside the transaction from what it did (a pure function). */
  readonly auditEvent: (done: ClientStatusChangeDone) => AuditEvent;
  /** The client's own event (`client.suspended`, `client.deleted`), queued if its endpoint subscribes; only when the status changed. */
  readonly clientEvent?: WebhookDeliveryRecord;
  /** `deleted`: the `grant.revoked` delivery of each grant it revoked (a pure function). */
  readonly grantRevoked?: (grant: GrantRecord) => WebhookDeliveryRecord;
}

/** What a change of a client's registered scopes does besides the change (storage.ts `clients.update`). */
export interface ScopeNarrowing {
  /** Seconds since the epoch: the revocations' time, and a code expired before it is left alone. */
  readonly now: number;
  /** The `grant.revoked` delivery of each grant left with no scope (a pure function). */
  readonly grantRevoked?: (grant: GrantRecord) => WebhookDeliveryRecord;
  /** The audit event of the change, built inside the transaction from what it did (a pure function). */
  readonly auditEvent?: (done: ScopeNarrowingDone) => AuditEvent;
}

/** What narrowing a client's registered scopes did to what it granted. */
export interface ScopeNarrowingDone {
  readonly grantsNarrowed: number;
  readonly grantsRevoked: number;
  readonly accessTokensRevoked: number;
}

/** What a status change did. */
export interface ClientStatusChangeDone {
  readonly previousStatus: ClientStatus;
  readonly grantsRevoked: number;
  readonly accessTokensRevoked: number;
}

export type ClientStatusChangeOutcome =
  | ({
    readonly outcome: 'changed' | 'unchanged';
    readonly client: ClientRecord;
    /** The audit event as recorded (for the audit stream), or undefined when none was (unchanged, nothing revoked). */
    readonly auditEvent: AuditEvent | undefined;
  } & ClientStatusChangeDone)
  | { readonly outcome: 'not_found' };

/**
 * Issue 15 §5: what a grant-revoking storage operation records in its own transaction, only for grants it
 * actually revoked, so a crash between the revocation and its side effects can neither lose nor invent one.
 */
export interface GrantRevocationEffects {
  /** Recorded with the revocation (`grants.revoke` only: one grant). */
  auditEvent?: AuditEvent;
  /**
   * Builds the partner webhook delivery for one revoked grant (a pure function: it runs inside the
   * transaction); queued only when the grant's client has an endpoint subscribed to its event type.
   */
  webhookDelivery?: (grant: GrantRecord) => WebhookDeliveryRecord;
}

/** Issue 15 §5: one event for one client, in the durable queue. Times in seconds since the epoch. */
export interface WebhookDeliveryRecord {
  /** The Standard Webhooks `webhook-id` (`msg_…`); the same on every attempt, so receivers deduplicate. */
  deliveryId: string;
  clientId: string;
  /** `grant.revoked` or `client.suspended`. */
  eventType: string;
  /** The JSON body exactly as signed and sent; never contains a token. */
  payload: string;
  createdAt: number;
  attempts: number;
  /** When the next attempt is due; null when delivered or given up. */
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  /** HTTP status of the last attempt; 0 when no response came. */
  lastStatus: number | null;
  deliveredAt: number | null;
}

/**
 * RFC 8707 §2 (issue 15 §4): a registered API other than the default one. Its `resource` is the resource
 * indicator clients send and the `aud` of its access tokens; `scopes` is its scope family: the scopes that
 * belong to it (a scope belongs to at most one registered resource; the default resource has the rest).
 */
export interface ResourceRecord {
  /** Absolute URI without fragment (RFC 8707 §2), exactly as clients send it and tokens carry it in `aud`. */
  resource: string;
  name: string;
  /** The scope family, catalogue scope names in the order given. */
  scopes: string[];
  /** Seconds since the epoch. */
  createdAt: number;
}

/** Registered resources (RFC 8707, issue 15 §4). */
export interface ResourceStore {
  /**
   * Stores it unless a resource with that indicator exists (`duplicate`) or another resource's family holds
   * one of its scopes (`scopes_claimed`, naming them; a scope belongs to at most one registered resource).
   * Both checks and the insert are one atomic step: of two concurrent creations claiming a scope, one is
   * `created` and the other `scopes_claimed`. Nothing is stored unless `created`.
   */
  create(resource: ResourceRecord): Promise<'created' | 'duplicate' | { outcome: 'scopes_claimed'; scopes: string[] }>;
  find(resource: string): Promise<ResourceRecord | undefined>;
  /** Every registered resource, oldest first (then by indicator). */
  list(): Promise<ResourceRecord[]>;
  /** Deletes it for good. @returns false when there was none. Tokens already issued for it keep their `aud`. */
  delete(resource: string): Promise<boolean>;
}

/** A connection pool's occupancy (Storage.connectionPool). */
export interface ConnectionPoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
}

/** Issue 16: `integrated` keys belong to an integration (a client) and a company; `standalone` keys to a company or organization. */
export type ApiKeyType = 'integrated' | 'standalone';
/** Why a key stopped working: revoked (console, admin API, CLI, connected apps), deleted (its owner), rotated (replaced by a reinstall). */
export type ApiKeyRevocationReason = 'revoked' | 'deleted' | 'rotated';

/** Issue 16: an API key. Only the HMAC digest of its value is stored (SPEC decision 9); the value is shown once. */
export interface ApiKeyRecord {
  /** A UUID: what lists, audit events and introspection (`jti`) name. */
  keyId: string;
  /** HMAC-SHA-256 tag of the value (api-keys/api-key.ts), base64url. */
  keyDigest: string;
  /** The value's first characters (`gak_` + 6), shown so people can tell their keys apart. */
  displayPrefix: string;
  keyType: ApiKeyType;
  /** The owner's label (standalone), or the integration's name at install time (integrated). */
  name: string;
  /** Integrated keys: the integration's client; null for standalone keys. */
  clientId: string | null;
  subjectType: SubjectType;
  subjectId: string;
  scopes: string[];
  /** The administrator who created or installed it. */
  createdByUserId: string;
  createdAt: number;
  /** Seconds since the epoch; null = never expires. */
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
  revocationReason: ApiKeyRevocationReason | null;
}

/** Issue 16: an integration (client) an administrator allowed to offer integrated API keys, pre-scoped by the platform. */
export interface ApiKeyIntegrationRecord {
  clientId: string;
  /** The scopes every integrated key of this client gets. */
  scopes: string[];
  enabledAt: number;
  /** `admin:<name>`, `user:<id>`, `cli`. */
  enabledBy: string;
}

/** Which keys `apiKeys.list` returns; newest first. */
export interface ApiKeyFilter {
  subjectType?: SubjectType;
  subjectId?: string;
  clientId?: string;
  keyType?: ApiKeyType;
  /** Default false: revoked, deleted and rotated keys are left out. */
  includeRevoked?: boolean;
  limit?: number;
}

export interface ApiKeyStore {
  /** Stores a new standalone key. @throws on a duplicate `keyId` or `keyDigest`. */
  create(key: ApiKeyRecord): Promise<void>;
  /**
   * Installs an integrated key, atomically revoking (reason `rotated`) the active integrated key of the
   * same client and subject: one key per company per integration, also across instances (a unique
   * partial index backs it). @returns the id of the key it replaced, or null.
   */
  install(key: ApiKeyRecord): Promise<string | null>;
  find(keyId: string): Promise<ApiKeyRecord | undefined>;
  findByDigest(keyDigest: string): Promise<ApiKeyRecord | undefined>;
  list(filter: ApiKeyFilter): Promise<ApiKeyRecord[]>;
  /** Marks an active key revoked. @returns false when it did not exist or was already revoked. */
  revoke(keyId: string, now: number, reason: ApiKeyRevocationReason): Promise<boolean>;
  /**
   * Sets each key's `lastUsedAt` to its use's `usedAt`, unless it was set less than `minimumIntervalSeconds`
   * before it (at most one write per interval): ONE statement for the batch, ids distinct, as `grants.recordUses`.
   */
  recordUses(uses: readonly RecordedUse[], minimumIntervalSeconds: number): Promise<void>;
  /** Allows (or re-scopes) a client's integrated keys. */
  enableIntegration(integration: ApiKeyIntegrationRecord): Promise<void>;
  /** @returns false when it was not enabled. Existing keys stay until revoked. */
  disableIntegration(clientId: string): Promise<boolean>;
  findIntegration(clientId: string): Promise<ApiKeyIntegrationRecord | undefined>;
  listIntegrations(): Promise<ApiKeyIntegrationRecord[]>;
}

/** The client fields a partner's change of puts up for review again (issue 13; the consent page shows them). */
export interface ReviewedBranding {
  clientName: string;
  clientUri: string | null;
  logoUri: string | null;
  tosUri: string | null;
  policyUri: string | null;
  /** The marketplace description as reviewed (null: none); absent in records kept before it was part of the review. */
  description?: string | null;
}

/**
 * Issue 13, branding-change review: the branding as an administrator last reviewed it, kept when a partner
 * first changes a reviewed client's name, logo or URIs (the change itself applies at once, marked
 * unverified). Approving the change drops this record; rejecting it restores these values (and logo).
 */
export interface BrandingReviewRecord {
  clientId: string;
  reviewed: ReviewedBranding;
  /** The uploaded logo as reviewed (served at `/logos/<client_id>` then); null when there was none. */
  logo: Omit<ClientLogoRecord, 'clientId' | 'updatedAt'> | null;
  /** Seconds since the epoch: when the first unreviewed change came. */
  keptAt: number;
}

// ---- partner teams (issue 13, developer portal) ----

/** `owner`: invites and removes teammates; `member`: sees and manages the team's clients. */
export type PartnerTeamRole = 'owner' | 'member';

/** One developer's place in a partner team (a user belongs to at most one team). */
export interface PartnerTeamMemberRecord {
  /** Opaque (a UUID); a team exists while it has members. */
  teamId: string;
  userId: string;
  role: PartnerTeamRole;
  /** Seconds since the epoch. */
  addedAt: number;
}

/** A member as the team page lists it. */
export interface PartnerTeamMemberView extends PartnerTeamMemberRecord {
  name: string;
  email: string;
}

/**
 * Partner teams (issue 13 "Partner teams"): several developers share a partner's clients. Every client
 * registered in the portal belongs to one team (a link row); a client registered before teams existed, or
 * whose link is not written yet, belongs to the team of the developer who registered it (`ownerUserId`).
 * Deleted users are no members (they are never listed or counted as owners).
 */
export interface PartnerTeamStore {
  /**
   * The user's membership; when they have none, a new team `newTeamId` with them as its owner, which
   * takes the clients they registered that belong to no team. One atomic step.
   */
  ensureMembership(userId: string, newTeamId: string, now: number): Promise<PartnerTeamMemberRecord>;
  findMembership(userId: string): Promise<PartnerTeamMemberRecord | undefined>;
  /** Live members, owners first, then by name. */
  listMembers(teamId: string): Promise<PartnerTeamMemberView[]>;
  /** @returns whether the user was added; a user already in a team (this or another) is not moved. */
  addMember(member: PartnerTeamMemberRecord): Promise<'added' | 'already_member' | 'member_of_another_team'>;
  /**
   * Removes a member; the clients they registered stay the team's. Checked and done in one atomic step:
   * the team's last live owner is never removed (`last_owner`, nothing changes).
   */
  removeMember(teamId: string, userId: string): Promise<'removed' | 'not_member' | 'last_owner'>;
  /** Links a client to a team (idempotent; an existing link is kept). */
  addClient(teamId: string, clientId: string): Promise<void>;
  /** The team the client belongs to (its link, else its registering developer's team), or undefined. */
  teamOfClient(clientId: string): Promise<string | undefined>;
  /** The team's clients (every status), oldest first, then by name. */
  listClients(teamId: string): Promise<ClientRecord[]>;
}

export type PartnerTeamInvitationStatus = 'pending' | 'accepted' | 'declined' | 'revoked';

/** An owner's invitation to their team (issue 13 "Partner teams"): nothing changes until the invitee accepts it. */
export interface PartnerTeamInvitationRecord {
  invitationId: string;
  teamId: string;
  /** The invitee: only this account, signed in, may accept or decline. */
  userId: string;
  /** The address and name as the inviting owner typed them. */
  email: string;
  name: string;
  role: PartnerTeamRole;
  /** The inviting owner's user id. */
  invitedBy: string;
  /** Seconds since the epoch. */
  createdAt: number;
  expiresAt: number;
  status: PartnerTeamInvitationStatus;
  /** When it was accepted, declined or revoked; null while pending. */
  resolvedAt: number | null;
}

/** An invitation as its invitee sees it: who invited them. */
export interface PartnerTeamInvitationView extends PartnerTeamInvitationRecord {
  inviterName: string;
  inviterEmail: string;
}

/**
 * Why the invitee's answer (`accept`, `decline`) was refused; each answer is decided in one atomic step:
 * - `accepted`: the membership was created with the invitation's role and the user is a partner developer
 *   (`becameDeveloper`: they were not one before, e.g. new, or removed by an administrator);
 * - `declined`;
 * - `unknown`: no such invitation for this user (another user's is indistinguishable from none);
 * - `expired`; `no_longer_pending`: accepted, declined or revoked before (`invitation.status` says which;
 *   an invitation to a team left without a live owner is revoked then);
 * - `in_another_team` (accept only): the user is in another team, or registered clients that belong to no team
 *   yet (joining would hand them to this team); nothing changes and the invitation stays pending.
 */
export type PartnerTeamInvitationRefusal =
  | { outcome: 'expired' | 'no_longer_pending' | 'in_another_team'; invitation: PartnerTeamInvitationRecord }
  | { outcome: 'unknown' };

/**
 * Invitations to partner teams (issue 13 "Partner teams"). An invitation is bound to the invitee's account; it
 * carries no secret (the e-mailed link names it, and only that account, signed in, can answer it). Lists
 * leave out expired invitations and those of deleted users.
 */
export interface PartnerTeamInvitationStore {
  /** Records a pending invitation; an earlier pending invitation of the same team to the same user is revoked (replaced). */
  create(invitation: PartnerTeamInvitationRecord): Promise<void>;
  find(invitationId: string): Promise<PartnerTeamInvitationRecord | undefined>;
  /** The team's pending, unexpired invitations, newest first. */
  listPendingOfTeam(teamId: string, now: number): Promise<PartnerTeamInvitationRecord[]>;
  /** The user's pending, unexpired invitations with their inviter, newest first. */
  listPendingOfUser(userId: string, now: number): Promise<PartnerTeamInvitationView[]>;
  /** The invitation with its inviter, when it is `userId`'s (any status). */
  findOfUser(invitationId: string, userId: string): Promise<PartnerTeamInvitationView | undefined>;
  /**
   * The invitee (`userId`) joins the team. When accepted, records in the same transaction (SPEC decision 19: the
   * event commits with the membership, or neither does) `partner_team.invitation_accepted`, actor `user:<userId>`,
   * details `{ team_id, invitation_id, user_id, role, invited_by, developer_access_granted }`; a refusal records nothing.
   */
  accept(invitationId: string, userId: string, now: number): Promise<{ outcome: 'accepted'; invitation: PartnerTeamInvitationRecord; becameDeveloper: boolean } | PartnerTeamInvitationRefusal>;
  /**
   * The invitee declines. When declined, records in the same transaction `partner_team.invitation_declined`, actor
   * `user:<userId>`, details `{ team_id, invitation_id, user_id, invited_by }`; a refusal records nothing.
   */
  decline(invitationId: string, userId: string, now: number): Promise<{ outcome: 'declined'; invitation: PartnerTeamInvitationRecord } | PartnerTeamInvitationRefusal>;
  /**
   * An owner withdraws a pending invitation of their team. When `revoked`, records in the same transaction
   * `partner_team.invitation_revoked` with `actor` (the owner, `user:<id>`), details `{ team_id, invitation_id, user_id, role }`.
   */
  revoke(invitationId: string, teamId: string, now: number, actor: string): Promise<'revoked' | 'unknown' | 'no_longer_pending'>;
}
