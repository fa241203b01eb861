import type { DatabaseSync } from 'node:sqlite';

/**
 * Versioned schema for the SQLite backend. Each migration runs once, inside one IMMEDIATE transaction,
 * so two processes starting on the same file do not both apply it.
 */
/** `run`, when present, finishes a migration in code after its `sql`, in the same transaction. */
export const migrations: { version: number; name: string; sql: string; run?: (db: DatabaseSync) => void }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE clients (
        client_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('client', 'resource_server')),
        client_name TEXT NOT NULL,
        client_type TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
        secret_digest TEXT,
        redirect_uris TEXT NOT NULL,
        scopes TEXT NOT NULL,
        subject_type TEXT CHECK (subject_type IN ('company', 'organization')),
        pkce_required INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'pending', 'suspended', 'deleted')),
        client_uri TEXT, logo_uri TEXT, tos_uri TEXT, policy_uri TEXT,
        audience TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL,
        password_hash TEXT NOT NULL
      );
      CREATE TABLE subjects (
        subject_type TEXT NOT NULL CHECK (subject_type IN ('company', 'organization')),
        subject_id TEXT NOT NULL,
        name TEXT NOT NULL,
        organization_id TEXT,
        PRIMARY KEY (subject_type, subject_id)
      );
      CREATE TABLE subject_administrators (
        user_id TEXT NOT NULL REFERENCES users(user_id),
        subject_type TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        PRIMARY KEY (user_id, subject_type, subject_id),
        FOREIGN KEY (subject_type, subject_id) REFERENCES subjects(subject_type, subject_id)
      );
      CREATE TABLE login_sessions (
        session_digest TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(user_id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE grants (
        grant_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES clients(client_id),
        user_id TEXT NOT NULL REFERENCES users(user_id),
        subject_type TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        revocation_reason TEXT
      );
      CREATE INDEX grants_active ON grants (client_id, subject_type, subject_id) WHERE revoked_at IS NULL;
      CREATE TABLE authorization_codes (
        code_digest TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES clients(client_id),
        user_id TEXT NOT NULL REFERENCES users(user_id),
        redirect_uri TEXT NOT NULL,
        scope TEXT NOT NULL,
        subject_type TEXT NOT NULL,
        subject_id TEXT NOT NULL,
        code_challenge TEXT,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        consumed_at INTEGER,
        replayed_at INTEGER,
        grant_id TEXT REFERENCES grants(grant_id)
      );
      CREATE TABLE tokens (
        token_digest TEXT PRIMARY KEY,
        token_id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
        grant_id TEXT NOT NULL REFERENCES grants(grant_id),
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        rotated_at INTEGER,
        revoked_at INTEGER
      );
      CREATE INDEX tokens_by_grant ON tokens (grant_id);
      CREATE TABLE audit_events (
        event_id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        client_id TEXT,
        grant_id TEXT,
        details TEXT NOT NULL
      );
      -- SPEC decision 19: append-only.
      CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
      CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
      -- REPLACE deletes without firing the DELETE trigger (recursive_triggers is off): refuse reused ids.
      CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events WHEN EXISTS (SELECT 1 FROM audit_events WHERE event_id = NEW.event_id)
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
      CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
  {
    version: 2,
    name: 'shared login throttle, cleanup and revocation-feed indexes',
    sql: `
      -- SPEC decision 18: failed-login windows shared by every process on this database.
      CREATE TABLE login_throttle (
        throttle_key TEXT PRIMARY KEY,
        window_ends_at INTEGER NOT NULL,
        failures INTEGER NOT NULL CHECK (failures >= 0)
      );
      CREATE INDEX login_throttle_by_end ON login_throttle (window_ends_at);
      -- Cleanup scans by expiry, and checks refresh-token families per grant (the latest expiry of a family).
      DROP INDEX tokens_by_grant;
      CREATE INDEX tokens_by_grant ON tokens (grant_id, kind, expires_at);
      CREATE INDEX login_sessions_by_expiry ON login_sessions (expires_at);
      CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);
      CREATE INDEX authorization_codes_by_grant ON authorization_codes (grant_id) WHERE grant_id IS NOT NULL;
      -- Revoked grants: the latest expiry of any of their tokens, set at revocation (they gain no tokens after).
      ALTER TABLE grants ADD COLUMN cleanup_after INTEGER;
      CREATE INDEX grants_revoked_cleanup ON grants (cleanup_after) WHERE revoked_at IS NOT NULL;
      -- Expired refresh tokens kept for their live family: not looked at again before the family's expiry.
      ALTER TABLE tokens ADD COLUMN cleanup_after INTEGER;
      CREATE INDEX tokens_access_by_expiry ON tokens (expires_at) WHERE kind = 'access';
      CREATE INDEX tokens_refresh_cleanup ON tokens (COALESCE(cleanup_after, expires_at)) WHERE kind = 'refresh';
      -- The revocation feed: access tokens by revocation time.
      CREATE INDEX tokens_revoked_access ON tokens (revoked_at, token_id) WHERE kind = 'access' AND revoked_at IS NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'client management: registration fields, secret rotation overlap, logos, partner developers, admin credentials',
    sql: `
      ALTER TABLE clients ADD COLUMN initiation_uri TEXT;
      ALTER TABLE clients ADD COLUMN settings_uri TEXT;
      ALTER TABLE clients ADD COLUMN contacts TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE clients ADD COLUMN owner_user_id TEXT REFERENCES users(user_id);
      ALTER TABLE clients ADD COLUMN previous_secret_digest TEXT;
      ALTER TABLE clients ADD COLUMN previous_secret_expires_at INTEGER;
      -- Clients registered before this migration were registered by administrators: their branding counts as reviewed.
      ALTER TABLE clients ADD COLUMN branding_verified INTEGER NOT NULL DEFAULT 1;
      CREATE INDEX clients_by_owner ON clients (owner_user_id) WHERE owner_user_id IS NOT NULL;
      CREATE TABLE client_logos (
        client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
        content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
        bytes BLOB NOT NULL,
        sha256 TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE partner_developers (user_id TEXT PRIMARY KEY REFERENCES users(user_id));
      CREATE TABLE admin_credentials (
        name TEXT PRIMARY KEY,
        token_digest TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX tokens_by_client ON tokens (client_id, kind) WHERE revoked_at IS NULL;
      CREATE INDEX grants_by_client ON grants (client_id) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 4,
    name: 'last use of a grant',
    sql: `ALTER TABLE grants ADD COLUMN last_used_at INTEGER;`,
  },
  {
    version: 5,
    name: 'consent interactions; every grant of a client and subject, for the code freshness check',
    sql: `
      -- SPEC decision 11: the authorization request a consent page answers, kept server-side, single use.
      CREATE TABLE interactions (
        interaction_digest TEXT PRIMARY KEY,
        session_digest TEXT NOT NULL,
        client_id TEXT NOT NULL,
        request_parameters TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        consumed_at INTEGER
      );
      CREATE INDEX interactions_by_expiry ON interactions (expires_at);
      -- SPEC decision 6: a code redeems only if no grant of its (client, subject) was created or revoked since.
      CREATE INDEX grants_by_client_subject ON grants (client_id, subject_type, subject_id);
    `,
  },
  {
    version: 6,
    name: 'rate limits at the token, revocation and introspection endpoints',
    sql: `
      CREATE TABLE rate_limit_windows (
        limit_key TEXT PRIMARY KEY,
        window_ends_at INTEGER NOT NULL,
        hits INTEGER NOT NULL
      );
      CREATE INDEX rate_limit_windows_by_end ON rate_limit_windows (window_ends_at);
    `,
  },
  {
    version: 7,
    name: 'the directory: user locale, times, soft delete and optional password; subject times',
    sql: `
      -- deleted_at marks a deleted user, whose row stays for the grants that name it.
      ALTER TABLE users ADD COLUMN locale TEXT;
      ALTER TABLE users ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN deleted_at INTEGER;
      ALTER TABLE subjects ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE subjects ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX subjects_by_organization ON subjects (organization_id, subject_id) WHERE organization_id IS NOT NULL;
      CREATE INDEX subject_administrators_by_subject ON subject_administrators (subject_type, subject_id);
      CREATE INDEX grants_active_by_subject ON grants (subject_type, subject_id) WHERE revoked_at IS NULL;
      CREATE INDEX authorization_codes_unredeemed_by_subject ON authorization_codes (subject_type, subject_id) WHERE grant_id IS NULL;
      CREATE INDEX authorization_codes_unredeemed_by_user ON authorization_codes (user_id) WHERE grant_id IS NULL;
    `,
    /**
     * password_hash becomes optional (directory users who never set one). Removing a NOT NULL constraint
     * changes no stored data, so the table's definition is edited in place, as sqlite.org/lang_altertable.html
     * ("Making other kinds of table schema changes", the simpler procedure) describes: a table rebuild would
     * drop columns other migrations added, and needs foreign keys off. Runs inside the migration's transaction.
     */
    run(db) {
      const { schema_version: schemaVersion } = db.prepare('PRAGMA schema_version').get() as { schema_version: number };
      db.enableDefensive(false);
      try {
        db.exec('PRAGMA writable_schema = ON');
        db.prepare("UPDATE sqlite_schema SET sql = replace(sql, 'password_hash TEXT NOT NULL', 'password_hash TEXT') WHERE type = 'table' AND name = 'users'").run();
        db.exec(`PRAGMA schema_version = ${schemaVersion + 1}`);
        db.exec('PRAGMA writable_schema = OFF');
      } finally {
        db.enableDefensive(true);
      }
      const column = db.prepare("SELECT \"notnull\" AS required FROM pragma_table_info('users') WHERE name = 'password_hash'").get() as { required: number } | undefined;
      if (!column || column.required !== 0) throw new Error('migration 7 could not make users.password_hash optional');
      const integrity = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
      if (integrity.length !== 1 || integrity[0]!.integrity_check !== 'ok') throw new Error('migration 7 left the database inconsistent');
    },
  },
  {
    version: 8,
    name: 'login session devices, known devices, growing login delays',
    sql: `
      -- Issue 10 §4: the account page lists sessions with their device and last use.
      ALTER TABLE login_sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
      ALTER TABLE login_sessions ADD COLUMN last_seen_at INTEGER;
      CREATE INDEX login_sessions_by_user ON login_sessions (user_id, expires_at);
      -- Issue 10 §3: growing delays count from a key's latest failure.
      ALTER TABLE login_throttle ADD COLUMN last_failure_at INTEGER;
      -- Issue 10 §3: browsers that signed a user in before (the device cookie's SHA-256 only).
      CREATE TABLE known_devices (
        device_digest TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(user_id),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (device_digest, user_id)
      );
      CREATE INDEX known_devices_by_expiry ON known_devices (expires_at);
    `,
  },
  {
    version: 9,
    name: 'refresh-token reuse grace window: the sealed successor of each grant\'s last rotation',
    sql: `
      -- SPEC decision 8: one row per grant, replaced by each rotation; the pair is AES-256-GCM ciphertext
      -- under a key derived from the replaced refresh token, which is never stored.
      CREATE TABLE refresh_token_grace (
        grant_id TEXT PRIMARY KEY REFERENCES grants(grant_id) ON DELETE CASCADE,
        previous_digest TEXT NOT NULL UNIQUE,
        sealed_successor TEXT NOT NULL,
        grace_expires_at INTEGER NOT NULL
      );
      CREATE INDEX refresh_token_grace_by_expiry ON refresh_token_grace (grace_expires_at);
    `,
  },
  {
    // Issue 14: audit retention. Events stay append-only, except that the cleanup job may delete events
    // older than a cutoff it recorded first (GATEHOUSE_AUDIT_RETENTION_DAYS); cutoffs are append-only too.
    version: 10,
    name: 'audit retention',
    sql: `
      CREATE TABLE audit_retention_cutoffs (cutoff_at INTEGER NOT NULL, recorded_at INTEGER NOT NULL);
      CREATE TRIGGER audit_retention_cutoffs_no_update BEFORE UPDATE ON audit_retention_cutoffs BEGIN SELECT RAISE(ABORT, 'retention cutoffs are append-only'); END;
      CREATE TRIGGER audit_retention_cutoffs_no_delete BEFORE DELETE ON audit_retention_cutoffs BEGIN SELECT RAISE(ABORT, 'retention cutoffs are append-only'); END;
      DROP TRIGGER audit_events_no_delete;
      CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        WHEN OLD.at >= COALESCE((SELECT MAX(cutoff_at) FROM audit_retention_cutoffs), -9223372036854775808)
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
      CREATE INDEX audit_events_by_at ON audit_events (at);
    `,
  },
  {
    version: 11,
    name: 'user identities (upstream OpenID Provider accounts)',
    sql: `
      -- Issue 10 §2: an upstream account (issuer, sub) linked to a directory user; one per user and issuer.
      CREATE TABLE user_identities (
        issuer TEXT NOT NULL,
        subject TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES users(user_id),
        linked_at INTEGER NOT NULL,
        last_sign_in_at INTEGER NOT NULL,
        PRIMARY KEY (issuer, subject),
        UNIQUE (issuer, user_id)
      );
      CREATE INDEX user_identities_by_user ON user_identities (user_id);
    `,
  },
  {
    version: 12,
    name: 'local accounts: password links, TOTP second factors, recovery codes, pending logins',
    sql: `
      -- Issue 10 §3: invitation and reset links, single use; only the token's SHA-256 is stored (SPEC decision 9).
      CREATE TABLE password_tokens (
        token_digest TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (user_id),
        purpose TEXT NOT NULL CHECK (purpose IN ('invitation', 'reset')),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      );
      CREATE INDEX password_tokens_by_user ON password_tokens (user_id, purpose);
      CREATE INDEX password_tokens_by_expiry ON password_tokens (expires_at);
      -- Issue 10 §3: one TOTP factor per user, its secret encrypted (AES-256-GCM), never plain.
      CREATE TABLE second_factors (
        user_id TEXT PRIMARY KEY REFERENCES users (user_id),
        secret_ciphertext TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        confirmed_at INTEGER,
        last_time_step INTEGER
      );
      -- Recovery codes: digests only, each single use.
      CREATE TABLE recovery_codes (
        user_id TEXT NOT NULL REFERENCES users (user_id),
        code_digest TEXT NOT NULL,
        used_at INTEGER,
        PRIMARY KEY (user_id, code_digest)
      );
      -- A sign-in between its password and its second factor (the browser's id as a SHA-256 only).
      CREATE TABLE pending_logins (
        pending_digest TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (user_id),
        step TEXT NOT NULL CHECK (step IN ('verify', 'enrol')),
        return_to TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX pending_logins_by_expiry ON pending_logins (expires_at);
    `,
  },
  {
    version: 13,
    name: 'pushed authorization requests; clients that require them',
    sql: `
      -- RFC 9126 §2.2: a pushed authorization request, single use, referred to by its request_uri, whose
      -- random part is stored only as its SHA-256 (SPEC decision 9).
      CREATE TABLE pushed_requests (
        request_uri_digest TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        request_parameters TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        consumed_at INTEGER
      );
      CREATE INDEX pushed_requests_by_expiry ON pushed_requests (expires_at);
      -- RFC 9126 §6: require_pushed_authorization_requests client metadata.
      ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 14,
    name: 'platform administrators of the console; audit events by client',
    sql: `
      -- Issue 13: directory users who may use the administrators' console at /admin.
      CREATE TABLE console_administrators (
        user_id TEXT PRIMARY KEY REFERENCES users(user_id),
        granted_at INTEGER NOT NULL
      );
      -- Issue 13: the portal's integration activity and the console's audit filter list one client's events, newest first.
      CREATE INDEX audit_events_by_client ON audit_events (client_id, event_id);
    `,
  },
  {
    version: 15,
    name: 'partner webhooks: endpoints and the delivery queue',
    sql: `
      -- Issue 15 §5: one webhook endpoint per client; the signing secret only encrypted (AES-256-GCM).
      CREATE TABLE webhook_endpoints (
        client_id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        secret_ciphertext TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      -- The durable delivery queue; next_attempt_at NULL once delivered or given up.
      CREATE TABLE webhook_deliveries (
        delivery_id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_attempt_at INTEGER,
        last_status INTEGER,
        delivered_at INTEGER
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
      CREATE INDEX webhook_deliveries_by_client ON webhook_deliveries (client_id, created_at);
    `,
  },
  {
    version: 16,
    name: 'DPoP: key-bound tokens, clients that require proofs, seen proofs',
    sql: `
      -- RFC 9449 §6.1: the thumbprint (cnf.jkt) of the DPoP key a token is bound to; NULL when not bound.
      ALTER TABLE tokens ADD COLUMN dpop_jkt TEXT;
      -- RFC 9449 §5.2: dpop_bound_access_tokens client metadata.
      ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0;
      -- RFC 9449 §11.1: accepted proofs (SHA-256 of thumbprint and jti) until their window ends: replay refused on every instance.
      CREATE TABLE dpop_proofs (
        proof_digest TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX dpop_proofs_by_expiry ON dpop_proofs (expires_at);
    `,
  },
  {
    version: 17,
    name: 'resource indicators: registered resources and the resources of codes, grants and access tokens',
    sql: `
      -- RFC 8707 §2 (issue 15 §4): an API other than the default one, its indicator (the aud of its access
      -- tokens) and its scope family (space-separated scope names).
      CREATE TABLE resources (
        resource TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      -- The resources an authorization request named (space-separated; NULL: none, the default resource).
      ALTER TABLE authorization_codes ADD COLUMN resources TEXT;
      ALTER TABLE grants ADD COLUMN resources TEXT;
      -- The one resource an access token was issued for (NULL: the default resource).
      ALTER TABLE tokens ADD COLUMN audience TEXT;
    `,
  },
  {
    version: 18,
    name: 'API keys: integrated and standalone keys; integrations that offer them',
    sql: `
      -- Issue 16: API keys, stored only as the HMAC digest of their value (SPEC decision 9).
      CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,
        key_digest TEXT NOT NULL UNIQUE,
        display_prefix TEXT NOT NULL,
        key_type TEXT NOT NULL CHECK (key_type IN ('integrated', 'standalone')),
        name TEXT NOT NULL,
        client_id TEXT,
        subject_type TEXT NOT NULL CHECK (subject_type IN ('company', 'organization')),
        subject_id TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_by_user_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        last_used_at INTEGER,
        revoked_at INTEGER,
        revocation_reason TEXT CHECK (revocation_reason IN ('revoked', 'deleted', 'rotated')),
        CHECK ((key_type = 'integrated') = (client_id IS NOT NULL))
      );
      -- One active key per company per integration (issue 16), across instances.
      CREATE UNIQUE INDEX api_keys_one_integrated ON api_keys (client_id, subject_type, subject_id) WHERE key_type = 'integrated' AND revoked_at IS NULL;
      CREATE INDEX api_keys_by_subject ON api_keys (subject_type, subject_id, created_at);
      -- Issue 16: the integrations an administrator allowed to offer integrated keys, with their scopes.
      CREATE TABLE api_key_integrations (
        client_id TEXT PRIMARY KEY,
        scopes TEXT NOT NULL,
        enabled_at INTEGER NOT NULL,
        enabled_by TEXT NOT NULL
      );
    `,
  },
  {
    version: 21,
    name: 'partner webhooks: event subscriptions and delivery retention',
    sql: `
      -- Issue 15 §5: which events an endpoint receives (space-separated event types; NULL = every event).
      ALTER TABLE webhook_endpoints ADD COLUMN event_types TEXT;
      -- Retention: finished deliveries (delivered or given up) are deleted by age, oldest first.
      CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at) WHERE next_attempt_at IS NULL;
    `,
  },
  {
    version: 22,
    name: 'branding-change review: the reviewed branding of a changed client',
    sql: `
      -- Issue 13: a partner's change of a reviewed client's name, logo or URIs keeps the reviewed values
      -- here (logo bytes included) until an administrator approves (row dropped) or rejects (restored) it.
      CREATE TABLE client_branding_reviews (
        client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
        reviewed TEXT NOT NULL,
        logo_content_type TEXT,
        logo_bytes BLOB,
        logo_sha256 TEXT,
        kept_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 23,
    name: 'partner teams: members with roles, and the clients each team shares',
    sql: `
      -- Issue 13 "Partner teams": a developer belongs to at most one team; a team exists while it has members.
      CREATE TABLE partner_team_members (
        user_id TEXT PRIMARY KEY REFERENCES users(user_id),
        team_id TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
        added_at INTEGER NOT NULL
      );
      CREATE INDEX partner_team_members_by_team ON partner_team_members (team_id);
      -- The team each portal client belongs to (a client without a row: its registering developer's team).
      CREATE TABLE partner_team_clients (
        client_id TEXT PRIMARY KEY REFERENCES clients(client_id),
        team_id TEXT NOT NULL
      );
      CREATE INDEX partner_team_clients_by_team ON partner_team_clients (team_id);
    `,
  },
  {
    version: 24,
    name: 'marketplace listing: a description and a category per client',
    sql: `
      -- Issue 13 (End users, Marketplace): plain text of at most 500 characters, and one of MARKETPLACE_CATEGORIES
      -- (clients/marketplace-listing.ts); both optional, NULL = not given.
      ALTER TABLE clients ADD COLUMN description TEXT CHECK (description IS NULL OR length(description) <= 500);
      ALTER TABLE clients ADD COLUMN category TEXT CHECK (category IS NULL OR category IN ('accounting', 'payroll', 'crm', 'reporting', 'e-commerce', 'other'));
    `,
  },
  {
    version: 25,
    name: 'DPoP: authorization codes bound to a key (dpop_jkt)',
    sql: `
      -- RFC 9449 §10: the JWK thumbprint the authorization request named; the code redeems only with a proof by that key.
      ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
    `,
  },
];
