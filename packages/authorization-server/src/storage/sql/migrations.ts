/**
 * The one schema and migration list (issue 12, "One SQL layer"): every version is written once and run by
 * both dialects' runners (`sqlite/migrations.ts` for sqlite-storage.ts, `postgres/migrations.ts`), each
 * rendering it with its own column types (`SqlVocabulary`).
 *
 * Adding a column: one entry at the end of `migrations` (e.g. `ALTER TABLE clients ADD COLUMN x ${d.time}`)
 * and the store that reads and writes it (storage/stores/). A statement goes under `{ sqlite, postgres }`
 * only where the databases truly differ (PostgreSQL functions and triggers, SQLite schema edits); a version
 * with `only` exists on one dialect alone.
 *
 * EXISTING DATABASES MUST NOT CHANGE. A database is identified by the versions in its `schema_migrations`:
 * never edit or renumber a version once released, and keep SQLite's text as it is (SQLite stores each
 * CREATE statement's text, comments inside it included, in sqlite_master). Versions 1–25 leave databases
 * identical to the two per-dialect lists they replaced, table text, columns, indexes, constraints,
 * functions and triggers included (`migrations.test.ts` against `schema-fixture.json`). The numbers keep
 * the old lists' gaps: PostgreSQL's version 1 already holds what SQLite added as version 2 (so 2 is SQLite's
 * alone), no database has a version 19, and 20 is PostgreSQL's code-exchange function.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { SqlDialect } from './driver.ts';

/**
 * The words in which the two dialects' column types differ. Everything else is written as SQLite spells
 * it (`TEXT`, `INTEGER`), which PostgreSQL reads as `text` and `integer` (32-bit: counters that reset).
 * Scopes are the space-separated strings of RFC 6749 §3.3 on both.
 */
export interface SqlVocabulary {
  readonly dialect: SqlDialect;
  /** Seconds since the epoch, as the storage contract passes times: SQLite `INTEGER`, PostgreSQL `bigint`. */
  readonly time: string;
  /** A 64-bit count (attempts, failures, TOTP time steps): SQLite `INTEGER`, PostgreSQL `bigint`. */
  readonly bigint: string;
  /** Identifiers and digests: SQLite `TEXT` (BINARY order already); PostgreSQL `text COLLATE "C"`, byte order
   *  whatever the database's locale, and B-tree comparisons by memcmp (cheaper on every key lookup). */
  readonly key: string;
  /** SQLite `INTEGER` 0/1, PostgreSQL `boolean`; with `true` and `false` as the literals for defaults. */
  readonly bool: string;
  readonly true: string;
  readonly false: string;
  /** A JSON document (audit details, request parameters): SQLite `TEXT`, PostgreSQL `jsonb`. */
  readonly json: string;
  /** A list of strings: SQLite `TEXT` holding a JSON array, PostgreSQL `text[]`; `emptyList` for defaults. */
  readonly list: string;
  readonly emptyList: string;
  /** Bytes (logos): SQLite `BLOB`, PostgreSQL `bytea`. */
  readonly bytes: string;
  /** An ever-growing 64-bit primary key: SQLite `INTEGER PRIMARY KEY AUTOINCREMENT` (ids never reused), PostgreSQL `bigserial PRIMARY KEY`. */
  readonly serialKey: string;
  /** Before TABLE, for rows nobody minds losing in a crash: PostgreSQL `UNLOGGED ` (no WAL, no flush to wait for); nothing on SQLite. */
  readonly unlogged: string;
}

export const vocabularies: Record<SqlDialect, SqlVocabulary> = {
  sqlite: {
    dialect: 'sqlite', time: 'INTEGER', bigint: 'INTEGER', key: 'TEXT', bool: 'INTEGER', true: '1', false: '0',
    json: 'TEXT', list: 'TEXT', emptyList: "'[]'", bytes: 'BLOB', serialKey: 'INTEGER PRIMARY KEY AUTOINCREMENT', unlogged: '',
  },
  postgres: {
    dialect: 'postgres', time: 'bigint', bigint: 'bigint', key: 'text COLLATE "C"', bool: 'boolean', true: 'true', false: 'false',
    json: 'jsonb', list: 'text[]', emptyList: "'{}'", bytes: 'bytea', serialKey: 'bigserial PRIMARY KEY', unlogged: 'UNLOGGED ',
  },
};

/** SQL text for both dialects: a string, or a template over the vocabulary. */
export type SqlText = string | ((d: SqlVocabulary) => string);

/** One step of a migration: the same text for both dialects, or each dialect's own (absent: nothing). */
export type MigrationStep = SqlText | { readonly sqlite?: SqlText; readonly postgres?: SqlText };

export interface Migration {
  /** The number recorded in `schema_migrations`; ascending, never reused. */
  readonly version: number;
  /** Recorded in `schema_migrations` beside the version. */
  readonly name: string;
  /** Run in order, in the migration's transaction. */
  readonly steps: readonly MigrationStep[];
  /** The one dialect this version exists on; both when absent. */
  readonly only?: SqlDialect;
  /** SQLite only: finishes the migration in code after its SQL, in the same transaction. */
  readonly sqliteRun?: (db: DatabaseSync) => void;
}

/** A migration as one dialect runs it. */
export interface DialectMigration {
  version: number;
  name: string;
  sql: string;
  run?: (db: DatabaseSync) => void;
}

/** The migrations `dialect` runs, in order, with their SQL rendered for it. */
export function migrationsFor(dialect: SqlDialect): DialectMigration[] {
  const d = vocabularies[dialect];
  const render = (text: SqlText | undefined) => (typeof text === 'function' ? text(d) : (text ?? ''));
  return migrations
    .filter((migration) => migration.only === undefined || migration.only === dialect)
    .map(({ version, name, steps, sqliteRun }) => ({
      version,
      name,
      sql: steps.map((step) => render(typeof step === 'object' ? step[dialect] : step)).join('\n'),
      ...(dialect === 'sqlite' && sqliteRun ? { run: sqliteRun } : {}),
    }));
}

/**
 * SQLite's version 2, which PostgreSQL's version 1 includes: the shared login throttle (SPEC decision 18),
 * and the indexes and columns of cleanup (by expiry; refresh-token families per grant) and of the revocation feed.
 */
const throttleAndCleanup = (d: SqlVocabulary) => `
      -- SPEC decision 18: failed-login windows shared by every process on this database.
      CREATE TABLE login_throttle (
        throttle_key ${d.key} PRIMARY KEY,
        window_ends_at ${d.time} NOT NULL,
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
      ALTER TABLE grants ADD COLUMN cleanup_after ${d.time};
      CREATE INDEX grants_revoked_cleanup ON grants (cleanup_after) WHERE revoked_at IS NOT NULL;
      -- Expired refresh tokens kept for their live family: not looked at again before the family's expiry.
      ALTER TABLE tokens ADD COLUMN cleanup_after ${d.time};
      CREATE INDEX tokens_access_by_expiry ON tokens (expires_at) WHERE kind = 'access';
      CREATE INDEX tokens_refresh_cleanup ON tokens (COALESCE(cleanup_after, expires_at)) WHERE kind = 'refresh';
      -- The revocation feed: access tokens by revocation time.
      CREATE INDEX tokens_revoked_access ON tokens (revoked_at, token_id) WHERE kind = 'access' AND revoked_at IS NOT NULL;
    `;

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    steps: [
      (d) => `
      CREATE TABLE clients (
        client_id ${d.key} PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('client', 'resource_server')),
        client_name TEXT NOT NULL,
        client_type TEXT NOT NULL CHECK (client_type IN ('confidential', 'public')),
        secret_digest TEXT,
        redirect_uris ${d.list} NOT NULL,
        scopes TEXT NOT NULL,
        subject_type TEXT CHECK (subject_type IN ('company', 'organization')),
        pkce_required ${d.bool} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'pending', 'suspended', 'deleted')),
        client_uri TEXT, logo_uri TEXT, tos_uri TEXT, policy_uri TEXT,
        audience TEXT,
        created_at ${d.time} NOT NULL
      );`,
      {
        sqlite: `
      CREATE TABLE users (
        user_id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL,
        password_hash TEXT NOT NULL
      );`,
        postgres: `
      CREATE TABLE users (
        user_id text COLLATE "C" PRIMARY KEY,
        email text NOT NULL,
        name text NOT NULL,
        password_hash text NOT NULL
      );
      -- Case-insensitive e-mail (storage.ts users.findByEmail). lower() folds every letter the database's
      -- LC_CTYPE knows (with UTF-8 that includes non-ASCII: 'Élodie' = 'élodie'); SQLite's NOCASE folds
      -- ASCII only. Addresses that differ only in non-ASCII case are one user here and two on SQLite.
      CREATE UNIQUE INDEX users_email_lower ON users (lower(email));`,
      },
      (d) => `
      CREATE TABLE subjects (
        subject_type ${d.key} NOT NULL CHECK (subject_type IN ('company', 'organization')),
        subject_id ${d.key} NOT NULL,
        name TEXT NOT NULL,
        organization_id ${d.key},
        PRIMARY KEY (subject_type, subject_id)
      );
      CREATE TABLE subject_administrators (
        user_id ${d.key} NOT NULL REFERENCES users(user_id),
        subject_type ${d.key} NOT NULL,
        subject_id ${d.key} NOT NULL,
        PRIMARY KEY (user_id, subject_type, subject_id),
        FOREIGN KEY (subject_type, subject_id) REFERENCES subjects(subject_type, subject_id)
      );
      CREATE TABLE login_sessions (
        session_digest ${d.key} PRIMARY KEY,
        user_id ${d.key} NOT NULL REFERENCES users(user_id),
        created_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL
      );
      CREATE TABLE grants (
        grant_id ${d.key} PRIMARY KEY,
        client_id ${d.key} NOT NULL REFERENCES clients(client_id),
        user_id ${d.key} NOT NULL REFERENCES users(user_id),
        subject_type ${d.key} NOT NULL,
        subject_id ${d.key} NOT NULL,
        scope TEXT NOT NULL,
        created_at ${d.time} NOT NULL,
        revoked_at ${d.time},
        revocation_reason TEXT
      );`,
      {
        sqlite: 'CREATE INDEX grants_active ON grants (client_id, subject_type, subject_id) WHERE revoked_at IS NULL;',
        postgres: `
      -- SPEC decision 11: one active grant per (client, subject). issueForCode serialises on an advisory
      -- lock per pair; the unique index is the backstop that makes a second active grant impossible.
      CREATE UNIQUE INDEX grants_one_active ON grants (client_id, subject_type, subject_id) WHERE revoked_at IS NULL;`,
      },
      (d) => `
      CREATE TABLE authorization_codes (
        code_digest ${d.key} PRIMARY KEY,
        client_id ${d.key} NOT NULL REFERENCES clients(client_id),
        user_id ${d.key} NOT NULL REFERENCES users(user_id),
        redirect_uri TEXT NOT NULL,
        scope TEXT NOT NULL,
        subject_type ${d.key} NOT NULL,
        subject_id ${d.key} NOT NULL,
        code_challenge TEXT,
        issued_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL,
        consumed_at ${d.time},
        replayed_at ${d.time},
        grant_id ${d.key} REFERENCES grants(grant_id)
      );
      CREATE TABLE tokens (
        token_digest ${d.key} PRIMARY KEY,
        token_id ${d.key} NOT NULL UNIQUE,
        kind ${d.key} NOT NULL CHECK (kind IN ('access', 'refresh')),
        grant_id ${d.key} NOT NULL REFERENCES grants(grant_id),
        client_id ${d.key} NOT NULL,
        scope TEXT NOT NULL,
        issued_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL,
        rotated_at ${d.time},
        revoked_at ${d.time}
      );
      CREATE INDEX tokens_by_grant ON tokens (grant_id);
      CREATE TABLE audit_events (
        event_id ${d.serialKey},
        type TEXT NOT NULL,
        at ${d.time} NOT NULL,
        actor TEXT NOT NULL,
        client_id TEXT,
        grant_id TEXT,
        details ${d.json} NOT NULL
      );`,
      {
        sqlite: `
      -- SPEC decision 19: append-only.
      CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
      CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
      -- REPLACE deletes without firing the DELETE trigger (recursive_triggers is off): refuse reused ids.
      CREATE TRIGGER audit_events_no_replace BEFORE INSERT ON audit_events WHEN EXISTS (SELECT 1 FROM audit_events WHERE event_id = NEW.event_id)
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;`,
        postgres: `
      -- SPEC decision 19: append-only. INSERT ... ON CONFLICT DO UPDATE fires the UPDATE trigger too.
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
        END;
      $$;
      CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();`,
      },
      (d) => `CREATE TABLE settings (name ${d.key} PRIMARY KEY, value TEXT NOT NULL);`,
      { postgres: throttleAndCleanup },
    ],
  },
  {
    version: 2,
    name: 'shared login throttle, cleanup and revocation-feed indexes',
    only: 'sqlite',
    steps: [throttleAndCleanup],
  },
  {
    version: 3,
    name: 'client management: registration fields, secret rotation overlap, logos, partner developers, admin credentials',
    steps: [(d) => `
      ALTER TABLE clients ADD COLUMN initiation_uri TEXT;
      ALTER TABLE clients ADD COLUMN settings_uri TEXT;
      ALTER TABLE clients ADD COLUMN contacts ${d.list} NOT NULL DEFAULT ${d.emptyList};
      ALTER TABLE clients ADD COLUMN owner_user_id ${d.key} REFERENCES users(user_id);
      ALTER TABLE clients ADD COLUMN previous_secret_digest TEXT;
      ALTER TABLE clients ADD COLUMN previous_secret_expires_at ${d.time};
      -- Clients registered before this migration were registered by administrators: their branding counts as reviewed.
      ALTER TABLE clients ADD COLUMN branding_verified ${d.bool} NOT NULL DEFAULT ${d.true};
      CREATE INDEX clients_by_owner ON clients (owner_user_id) WHERE owner_user_id IS NOT NULL;
      CREATE TABLE client_logos (
        client_id ${d.key} PRIMARY KEY REFERENCES clients(client_id),
        content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
        bytes ${d.bytes} NOT NULL,
        sha256 TEXT NOT NULL,
        updated_at ${d.time} NOT NULL
      );
      CREATE TABLE partner_developers (user_id ${d.key} PRIMARY KEY REFERENCES users(user_id));
      CREATE TABLE admin_credentials (
        name TEXT PRIMARY KEY,
        token_digest ${d.key} NOT NULL UNIQUE,
        created_at ${d.time} NOT NULL
      );
      CREATE INDEX tokens_by_client ON tokens (client_id, kind) WHERE revoked_at IS NULL;
      CREATE INDEX grants_by_client ON grants (client_id) WHERE revoked_at IS NULL;
    `],
  },
  {
    version: 4,
    name: 'last use of a grant',
    steps: [(d) => `ALTER TABLE grants ADD COLUMN last_used_at ${d.time};`],
  },
  {
    version: 5,
    name: 'consent interactions; every grant of a client and subject, for the code freshness check',
    steps: [(d) => `
      -- SPEC decision 11: the authorization request a consent page answers, kept server-side, single use.
      CREATE TABLE interactions (
        interaction_digest ${d.key} PRIMARY KEY,
        session_digest ${d.key} NOT NULL,
        client_id ${d.key} NOT NULL,
        request_parameters ${d.json} NOT NULL,
        created_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL,
        consumed_at ${d.time}
      );
      CREATE INDEX interactions_by_expiry ON interactions (expires_at);
      -- SPEC decision 6: a code redeems only if no grant of its (client, subject) was created or revoked since.
      CREATE INDEX grants_by_client_subject ON grants (client_id, subject_type, subject_id);
    `],
  },
  {
    version: 6,
    name: 'rate limits at the token, revocation and introspection endpoints',
    // UNLOGGED on PostgreSQL: counters written on every request need no WAL (a commit touching only them
    // does not wait for a flush); after a crash the table comes back empty, which only resets the windows.
    steps: [(d) => `
      CREATE ${d.unlogged}TABLE rate_limit_windows (
        limit_key ${d.key} PRIMARY KEY,
        window_ends_at ${d.time} NOT NULL,
        hits INTEGER NOT NULL
      );
      CREATE INDEX rate_limit_windows_by_end ON rate_limit_windows (window_ends_at);
    `],
  },
  {
    version: 7,
    name: 'the directory: user locale, times, soft delete and optional password; subject times',
    steps: [
      (d) => `
      -- deleted_at marks a deleted user, whose row stays for the grants that name it (its e-mail is replaced at deletion).
      ALTER TABLE users ADD COLUMN locale TEXT;
      ALTER TABLE users ADD COLUMN created_at ${d.time} NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN updated_at ${d.time} NOT NULL DEFAULT 0;
      ALTER TABLE users ADD COLUMN deleted_at ${d.time};
      ALTER TABLE subjects ADD COLUMN created_at ${d.time} NOT NULL DEFAULT 0;
      ALTER TABLE subjects ADD COLUMN updated_at ${d.time} NOT NULL DEFAULT 0;
      CREATE INDEX subjects_by_organization ON subjects (organization_id, subject_id) WHERE organization_id IS NOT NULL;
      CREATE INDEX subject_administrators_by_subject ON subject_administrators (subject_type, subject_id);
      CREATE INDEX grants_active_by_subject ON grants (subject_type, subject_id) WHERE revoked_at IS NULL;
      CREATE INDEX authorization_codes_unredeemed_by_subject ON authorization_codes (subject_type, subject_id) WHERE grant_id IS NULL;
      CREATE INDEX authorization_codes_unredeemed_by_user ON authorization_codes (user_id) WHERE grant_id IS NULL;`,
      // password_hash becomes optional (directory users who never set one); on SQLite, sqliteRun below.
      { postgres: 'ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;' },
    ],
    /**
     * Removing a NOT NULL constraint changes no stored data, so the table's definition is edited in place, as
     * sqlite.org/lang_altertable.html ("Making other kinds of table schema changes", the simpler procedure)
     * describes: a table rebuild would drop columns other migrations added, and needs foreign keys off.
     * Runs inside the migration's transaction.
     */
    sqliteRun(db) {
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
    steps: [(d) => `
      -- Issue 10 §4: the account page lists sessions with their device and last use.
      ALTER TABLE login_sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
      ALTER TABLE login_sessions ADD COLUMN last_seen_at ${d.time};
      CREATE INDEX login_sessions_by_user ON login_sessions (user_id, expires_at);
      -- Issue 10 §3: growing delays count from a key's latest failure.
      ALTER TABLE login_throttle ADD COLUMN last_failure_at ${d.time};
      -- Issue 10 §3: browsers that signed a user in before (the device cookie's SHA-256 only).
      CREATE TABLE known_devices (
        device_digest ${d.key} NOT NULL,
        user_id ${d.key} NOT NULL REFERENCES users(user_id),
        created_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL,
        PRIMARY KEY (device_digest, user_id)
      );
      CREATE INDEX known_devices_by_expiry ON known_devices (expires_at);
    `],
  },
  {
    version: 9,
    name: 'refresh-token reuse grace window: the sealed successor of each grant\'s last rotation',
    steps: [(d) => `
      -- SPEC decision 8: one row per grant, replaced by each rotation; the pair is AES-256-GCM ciphertext
      -- under a key derived from the replaced refresh token, which is never stored.
      CREATE TABLE refresh_token_grace (
        grant_id ${d.key} PRIMARY KEY REFERENCES grants(grant_id) ON DELETE CASCADE,
        previous_digest ${d.key} NOT NULL UNIQUE,
        sealed_successor TEXT NOT NULL,
        grace_expires_at ${d.time} NOT NULL
      );
      CREATE INDEX refresh_token_grace_by_expiry ON refresh_token_grace (grace_expires_at);
    `],
  },
  {
    // Issue 14: audit retention. Events stay append-only, except that the cleanup job may delete events
    // older than a cutoff it recorded first (GATEHOUSE_AUDIT_RETENTION_DAYS); cutoffs are append-only too.
    version: 10,
    name: 'audit retention',
    steps: [
      (d) => `CREATE TABLE audit_retention_cutoffs (cutoff_at ${d.time} NOT NULL, recorded_at ${d.time} NOT NULL);`,
      {
        sqlite: `
      CREATE TRIGGER audit_retention_cutoffs_no_update BEFORE UPDATE ON audit_retention_cutoffs BEGIN SELECT RAISE(ABORT, 'retention cutoffs are append-only'); END;
      CREATE TRIGGER audit_retention_cutoffs_no_delete BEFORE DELETE ON audit_retention_cutoffs BEGIN SELECT RAISE(ABORT, 'retention cutoffs are append-only'); END;
      DROP TRIGGER audit_events_no_delete;
      CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        WHEN OLD.at >= COALESCE((SELECT MAX(cutoff_at) FROM audit_retention_cutoffs), -9223372036854775808)
        BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;`,
        postgres: `
      CREATE FUNCTION audit_retention_cutoffs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'retention cutoffs are append-only' USING ERRCODE = 'insufficient_privilege';
        END;
      $$;
      CREATE TRIGGER audit_retention_cutoffs_no_change BEFORE UPDATE OR DELETE ON audit_retention_cutoffs
        FOR EACH ROW EXECUTE FUNCTION audit_retention_cutoffs_append_only();
      CREATE TRIGGER audit_retention_cutoffs_no_truncate BEFORE TRUNCATE ON audit_retention_cutoffs
        FOR EACH STATEMENT EXECUTE FUNCTION audit_retention_cutoffs_append_only();
      CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            IF OLD.at < COALESCE((SELECT max(cutoff_at) FROM audit_retention_cutoffs), -9223372036854775808) THEN
              RETURN OLD;
            END IF;
          END IF;
          RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
        END;
      $$;`,
      },
      'CREATE INDEX audit_events_by_at ON audit_events (at);',
    ],
  },
  {
    version: 11,
    name: 'user identities (upstream OpenID Provider accounts)',
    steps: [(d) => `
      -- Issue 10 §2: an upstream account (issuer, sub) linked to a directory user; one per user and issuer.
      CREATE TABLE user_identities (
        issuer ${d.key} NOT NULL,
        subject ${d.key} NOT NULL,
        user_id ${d.key} NOT NULL REFERENCES users(user_id),
        linked_at ${d.time} NOT NULL,
        last_sign_in_at ${d.time} NOT NULL,
        PRIMARY KEY (issuer, subject),
        UNIQUE (issuer, user_id)
      );
      CREATE INDEX user_identities_by_user ON user_identities (user_id);
    `],
  },
  {
    version: 12,
    name: 'local accounts: password links, TOTP second factors, recovery codes, pending logins',
    steps: [(d) => `
      -- Issue 10 §3: invitation and reset links, single use; only the token's SHA-256 is stored (SPEC decision 9).
      CREATE TABLE password_tokens (
        token_digest ${d.key} PRIMARY KEY,
        user_id ${d.key} NOT NULL REFERENCES users (user_id),
        purpose ${d.key} NOT NULL CHECK (purpose IN ('invitation', 'reset')),
        created_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL,
        used_at ${d.time}
      );
      CREATE INDEX password_tokens_by_user ON password_tokens (user_id, purpose);
      CREATE INDEX password_tokens_by_expiry ON password_tokens (expires_at);
      -- Issue 10 §3: one TOTP factor per user, its secret encrypted (AES-256-GCM), never plain.
      CREATE TABLE second_factors (
        user_id ${d.key} PRIMARY KEY REFERENCES users (user_id),
        secret_ciphertext ${d.key} NOT NULL,
        created_at ${d.time} NOT NULL,
        confirmed_at ${d.time},
        last_time_step ${d.bigint}
      );
      -- Recovery codes: digests only, each single use.
      CREATE TABLE recovery_codes (
        user_id ${d.key} NOT NULL REFERENCES users (user_id),
        code_digest ${d.key} NOT NULL,
        used_at ${d.time},
        PRIMARY KEY (user_id, code_digest)
      );
      -- A sign-in between its password and its second factor (the browser's id as a SHA-256 only).
      CREATE TABLE pending_logins (
        pending_digest ${d.key} PRIMARY KEY,
        user_id ${d.key} NOT NULL REFERENCES users (user_id),
        step ${d.key} NOT NULL CHECK (step IN ('verify', 'enrol')),
        return_to ${d.key} NOT NULL,
        created_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL,
        failures ${d.bigint} NOT NULL DEFAULT 0
      );
      CREATE INDEX pending_logins_by_expiry ON pending_logins (expires_at);
    `],
  },
  {
    version: 13,
    name: 'pushed authorization requests; clients that require them',
    steps: [(d) => `
      -- RFC 9126 §2.2: a pushed authorization request, single use, referred to by its request_uri, whose
      -- random part is stored only as its SHA-256 (SPEC decision 9).
      CREATE TABLE pushed_requests (
        request_uri_digest ${d.key} PRIMARY KEY,
        client_id ${d.key} NOT NULL,
        request_parameters ${d.json} NOT NULL,
        created_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL,
        consumed_at ${d.time}
      );
      CREATE INDEX pushed_requests_by_expiry ON pushed_requests (expires_at);
      -- RFC 9126 §6: require_pushed_authorization_requests client metadata.
      ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests ${d.bool} NOT NULL DEFAULT ${d.false};
    `],
  },
  {
    version: 14,
    name: 'platform administrators of the console; audit events by client',
    steps: [(d) => `
      -- Issue 13: directory users who may use the administrators' console at /admin.
      CREATE TABLE console_administrators (
        user_id ${d.key} PRIMARY KEY REFERENCES users(user_id),
        granted_at ${d.time} NOT NULL
      );
      -- Issue 13: the portal's integration activity and the console's audit filter list one client's events, newest first.
      CREATE INDEX audit_events_by_client ON audit_events (client_id, event_id);
    `],
  },
  {
    version: 15,
    name: 'partner webhooks: endpoints and the delivery queue',
    steps: [(d) => `
      -- Issue 15 §5: one webhook endpoint per client; the signing secret only encrypted (AES-256-GCM).
      CREATE TABLE webhook_endpoints (
        client_id ${d.key} PRIMARY KEY,
        url TEXT NOT NULL,
        secret_ciphertext TEXT NOT NULL,
        created_at ${d.time} NOT NULL
      );
      -- The durable delivery queue; next_attempt_at NULL once delivered or given up.
      CREATE TABLE webhook_deliveries (
        delivery_id ${d.key} PRIMARY KEY,
        client_id ${d.key} NOT NULL,
        event_type ${d.key} NOT NULL,
        payload TEXT NOT NULL,
        created_at ${d.time} NOT NULL,
        attempts ${d.bigint} NOT NULL DEFAULT 0,
        next_attempt_at ${d.time},
        last_attempt_at ${d.time},
        last_status INTEGER,
        delivered_at ${d.time}
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
      CREATE INDEX webhook_deliveries_by_client ON webhook_deliveries (client_id, created_at);
    `],
  },
  {
    version: 16,
    name: 'DPoP: key-bound tokens, clients that require proofs, seen proofs',
    steps: [(d) => `
      -- RFC 9449 §6.1: the thumbprint (cnf.jkt) of the DPoP key a token is bound to; NULL when not bound.
      ALTER TABLE tokens ADD COLUMN dpop_jkt TEXT;
      -- RFC 9449 §5.2: dpop_bound_access_tokens client metadata.
      ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens ${d.bool} NOT NULL DEFAULT ${d.false};
      -- RFC 9449 §11.1: accepted proofs (SHA-256 of thumbprint and jti) until their window ends: replay refused on every instance.
      CREATE TABLE dpop_proofs (
        proof_digest ${d.key} PRIMARY KEY,
        expires_at ${d.time} NOT NULL
      );
      CREATE INDEX dpop_proofs_by_expiry ON dpop_proofs (expires_at);
    `],
  },
  {
    version: 17,
    name: 'resource indicators: registered resources and the resources of codes, grants and access tokens',
    steps: [(d) => `
      -- RFC 8707 §2 (issue 15 §4): an API other than the default one, its indicator (the aud of its access
      -- tokens) and its scope family (space-separated scope names).
      CREATE TABLE resources (
        resource ${d.key} PRIMARY KEY,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at ${d.time} NOT NULL
      );
      -- The resources an authorization request named (space-separated; NULL: none, the default resource).
      ALTER TABLE authorization_codes ADD COLUMN resources TEXT;
      ALTER TABLE grants ADD COLUMN resources TEXT;
      -- The one resource an access token was issued for (NULL: the default resource).
      ALTER TABLE tokens ADD COLUMN audience TEXT;
    `],
  },
  {
    version: 18,
    name: 'API keys: integrated and standalone keys; integrations that offer them',
    steps: [(d) => `
      -- Issue 16: API keys, stored only as the HMAC digest of their value (SPEC decision 9).
      CREATE TABLE api_keys (
        key_id ${d.key} PRIMARY KEY,
        key_digest ${d.key} NOT NULL UNIQUE,
        display_prefix TEXT NOT NULL,
        key_type TEXT NOT NULL CHECK (key_type IN ('integrated', 'standalone')),
        name TEXT NOT NULL,
        client_id ${d.key},
        subject_type TEXT NOT NULL CHECK (subject_type IN ('company', 'organization')),
        subject_id ${d.key} NOT NULL,
        scopes TEXT NOT NULL,
        created_by_user_id ${d.key} NOT NULL,
        created_at ${d.time} NOT NULL,
        expires_at ${d.time},
        last_used_at ${d.time},
        revoked_at ${d.time},
        revocation_reason TEXT CHECK (revocation_reason IN ('revoked', 'deleted', 'rotated')),
        CHECK ((key_type = 'integrated') = (client_id IS NOT NULL))
      );
      -- One active key per company per integration (issue 16), across instances.
      CREATE UNIQUE INDEX api_keys_one_integrated ON api_keys (client_id, subject_type, subject_id) WHERE key_type = 'integrated' AND revoked_at IS NULL;
      CREATE INDEX api_keys_by_subject ON api_keys (subject_type, subject_id, created_at);
      -- Issue 16: the integrations an administrator allowed to offer integrated keys, with their scopes.
      CREATE TABLE api_key_integrations (
        client_id ${d.key} PRIMARY KEY,
        scopes TEXT NOT NULL,
        enabled_at ${d.time} NOT NULL,
        enabled_by TEXT NOT NULL
      );
    `],
  },
  {
    // Issue 12: the code exchange in ONE statement (postgres-storage.ts exchangeCode): this function takes the
    // locks and makes the checks that need a fresh view of the rows once locked (PL/pgSQL: each statement
    // of a VOLATILE function takes a new snapshot); the calling statement inserts the grant, its tokens and
    // the audit event and links the code, so a failure anywhere rolls all of it back and the code stays unused.
    // SQLite needs none: its exchange runs in one synchronous transaction.
    version: 20,
    name: 'code exchange in one statement: gatehouse_redeem_code',
    only: 'postgres',
    steps: [`
      CREATE OR REPLACE FUNCTION gatehouse_redeem_code(
        p_code_digest text, p_client_id text, p_grant_client_id text, p_subject_type text, p_subject_id text,
        p_now bigint, p_superseded_at bigint, p_consume boolean
      ) RETURNS TABLE (redeem_outcome text, replay_grant_id text) LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_code record;
        v_superseded text[];
      BEGIN
        -- Concurrent redemptions for one (client, subject) take turns, so the later one sees the earlier
        -- one's grant and supersedes it (SPEC decision 11); lock order: this lock, the code, the grants.
        PERFORM pg_advisory_xact_lock(hashtextextended('gatehouse.grant:' || p_grant_client_id || ':' || p_subject_type || ':' || p_subject_id, 0));
        SELECT c.client_id, c.consumed_at, c.replayed_at, c.grant_id, c.issued_at INTO v_code
          FROM authorization_codes c WHERE c.code_digest = p_code_digest FOR UPDATE;
        -- RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
        IF NOT FOUND OR (p_client_id IS NOT NULL AND v_code.client_id <> p_client_id) THEN
          RETURN QUERY SELECT 'unknown'::text, NULL::text;
          RETURN;
        END IF;
        IF p_consume THEN
          IF v_code.consumed_at IS NOT NULL THEN
            -- RFC 6749 §4.1.2: used before; marked replayed as authorizationCodes.consume does.
            UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, p_now) WHERE code_digest = p_code_digest;
            RETURN QUERY SELECT 'replayed'::text, v_code.grant_id::text;
            RETURN;
          END IF;
        ELSIF v_code.replayed_at IS NOT NULL OR v_code.grant_id IS NOT NULL THEN
          RETURN QUERY SELECT 'code_replayed'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 6: nothing newer happened to this (client, subject) since the code was issued.
        IF EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
            AND g.subject_id = p_subject_id AND (g.created_at > v_code.issued_at OR g.revoked_at > v_code.issued_at)) THEN
          IF p_consume THEN
            UPDATE authorization_codes SET consumed_at = p_now WHERE code_digest = p_code_digest;
          END IF;
          RETURN QUERY SELECT 'code_outdated'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 11: the previous active grant is superseded. Grant rows are locked first (lock order);
        -- the tokens statement after it sees every token a rotation of that grant committed meanwhile.
        WITH superseded AS (
          UPDATE grants g SET revoked_at = p_superseded_at, revocation_reason = 'superseded'
          WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL
          RETURNING g.grant_id
        ) SELECT array_agg(superseded.grant_id) INTO v_superseded FROM superseded;
        IF v_superseded IS NOT NULL THEN
          UPDATE tokens t SET revoked_at = p_superseded_at WHERE t.grant_id = ANY (v_superseded) AND t.revoked_at IS NULL;
          UPDATE grants g SET cleanup_after = (SELECT COALESCE(max(t.expires_at), 0) FROM tokens t WHERE t.grant_id = g.grant_id)
            WHERE g.grant_id = ANY (v_superseded);
        END IF;
        RETURN QUERY SELECT 'issued'::text, NULL::text;
      END
      $fn$;
    `],
  },
  {
    version: 21,
    name: 'partner webhooks: event subscriptions and delivery retention',
    steps: [`
      -- Issue 15 §5: which events an endpoint receives (space-separated event types; NULL = every event).
      ALTER TABLE webhook_endpoints ADD COLUMN event_types TEXT;
      -- Retention: finished deliveries (delivered or given up) are deleted by age, oldest first.
      CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at) WHERE next_attempt_at IS NULL;
    `],
  },
  {
    version: 22,
    name: 'branding-change review: the reviewed branding of a changed client',
    steps: [(d) => `
      -- Issue 13: a partner's change of a reviewed client's name, logo or URIs keeps the reviewed values
      -- here (logo bytes included) until an administrator approves (row dropped) or rejects (restored) it.
      CREATE TABLE client_branding_reviews (
        client_id ${d.key} PRIMARY KEY REFERENCES clients(client_id),
        reviewed ${d.json} NOT NULL,
        logo_content_type TEXT,
        logo_bytes ${d.bytes},
        logo_sha256 TEXT,
        kept_at ${d.time} NOT NULL
      );
    `],
  },
  {
    version: 23,
    name: 'partner teams: members with roles, and the clients each team shares',
    steps: [(d) => `
      -- Issue 13 "Partner teams": a developer belongs to at most one team; a team exists while it has members.
      CREATE TABLE partner_team_members (
        user_id ${d.key} PRIMARY KEY REFERENCES users(user_id),
        team_id ${d.key} NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
        added_at ${d.time} NOT NULL
      );
      CREATE INDEX partner_team_members_by_team ON partner_team_members (team_id);
      -- The team each portal client belongs to (a client without a row: its registering developer's team).
      CREATE TABLE partner_team_clients (
        client_id ${d.key} PRIMARY KEY REFERENCES clients(client_id),
        team_id ${d.key} NOT NULL
      );
      CREATE INDEX partner_team_clients_by_team ON partner_team_clients (team_id);
    `],
  },
  {
    version: 24,
    name: 'marketplace listing: a description and a category per client',
    steps: [`
      -- Issue 13 (End users, Marketplace): plain text of at most 500 characters, and one of MARKETPLACE_CATEGORIES
      -- (clients/marketplace-listing.ts); both optional, NULL = not given.
      ALTER TABLE clients ADD COLUMN description TEXT CHECK (description IS NULL OR length(description) <= 500);
      ALTER TABLE clients ADD COLUMN category TEXT CHECK (category IS NULL OR category IN ('accounting', 'payroll', 'crm', 'reporting', 'e-commerce', 'other'));
    `],
  },
  {
    version: 25,
    name: 'DPoP: authorization codes bound to a key (dpop_jkt)',
    steps: [`
      -- RFC 9449 §10: the JWK thumbprint the authorization request named; the code redeems only with a proof by that key.
      ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
    `],
  },
  {
    version: 26,
    name: 'clients: notify every change of a client row (client-record cache)',
    only: 'postgres',
    steps: [`
      -- Issue 12: instances cache client records (storage/client-cache.ts) and drop one when its row changes
      -- anywhere. NOTIFY is delivered at commit (never for a rolled-back change), to every connection that
      -- LISTENs on the channel in this database; the payload is the client_id. SQLite needs no trigger: a
      -- storage there checks PRAGMA data_version for other processes' writes.
      CREATE FUNCTION gatehouse_notify_client_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('gatehouse_clients', CASE WHEN TG_OP = 'DELETE' THEN OLD.client_id ELSE NEW.client_id END);
        IF TG_OP = 'UPDATE' AND OLD.client_id IS DISTINCT FROM NEW.client_id THEN
          PERFORM pg_notify('gatehouse_clients', OLD.client_id);
        END IF;
        RETURN NULL;
      END $$;
      CREATE TRIGGER clients_notify_change AFTER INSERT OR UPDATE OR DELETE ON clients
        FOR EACH ROW EXECUTE FUNCTION gatehouse_notify_client_change();
    `],
  },
  {
    version: 27,
    name: 'index pruning: indexes no hot path reads',
    steps: [
      `
      -- Issue 12: every rotation inserted two entries into tokens_by_client and moved one (the superseded
      -- access token's revoked_at); its one reader, tokens.revokeAccessTokensOfClient, now finds the tokens
      -- through the client's active grants (grants' client index, then tokens_by_grant).
      DROP INDEX tokens_by_client;`,
      {
        // SQLite: grants_by_client_subject serves the (client, subject) lookups grants_active was made for
        // (bench/index-usage-probe.ts shows no query plan using it).
        sqlite: 'DROP INDEX grants_active;',
        // PostgreSQL: grants_one_active (unique, same condition) starts with client_id and serves its queries.
        postgres: 'DROP INDEX grants_by_client;',
      },
    ],
  },
  {
    version: 28,
    name: 'resources: notify every change of the registered-resource catalogue (resource cache)',
    only: 'postgres',
    steps: [`
      -- Issue 12: instances cache the whole catalogue (storage/resource-cache.ts) and drop it when the table
      -- changes anywhere, as migration 26 does for clients. Once per statement, not per row: the catalogue
      -- is dropped whole, so which rows changed does not matter (TRUNCATE included). The payload is the
      -- statement's kind. SQLite needs no trigger: a storage there checks PRAGMA data_version.
      CREATE FUNCTION gatehouse_notify_resource_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('gatehouse_resources', TG_OP);
        RETURN NULL;
      END $$;
      CREATE TRIGGER resources_notify_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON resources
        FOR EACH STATEMENT EXECUTE FUNCTION gatehouse_notify_resource_change();
    `],
  },
  {
    version: 29,
    name: "grants: a user's active grants by index",
    steps: [`
      -- grants.listActive({ userId }) (the account page, the admin API's and console's user views) scanned
      -- every grant; an index on the active ones alone costs one entry per code exchange.
      CREATE INDEX grants_active_by_user ON grants (user_id) WHERE revoked_at IS NULL;`],
  },
  {
    version: 30,
    name: 'fewer index writes per rotation and code exchange: no unique index on tokens.token_id nor on refresh_token_grace.previous_digest',
    steps: [
      // Issue 12: every token written (two per rotation, two per code exchange) inserted a random UUID into the
      // unique index on token_id, a random page of it each time. Nothing looks tokens up by token_id any more
      // (the revocation feed reads it from tokens_revoked_access); it stays the public `jti`, a random UUID.
      {
        // SQLite cannot drop an inline UNIQUE constraint's index: the table is rebuilt as
        // sqlite.org/lang_altertable.html ("Making other kinds of table schema changes") describes, with the
        // columns in the order migrations 1, 2, 16 and 17 left them, and every index recreated. No table
        // refers to tokens and no trigger or view names it, so foreign keys may stay on.
        sqlite: `
      CREATE TABLE tokens_without_unique_id (
        token_digest TEXT PRIMARY KEY,
        token_id TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
        grant_id TEXT NOT NULL REFERENCES grants(grant_id),
        client_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        rotated_at INTEGER,
        revoked_at INTEGER,
        cleanup_after INTEGER,
        dpop_jkt TEXT,
        audience TEXT
      );
      INSERT INTO tokens_without_unique_id (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, cleanup_after, dpop_jkt, audience)
        SELECT token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, cleanup_after, dpop_jkt, audience FROM tokens;
      DROP TABLE tokens;
      ALTER TABLE tokens_without_unique_id RENAME TO tokens;
      CREATE INDEX tokens_by_grant ON tokens (grant_id, kind, expires_at);
      CREATE INDEX tokens_access_by_expiry ON tokens (expires_at) WHERE kind = 'access';
      CREATE INDEX tokens_refresh_cleanup ON tokens (COALESCE(cleanup_after, expires_at)) WHERE kind = 'refresh';
      CREATE INDEX tokens_revoked_access ON tokens (revoked_at, token_id) WHERE kind = 'access' AND revoked_at IS NOT NULL;`,
        postgres: 'ALTER TABLE tokens DROP CONSTRAINT tokens_token_id_key;',
      },
      // SPEC decision 8, issue 12: each rotation moved its grant's grace record in the unique index on
      // previous_digest (a random digest: a random page). findGraceSuccessor now reaches the record through
      // the presented token's row (tokens' primary key) and the grant id (this table's primary key). SQLite
      // rebuilds the table as above, with migration 9's columns and its expiry index.
      {
        sqlite: `
      CREATE TABLE refresh_token_grace_by_grant (
        grant_id TEXT PRIMARY KEY REFERENCES grants(grant_id) ON DELETE CASCADE,
        previous_digest TEXT NOT NULL,
        sealed_successor TEXT NOT NULL,
        grace_expires_at INTEGER NOT NULL
      );
      INSERT INTO refresh_token_grace_by_grant (grant_id, previous_digest, sealed_successor, grace_expires_at)
        SELECT grant_id, previous_digest, sealed_successor, grace_expires_at FROM refresh_token_grace;
      DROP TABLE refresh_token_grace;
      ALTER TABLE refresh_token_grace_by_grant RENAME TO refresh_token_grace;
      CREATE INDEX refresh_token_grace_by_expiry ON refresh_token_grace (grace_expires_at);`,
        postgres: 'ALTER TABLE refresh_token_grace DROP CONSTRAINT refresh_token_grace_previous_digest_key;',
      },
    ],
  },
  {
    version: 31,
    name: 'clients, resources: change notifications that name their schema',
    only: 'postgres',
    steps: [`
      -- Issue 12: NOTIFY channels are database-wide, not per schema, so deployments (and test schemas) in one
      -- database dropped each other's cached clients and catalogues. The triggers of 26 and 28 now also notify
      -- new channels with a JSON payload naming TG_TABLE_SCHEMA (JSON: any schema name and client_id reads
      -- back unambiguously), and listeners ignore other schemas' changes (client-cache.ts). They still notify
      -- the old channels with the old payloads: an instance older than 31 still running during a rolling
      -- upgrade listens there, and a schema-tagged payload would make it drop the wrong key (a stale client).
      -- The lock waits for writers whose trigger already ran the old function (notifying the old channels
      -- only) to commit, so no change before this commit is announced after it where new instances do not
      -- listen: they start listening only once this migration has committed.
      LOCK TABLE clients, resources IN SHARE ROW EXCLUSIVE MODE;
      CREATE OR REPLACE FUNCTION gatehouse_notify_client_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        changed_id text := CASE WHEN TG_OP = 'DELETE' THEN OLD.client_id ELSE NEW.client_id END;
      BEGIN
        PERFORM pg_notify('gatehouse_client_changes', json_build_object('schema', TG_TABLE_SCHEMA, 'client_id', changed_id)::text);
        PERFORM pg_notify('gatehouse_clients', changed_id);
        IF TG_OP = 'UPDATE' AND OLD.client_id IS DISTINCT FROM NEW.client_id THEN
          PERFORM pg_notify('gatehouse_client_changes', json_build_object('schema', TG_TABLE_SCHEMA, 'client_id', OLD.client_id)::text);
          PERFORM pg_notify('gatehouse_clients', OLD.client_id);
        END IF;
        RETURN NULL;
      END $$;
      CREATE OR REPLACE FUNCTION gatehouse_notify_resource_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('gatehouse_resource_changes', json_build_object('schema', TG_TABLE_SCHEMA, 'operation', TG_OP)::text);
        PERFORM pg_notify('gatehouse_resources', TG_OP);
        RETURN NULL;
      END $$;
    `],
  },
  {
    version: 32,
    name: "grants: a (client, subject)'s history searched by revocation and by creation time",
    steps: [`
      -- Issue 12, SPEC decision 6: a code redeems only if no grant of its (client, subject) is live, was revoked
      -- after the code was issued, or was created after it (stores/grants.ts, gatehouse_redeem_code). On the
      -- (client, subject) index alone that read visited every grant the pair ever had: superseded grants stay
      -- until their tokens expire, so an app that connects at every sign-in builds a long history (300 grants:
      -- 32 µs per read). With the time after the pair, each condition is one range of one index.
      DROP INDEX grants_by_client_subject;
      CREATE INDEX grants_by_client_subject_revoked ON grants (client_id, subject_type, subject_id, revoked_at);
      CREATE INDEX grants_by_client_subject_created ON grants (client_id, subject_type, subject_id, created_at);
    `, {
      postgres: `
      -- gatehouse_redeem_code (migration 20) as it was, but for its SPEC decision 6 check.
      CREATE OR REPLACE FUNCTION gatehouse_redeem_code(
        p_code_digest text, p_client_id text, p_grant_client_id text, p_subject_type text, p_subject_id text,
        p_now bigint, p_superseded_at bigint, p_consume boolean
      ) RETURNS TABLE (redeem_outcome text, replay_grant_id text) LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_code record;
        v_superseded text[];
      BEGIN
        -- Concurrent redemptions for one (client, subject) take turns, so the later one sees the earlier
        -- one's grant and supersedes it (SPEC decision 11); lock order: this lock, the code, the grants.
        PERFORM pg_advisory_xact_lock(hashtextextended('gatehouse.grant:' || p_grant_client_id || ':' || p_subject_type || ':' || p_subject_id, 0));
        SELECT c.client_id, c.consumed_at, c.replayed_at, c.grant_id, c.issued_at INTO v_code
          FROM authorization_codes c WHERE c.code_digest = p_code_digest FOR UPDATE;
        -- RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
        IF NOT FOUND OR (p_client_id IS NOT NULL AND v_code.client_id <> p_client_id) THEN
          RETURN QUERY SELECT 'unknown'::text, NULL::text;
          RETURN;
        END IF;
        IF p_consume THEN
          IF v_code.consumed_at IS NOT NULL THEN
            -- RFC 6749 §4.1.2: used before; marked replayed as authorizationCodes.consume does.
            UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, p_now) WHERE code_digest = p_code_digest;
            RETURN QUERY SELECT 'replayed'::text, v_code.grant_id::text;
            RETURN;
          END IF;
        ELSIF v_code.replayed_at IS NOT NULL OR v_code.grant_id IS NOT NULL THEN
          RETURN QUERY SELECT 'code_replayed'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 6: nothing newer happened to this (client, subject) since the code was issued.
        -- Two EXISTS, one per index of migration 32, each a seek (one OR scanned the pair's whole history).
        IF EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
              AND g.subject_id = p_subject_id AND g.created_at > v_code.issued_at)
            OR EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
              AND g.subject_id = p_subject_id AND g.revoked_at > v_code.issued_at) THEN
          IF p_consume THEN
            UPDATE authorization_codes SET consumed_at = p_now WHERE code_digest = p_code_digest;
          END IF;
          RETURN QUERY SELECT 'code_outdated'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 11: the previous active grant is superseded. Grant rows are locked first (lock order);
        -- the tokens statement after it sees every token a rotation of that grant committed meanwhile.
        WITH superseded AS (
          UPDATE grants g SET revoked_at = p_superseded_at, revocation_reason = 'superseded'
          WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL
          RETURNING g.grant_id
        ) SELECT array_agg(superseded.grant_id) INTO v_superseded FROM superseded;
        IF v_superseded IS NOT NULL THEN
          UPDATE tokens t SET revoked_at = p_superseded_at WHERE t.grant_id = ANY (v_superseded) AND t.revoked_at IS NULL;
          UPDATE grants g SET cleanup_after = (SELECT COALESCE(max(t.expires_at), 0) FROM tokens t WHERE t.grant_id = g.grant_id)
            WHERE g.grant_id = ANY (v_superseded);
        END IF;
        RETURN QUERY SELECT 'issued'::text, NULL::text;
      END
      $fn$;
    `,
    }],
  },
  {
    version: 33,
    name: 'grants: never revoked before created, so the (client, subject) index by creation time goes',
    steps: [`
      -- Issue 12, SPEC decision 6: every revocation now stores max(now, created_at) (stores/grant-revocation.ts,
      -- stores/grants.ts, gatehouse_redeem_code below), so a grant created after a code was issued is live or
      -- revoked after it: the check needs only grants_by_client_subject_revoked, and each code exchange writes
      -- one index fewer. A grant stamped revoked before its creation (a clock set back) gets its creation time.
      UPDATE grants SET revoked_at = created_at WHERE revoked_at < created_at;
      DROP INDEX grants_by_client_subject_created;
    `, {
      postgres: `
      -- gatehouse_redeem_code (migration 32) as it was, but for its SPEC decision 6 check and the supersede's
      -- revocation time (never before the grant's creation).
      CREATE OR REPLACE FUNCTION gatehouse_redeem_code(
        p_code_digest text, p_client_id text, p_grant_client_id text, p_subject_type text, p_subject_id text,
        p_now bigint, p_superseded_at bigint, p_consume boolean
      ) RETURNS TABLE (redeem_outcome text, replay_grant_id text) LANGUAGE plpgsql VOLATILE AS $fn$
      DECLARE
        v_code record;
        v_superseded text[];
      BEGIN
        -- Concurrent redemptions for one (client, subject) take turns, so the later one sees the earlier
        -- one's grant and supersedes it (SPEC decision 11); lock order: this lock, the code, the grants.
        PERFORM pg_advisory_xact_lock(hashtextextended('gatehouse.grant:' || p_grant_client_id || ':' || p_subject_type || ':' || p_subject_id, 0));
        SELECT c.client_id, c.consumed_at, c.replayed_at, c.grant_id, c.issued_at INTO v_code
          FROM authorization_codes c WHERE c.code_digest = p_code_digest FOR UPDATE;
        -- RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
        IF NOT FOUND OR (p_client_id IS NOT NULL AND v_code.client_id <> p_client_id) THEN
          RETURN QUERY SELECT 'unknown'::text, NULL::text;
          RETURN;
        END IF;
        IF p_consume THEN
          IF v_code.consumed_at IS NOT NULL THEN
            -- RFC 6749 §4.1.2: used before; marked replayed as authorizationCodes.consume does.
            UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, p_now) WHERE code_digest = p_code_digest;
            RETURN QUERY SELECT 'replayed'::text, v_code.grant_id::text;
            RETURN;
          END IF;
        ELSIF v_code.replayed_at IS NOT NULL OR v_code.grant_id IS NOT NULL THEN
          RETURN QUERY SELECT 'code_replayed'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 6: nothing newer happened to this (client, subject) since the code was issued: no grant
        -- revoked since, nor a live one created since (a grant created since and revoked has revoked_at >=
        -- created_at, so the first EXISTS finds it). Two ranges of grants_by_client_subject_revoked, each a seek.
        IF EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
              AND g.subject_id = p_subject_id AND g.revoked_at > v_code.issued_at)
            OR EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
              AND g.subject_id = p_subject_id AND g.revoked_at IS NULL AND g.created_at > v_code.issued_at) THEN
          IF p_consume THEN
            UPDATE authorization_codes SET consumed_at = p_now WHERE code_digest = p_code_digest;
          END IF;
          RETURN QUERY SELECT 'code_outdated'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 11: the previous active grant is superseded. Grant rows are locked first (lock order);
        -- the tokens statement after it sees every token a rotation of that grant committed meanwhile.
        WITH superseded AS (
          UPDATE grants g SET revoked_at = GREATEST(p_superseded_at, g.created_at), revocation_reason = 'superseded'
          WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL
          RETURNING g.grant_id
        ) SELECT array_agg(superseded.grant_id) INTO v_superseded FROM superseded;
        IF v_superseded IS NOT NULL THEN
          UPDATE tokens t SET revoked_at = p_superseded_at WHERE t.grant_id = ANY (v_superseded) AND t.revoked_at IS NULL;
          UPDATE grants g SET cleanup_after = (SELECT COALESCE(max(t.expires_at), 0) FROM tokens t WHERE t.grant_id = g.grant_id)
            WHERE g.grant_id = ANY (v_superseded);
        END IF;
        RETURN QUERY SELECT 'issued'::text, NULL::text;
      END
      $fn$;
    `,
    }],
  },
  {
    version: 34,
    name: 'gatehouse_redeem_code: its keyed lookups by index whatever the tables held when it was planned',
    only: 'postgres',
    steps: [`
      -- Issue 12: PL/pgSQL keeps each statement's plan for the connection's life, generic after five calls,
      -- and replans only when the table's statistics change (an ANALYZE). Planned while tokens was small
      -- (a new deployment, before autovacuum's first ANALYZE), the supersede's token update
      -- (\`grant_id = ANY (v_superseded)\`) kept a sequential scan of tokens as tokens grew: in a 15 s flow
      -- benchmark on a new schema 4,579 scans read 24.7 million rows, 2.7 ms of PostgreSQL CPU per flow
      -- instead of ~1.2. Every statement here is a keyed lookup with its index (the code's primary key,
      -- grants_by_client_subject_revoked, tokens_by_grant, the grants' primary key), so within this function
      -- a sequential scan is never the better plan: it is costed out (enable_seqscan only prices it, it still
      -- runs where no index applies).
      ALTER FUNCTION gatehouse_redeem_code(text, text, text, text, text, bigint, bigint, boolean) SET enable_seqscan = off;
    `],
  },
  {
    version: 35,
    name: "one grants index by subject; SQLite's code indexes by subject and user whole, not unredeemed only",
    steps: [`
      -- Issue 12: a code exchange inserted its grant into two indexes that both begin with a subject (a
      -- company's or organization's id: a random place in each at any size): grants_by_client_subject_revoked
      -- for the SPEC decision 6 check and the supersede, grants_active_by_subject for a subject's grants (the
      -- directory, listActive). One index serves both: a subject's live grants are one range (revoked_at IS
      -- NULL), one per client at most; a (client, subject)'s check reads the subject's live grants and those
      -- revoked since the code was issued, a few rows, never its history (sqlite/query-plans.test.ts).
      CREATE INDEX grants_by_subject ON grants (subject_type, subject_id, revoked_at, client_id);
      DROP INDEX grants_by_client_subject_revoked;
      DROP INDEX grants_active_by_subject;
    `, {
      // SQLite maintains a partial index whenever a column of its condition changes: redeeming a code (grant_id
      // set) removed it from both, two more random pages per exchange. Whole, they are untouched by it (their
      // columns never change); a day's codes (the retention) of one user or subject is what voidCodes reads.
      // PostgreSQL keeps them partial: an UPDATE that is not HOT (grant_id is indexed) inserts the new row version
      // into every index whose condition it meets, so there a whole index would cost the exchange an entry.
      sqlite: `
      DROP INDEX authorization_codes_unredeemed_by_subject;
      DROP INDEX authorization_codes_unredeemed_by_user;
      CREATE INDEX authorization_codes_by_subject ON authorization_codes (subject_type, subject_id);
      CREATE INDEX authorization_codes_by_user ON authorization_codes (user_id);
    `,
    }],
  },
  {
    // Issue 12. PostgreSQL may read a partial index whole, as a smaller table, for any query whose WHERE implies
    // the index's condition. On an empty table every plan costs about the same, and the generic plans a pooled
    // connection keeps (a named statement's, a PL/pgSQL function's) were made there, in a new deployment or a
    // new schema, and kept until the table's next ANALYZE (never, with autovacuum off): the benchmark caught
    // one connection of ten whose `gatehouse_redeem_code` found the pair's live grant by reading all of the
    // user's live grants through grants_active_by_user (2,422 redemptions read 20.7 million index entries; the
    // bench user holds every grant), and the rotation's "revoke the superseded access token" planned on an empty
    // tokens table reads tokens_access_by_expiry whole. Each condition now also requires the index's first
    // column (or expression) to be non-null: a query that compares that column (=, <, <=: strict operators) still
    // implies it, one that does not cannot use the index. The column is NOT NULL in every row (or, for the
    // cleanup indexes, in every row the index is for), so each index holds the same entries as before.
    // SQLite's planner never reads a partial index whole to filter (sqlite/query-plans.test.ts holds its plans).
    version: 36,
    name: 'partial indexes only a query on their first column can use: no generic plan made on an empty table reads one whole',
    only: 'postgres',
    steps: [`
      DROP INDEX grants_active_by_user;
      CREATE INDEX grants_active_by_user ON grants (user_id) WHERE revoked_at IS NULL AND user_id IS NOT NULL;
      DROP INDEX grants_one_active;
      CREATE UNIQUE INDEX grants_one_active ON grants (client_id, subject_type, subject_id) WHERE revoked_at IS NULL AND client_id IS NOT NULL;
      DROP INDEX grants_revoked_cleanup;
      CREATE INDEX grants_revoked_cleanup ON grants (cleanup_after) WHERE revoked_at IS NOT NULL AND cleanup_after IS NOT NULL;
      DROP INDEX tokens_access_by_expiry;
      CREATE INDEX tokens_access_by_expiry ON tokens (expires_at) WHERE kind = 'access' AND expires_at IS NOT NULL;
      DROP INDEX tokens_refresh_cleanup;
      CREATE INDEX tokens_refresh_cleanup ON tokens (COALESCE(cleanup_after, expires_at))
        WHERE kind = 'refresh' AND COALESCE(cleanup_after, expires_at) IS NOT NULL;
      DROP INDEX authorization_codes_unredeemed_by_subject;
      CREATE INDEX authorization_codes_unredeemed_by_subject ON authorization_codes (subject_type, subject_id) WHERE grant_id IS NULL AND subject_type IS NOT NULL;
      DROP INDEX authorization_codes_unredeemed_by_user;
      CREATE INDEX authorization_codes_unredeemed_by_user ON authorization_codes (user_id) WHERE grant_id IS NULL AND user_id IS NOT NULL;
      DROP INDEX webhook_deliveries_finished;
      CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at) WHERE next_attempt_at IS NULL AND created_at IS NOT NULL;
      DROP INDEX api_keys_one_integrated;
      CREATE UNIQUE INDEX api_keys_one_integrated ON api_keys (client_id, subject_type, subject_id)
        WHERE key_type = 'integrated' AND revoked_at IS NULL AND client_id IS NOT NULL;
    `],
  },
  {
    // Issue 12 (PostgreSQL group commit): the refresh rotations that wait for a connection while others are
    // in flight go to PostgreSQL together, as one call of this function: one round trip, one statement, one
    // commit (one WAL flush) for all of them, instead of one each (stores/refresh-rotation-batches.ts). Each
    // rotation is the compare-and-swap the single statement made (SPEC decision 8): its grant row locked
    // first (the caller orders a batch by grant id, so two batches lock their grants in the same order),
    // the presented token flipped only if it is still current, the grant's access tokens revoked; then the
    // new tokens, audit events and grace records of every rotation that happened, one statement each.
    // PL/pgSQL takes a new snapshot for each statement, so each rotation's UPDATEs see every row committed
    // before its grant lock was granted. Parameters (arrays, one entry per rotation unless said): the
    // presented digests, their grants, the rotations' times; the new tokens' ten columns, audiences and
    // DPoP thumbprints with each token's rotation (1-based); the audit events' six columns (type NULL: none);
    // the grace successors (sealed NULL: none). Returns whether each rotation happened.
    version: 37,
    name: 'refresh rotations in batches: gatehouse_rotate_refresh_tokens',
    only: 'postgres',
    steps: [`
      CREATE FUNCTION gatehouse_rotate_refresh_tokens(
        p_digests text[], p_now bigint[],
        p_token_digest text[], p_token_id text[], p_kind text[], p_token_grant_id text[], p_client_id text[], p_scope text[],
        p_issued_at bigint[], p_expires_at bigint[], p_rotated_at bigint[], p_revoked_at bigint[], p_audience text[], p_dpop_jkt text[],
        p_token_rotation int[],
        p_audit_type text[], p_audit_at bigint[], p_audit_actor text[], p_audit_client_id text[], p_audit_grant_id text[], p_audit_details text[],
        p_sealed_successor text[], p_grace_expires_at bigint[]
      ) RETURNS boolean[] LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $fn$
      DECLARE
        v_rotated boolean[] := array_fill(false, ARRAY[cardinality(p_digests)]);
        v_grants text[] := array_fill(NULL::text, ARRAY[cardinality(p_digests)]);
        v_done int[] := '{}';
        v_grant text;
      BEGIN
        FOR i IN 1 .. cardinality(p_digests) LOOP
          -- The grant row lock: rotations of one grant (on any instance) take turns; a revocation is before or after.
          SELECT g.grant_id INTO v_grant FROM tokens t JOIN grants g ON g.grant_id = t.grant_id
            WHERE t.token_digest = p_digests[i] AND t.kind = 'refresh' AND g.revoked_at IS NULL
            FOR NO KEY UPDATE OF g;
          CONTINUE WHEN NOT FOUND;
          -- SPEC decision 8: only a token still current is rotated (exactly one use succeeds).
          UPDATE tokens SET rotated_at = p_now[i]
            WHERE token_digest = p_digests[i] AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL AND grant_id = v_grant;
          CONTINUE WHEN NOT FOUND;
          -- SPEC §3: "all previous tokens are invalidated immediately": the grant's access tokens too.
          UPDATE tokens SET revoked_at = p_now[i] WHERE grant_id = v_grant AND kind = 'access' AND revoked_at IS NULL;
          v_rotated[i] := true;
          v_grants[i] := v_grant;
          v_done := v_done || i;
        END LOOP;
        IF cardinality(v_done) = 0 THEN
          RETURN v_rotated;
        END IF;
        INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
          SELECT u.token_digest, u.token_id, u.kind, u.grant_id, u.client_id, u.scope, u.issued_at, u.expires_at, u.rotated_at, u.revoked_at, u.audience, u.dpop_jkt
          FROM unnest(p_token_digest, p_token_id, p_kind, p_token_grant_id, p_client_id, p_scope, p_issued_at, p_expires_at, p_rotated_at,
            p_revoked_at, p_audience, p_dpop_jkt, p_token_rotation)
            AS u(token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt, rotation)
          WHERE u.rotation = ANY (v_done);
        INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT p_audit_type[i], p_audit_at[i], p_audit_actor[i], p_audit_client_id[i], p_audit_grant_id[i], p_audit_details[i]::jsonb
          FROM unnest(v_done) AS i WHERE p_audit_type[i] IS NOT NULL;
        -- SPEC decision 8: the grace record follows the grant's last rotation.
        INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at)
          SELECT v_grants[i], p_digests[i], p_sealed_successor[i], p_grace_expires_at[i] FROM unnest(v_done) AS i
          WHERE p_sealed_successor[i] IS NOT NULL
          ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest,
            sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at;
        DELETE FROM refresh_token_grace
          WHERE grant_id = ANY (ARRAY(SELECT v_grants[i] FROM unnest(v_done) AS i WHERE p_sealed_successor[i] IS NULL));
        RETURN v_rotated;
      END
      $fn$;
    `],
  },
  {
    // Issue 12 (PostgreSQL group commit): the code exchanges that wait for a connection while others are in
    // flight go to PostgreSQL together, as one call of this function (stores/grants.ts, `exchangeReadyCode`):
    // one round trip, one statement, one commit for all of them. Each exchange is what the single statement
    // gatehouse_exchange_ready_code made: the client's code read, checked against the token request, and only
    // then redeemed by gatehouse_redeem_code (its locks, single use, SPEC decisions 6 and 11) with the grant
    // stored and the code linked; then one INSERT for every issued exchange's tokens and one for their audit
    // events. The codes are handled in (client, subject) order, the order of gatehouse_redeem_code's advisory
    // locks, so two batches take them in the same order. Parameters (arrays, one entry per exchange unless
    // said): code digest, client, now, redirect URI, PKCE challenge, DPoP thumbprint, the default resource's
    // scopes (space-separated), the new grant's id; the tokens' digests, ids, kinds, expiries, thumbprints
    // and exchange (1-based); the audit events' six columns (type NULL: none). One row per exchange: its
    // position, the code as read (NULL: no such code for the client), the outcome (NULL: not ready), and the
    // replayed code's grant.
    version: 38,
    name: 'code exchanges in batches: gatehouse_exchange_ready_codes',
    only: 'postgres',
    steps: [`
      CREATE FUNCTION gatehouse_exchange_ready_codes(
        p_code_digests text[], p_client_ids text[], p_now bigint[], p_redirect_uris text[], p_code_challenges text[], p_dpop_jkts text[],
        p_default_scopes text[], p_grant_ids text[],
        p_token_digest text[], p_token_id text[], p_kind text[], p_expires_at bigint[], p_token_jkt text[], p_token_exchange int[],
        p_audit_type text[], p_audit_at bigint[], p_audit_actor text[], p_audit_client_id text[], p_audit_grant_id text[], p_audit_details text[]
      ) RETURNS TABLE (exchange int, code jsonb, redeem_outcome text, replay_grant_id text)
      LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $fn$
      DECLARE
        v_count int := cardinality(p_code_digests);
        v_codes authorization_codes[] := array_fill(NULL::authorization_codes, ARRAY[v_count]);
        v_issued int[] := '{}';
        v_code authorization_codes;
        v_redeemed record;
        i int;
      BEGIN
        FOR i IN SELECT u.i FROM unnest(p_code_digests, p_client_ids) WITH ORDINALITY AS u(digest, client_id, i)
            LEFT JOIN authorization_codes c ON c.code_digest = u.digest AND c.client_id = u.client_id
            ORDER BY c.client_id, c.subject_type, c.subject_id, u.i LOOP
          SELECT * INTO v_code FROM authorization_codes c WHERE c.code_digest = p_code_digests[i] AND c.client_id = p_client_ids[i];
          IF NOT FOUND THEN
            exchange := i; code := NULL; redeem_outcome := NULL; replay_grant_id := NULL;
            RETURN NEXT;
            CONTINUE;
          END IF;
          exchange := i; code := to_jsonb(v_code); redeem_outcome := NULL; replay_grant_id := NULL;
          -- The token request's checks (stores/grants.ts meetsReadyConditions): otherwise nothing changes here.
          IF v_code.consumed_at IS NULL AND p_now[i] < v_code.expires_at AND v_code.redirect_uri = p_redirect_uris[i]
              AND v_code.code_challenge IS NOT DISTINCT FROM p_code_challenges[i] AND (v_code.dpop_jkt IS NULL OR v_code.dpop_jkt = p_dpop_jkts[i])
              AND v_code.resources IS NULL AND v_code.scope <> '' AND string_to_array(v_code.scope, ' ') <@ string_to_array(p_default_scopes[i], ' ') THEN
            SELECT * INTO v_redeemed FROM gatehouse_redeem_code(p_code_digests[i], p_client_ids[i], v_code.client_id, v_code.subject_type,
              v_code.subject_id, p_now[i], p_now[i], true);
            redeem_outcome := v_redeemed.redeem_outcome;
            replay_grant_id := v_redeemed.replay_grant_id;
            IF v_redeemed.redeem_outcome = 'issued' THEN
              INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at, revoked_at, revocation_reason, resources)
                VALUES (p_grant_ids[i], v_code.client_id, v_code.user_id, v_code.subject_type, v_code.subject_id, v_code.scope, p_now[i], NULL, NULL, NULL);
              UPDATE authorization_codes SET consumed_at = p_now[i], grant_id = p_grant_ids[i] WHERE code_digest = p_code_digests[i];
              v_codes[i] := v_code;
              v_issued := v_issued || i;
            END IF;
          END IF;
          RETURN NEXT;
        END LOOP;
        IF cardinality(v_issued) = 0 THEN
          RETURN;
        END IF;
        INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
          SELECT t.digest, t.id, t.kind, p_grant_ids[t.exchange], (v_codes[t.exchange]).client_id, (v_codes[t.exchange]).scope, p_now[t.exchange],
            t.expires_at, NULL, NULL, NULL, t.jkt
          FROM unnest(p_token_digest, p_token_id, p_kind, p_expires_at, p_token_jkt, p_token_exchange) AS t(digest, id, kind, expires_at, jkt, exchange)
          WHERE t.exchange = ANY (v_issued);
        INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT p_audit_type[e], p_audit_at[e], p_audit_actor[e], p_audit_client_id[e], p_audit_grant_id[e],
            p_audit_details[e]::jsonb || jsonb_build_object('scope', (v_codes[e]).scope)
          FROM unnest(v_issued) AS e WHERE p_audit_type[e] IS NOT NULL;
        RETURN;
      END
      $fn$;
    `],
  },
  {
    // Issue 12. A PL/pgSQL statement with parameters is planned again for each call while its custom plans
    // cost less than the generic one, and over unnest() of a one- or two-element array they always do: the
    // flow's exchanges (batches of one or two) spent 11% of PostgreSQL's CPU in the planner (perf, bench/README.md
    // "fifteenth session"). Generic plans are costed once per connection; `enable_seqscan = off` (37, 38) keeps
    // a plan built against an empty table on its indexes. Statements of functions these call (gatehouse_redeem_code)
    // run under the same setting while the batch runs.
    version: 39,
    name: 'generic plans in the batch functions',
    only: 'postgres',
    steps: [`
      ALTER FUNCTION gatehouse_exchange_ready_codes SET plan_cache_mode = force_generic_plan;
      ALTER FUNCTION gatehouse_rotate_refresh_tokens SET plan_cache_mode = force_generic_plan;
    `],
  },
  {
    // Issue 12, "flat with size". A rotation revokes its grant's access tokens (`… WHERE grant_id = ? AND kind =
    // 'access' AND revoked_at IS NULL`); with revoked_at outside the index, each access token the grant ever
    // had was read from the table to be skipped, the exchange's one at a random page of a large file: 1.11 of
    // a rotation's 4.39 page reads at 1,000,000 grants (bench/page-reads-probe.ts), 0.11 with revoked_at here.
    // At the end, so that cleanup's searches by (grant_id, kind, expires_at) keep their prefix; the revocation
    // rewrites the entry in the grant's leaf, which the rotation's new tokens write anyway.
    version: 40,
    name: 'tokens_by_grant holds revoked_at',
    steps: [`
      DROP INDEX tokens_by_grant;
      CREATE INDEX tokens_by_grant ON tokens (grant_id, kind, expires_at, revoked_at);
    `],
  },
  {
    // Issue 12, "PostgreSQL in one round trip": a refresh whose token this instance does not remember (the
    // usual case: it comes an access token's lifetime after the rotation that issued it) read the token in
    // one round trip and rotated it in a second. This function does both for a batch of the refreshes that
    // name no scope, resource or DPoP proof (stores/tokens.ts `rotateReadyRefreshToken`): each token read
    // with its grant and its client's status, checked as the refresh grant checks it (meetsReadyRefreshConditions),
    // and only then gatehouse_rotate_refresh_tokens's grant lock and compare-and-swap (SPEC decision 8); then
    // one INSERT for the new tokens (the presented token's grant, client and scope), one for the audit events
    // (their details given `scope` and `previous_refresh_token_id`), and the grace records. Tokens are handled
    // in grant order (COLLATE "C", as the other batch function's JavaScript sort), so two batches lock grant
    // rows in the same order. Parameters (arrays, one entry per rotation unless said): presented digests,
    // times, clients, the default resource's scopes (space-separated); the new tokens' digests, ids, kinds,
    // expiries, DPoP thumbprints and rotation (1-based); the audit events' type (NULL: none), time, actor and
    // details; the grace successors (sealed NULL: none). One row per token found: its rotation, the row as
    // read (the token's columns, the grant's as g_…, the client's status as c_status), and the outcome
    // (NULL: not ready, nothing changed; 'not_current': a concurrent rotation or revocation came first).
    version: 41,
    name: 'refresh in one round trip: gatehouse_rotate_ready_refresh_tokens',
    only: 'postgres',
    steps: [`
      CREATE FUNCTION gatehouse_rotate_ready_refresh_tokens(
        p_digests text[], p_now bigint[], p_client_ids text[], p_default_scopes text[],
        p_token_digest text[], p_token_id text[], p_kind text[], p_expires_at bigint[], p_token_jkt text[], p_token_rotation int[],
        p_audit_type text[], p_audit_at bigint[], p_audit_actor text[], p_audit_details text[],
        p_sealed_successor text[], p_grace_expires_at bigint[]
      ) RETURNS TABLE (ready_rotation int, token_row jsonb, ready_outcome text)
      LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        v_count int := cardinality(p_digests);
        v_grants text[] := array_fill(NULL::text, ARRAY[v_count]);
        v_scopes text[] := array_fill(NULL::text, ARRAY[v_count]);
        v_token_ids text[] := array_fill(NULL::text, ARRAY[v_count]);
        v_done int[] := '{}';
        r record;
      BEGIN
        FOR r IN SELECT d.i::int AS i, t.token_digest, t.token_id, t.kind, t.grant_id, t.client_id, t.scope, t.issued_at, t.expires_at,
              t.rotated_at, t.revoked_at, t.audience, t.dpop_jkt, g.grant_id AS g_grant_id, g.client_id AS g_client_id, g.user_id AS g_user_id,
              g.subject_type AS g_subject_type, g.subject_id AS g_subject_id, g.scope AS g_scope, g.created_at AS g_created_at,
              g.revoked_at AS g_revoked_at, g.revocation_reason AS g_revocation_reason, g.resources AS g_resources, c.status AS c_status
            FROM unnest(p_digests) WITH ORDINALITY AS d(digest, i)
            JOIN tokens t ON t.token_digest = d.digest JOIN grants g ON g.grant_id = t.grant_id JOIN clients c ON c.client_id = t.client_id
            ORDER BY g.grant_id COLLATE "C", d.i LOOP
          ready_rotation := r.i; token_row := to_jsonb(r) - 'i'; ready_outcome := NULL;
          -- The refresh grant's checks (stores/tokens.ts meetsReadyRefreshConditions; the client still active):
          -- otherwise nothing changes here.
          IF r.kind = 'refresh' AND r.client_id = p_client_ids[r.i] AND r.c_status = 'active' AND r.rotated_at IS NULL AND r.revoked_at IS NULL
              AND p_now[r.i] < r.expires_at AND r.dpop_jkt IS NULL AND r.g_revoked_at IS NULL AND r.g_resources IS NULL AND r.scope <> ''
              AND string_to_array(r.scope, ' ') <@ string_to_array(p_default_scopes[r.i], ' ') THEN
            ready_outcome := 'not_current';
            -- The grant row lock: rotations of one grant (on any instance) take turns; a revocation is before or after.
            PERFORM 1 FROM grants g WHERE g.grant_id = r.grant_id AND g.revoked_at IS NULL FOR NO KEY UPDATE;
            IF FOUND THEN
              -- SPEC decision 8: only a token still current is rotated (exactly one use succeeds).
              UPDATE tokens SET rotated_at = p_now[r.i]
                WHERE token_digest = r.token_digest AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL;
              IF FOUND THEN
                -- SPEC §3: "all previous tokens are invalidated immediately": the grant's access tokens too.
                UPDATE tokens SET revoked_at = p_now[r.i] WHERE grant_id = r.grant_id AND kind = 'access' AND revoked_at IS NULL;
                ready_outcome := 'rotated';
                v_done := v_done || r.i;
                v_grants[r.i] := r.grant_id;
                v_scopes[r.i] := r.scope;
                v_token_ids[r.i] := r.token_id;
              END IF;
            END IF;
          END IF;
          RETURN NEXT;
        END LOOP;
        IF cardinality(v_done) = 0 THEN
          RETURN;
        END IF;
        INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
          SELECT u.digest, u.id, u.kind, v_grants[u.rot], p_client_ids[u.rot], v_scopes[u.rot], p_now[u.rot], u.expires_at, NULL, NULL, NULL, u.jkt
          FROM unnest(p_token_digest, p_token_id, p_kind, p_expires_at, p_token_jkt, p_token_rotation) AS u(digest, id, kind, expires_at, jkt, rot)
          WHERE u.rot = ANY (v_done);
        INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT p_audit_type[e], p_audit_at[e], p_audit_actor[e], p_client_ids[e], v_grants[e],
            jsonb_build_object('scope', v_scopes[e], 'previous_refresh_token_id', v_token_ids[e]) || p_audit_details[e]::jsonb
          FROM unnest(v_done) AS e WHERE p_audit_type[e] IS NOT NULL;
        -- SPEC decision 8: the grace record follows the grant's last rotation.
        INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at)
          SELECT v_grants[e], p_digests[e], p_sealed_successor[e], p_grace_expires_at[e] FROM unnest(v_done) AS e
          WHERE p_sealed_successor[e] IS NOT NULL
          ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest,
            sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at;
        DELETE FROM refresh_token_grace
          WHERE grant_id = ANY (ARRAY(SELECT v_grants[e] FROM unnest(v_done) AS e WHERE p_sealed_successor[e] IS NULL));
        RETURN;
      END
      $fn$;
    `],
  },
  {
    // Issue 12, "PostgreSQL in one round trip", for the revocation endpoint (RFC 7009): revoking a refresh
    // token revokes its grant (SPEC decision 15), which took a transaction of four round trips (BEGIN; the
    // grant with its audit event; the tokens; COMMIT). This function is that transaction as one statement;
    // every PostgreSQL revocation of a grant runs it (stores/grants.ts: alone for the endpoint's, in a
    // transaction with the webhook delivery built from the revoked row for the others). The grant row first
    // (lock order: whatever touches several tokens of a grant locks the grant row first); then the tokens,
    // in a statement of their own: a VOLATILE function's statements each take a fresh snapshot in READ
    // COMMITTED, so it sees every token committed before the grant's lock was granted (a rotation's new
    // refresh token included); `cleanup_after` after that. Planned as 41's statements are (generic, no
    // sequential scans: postgres/empty-table-plans.test.ts checks them on empty tables). Parameters: the
    // grant, the time (seconds), the reason; the audit event's six columns (type NULL: none, recorded only
    // when revoked now). Returns whether this call revoked the grant (false: revoked before, or no such grant).
    version: 42,
    name: 'grant revocation in one statement: gatehouse_revoke_grant',
    only: 'postgres',
    steps: [`
      CREATE FUNCTION gatehouse_revoke_grant(
        p_grant_id text, p_now bigint, p_reason text,
        p_audit_type text, p_audit_at bigint, p_audit_actor text, p_audit_client_id text, p_audit_grant_id text, p_audit_details text
      ) RETURNS boolean LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        v_revoked boolean;
      BEGIN
        -- Never before the grant's creation (a clock set back meanwhile; migration 33).
        UPDATE grants SET revoked_at = GREATEST(p_now, created_at), revocation_reason = p_reason
          WHERE grant_id = p_grant_id AND revoked_at IS NULL;
        v_revoked := FOUND;
        -- Also for a grant revoked before: a revoked grant gains no tokens, so once its latest token has
        -- expired cleanup may consider it.
        WITH revoked AS (UPDATE tokens SET revoked_at = p_now WHERE grant_id = p_grant_id AND revoked_at IS NULL)
          UPDATE grants SET cleanup_after = (SELECT COALESCE(max(t.expires_at), 0) FROM tokens t WHERE t.grant_id = grants.grant_id)
          WHERE grant_id = p_grant_id AND revoked_at IS NOT NULL;
        IF NOT v_revoked THEN
          RETURN false;
        END IF;
        -- Issue 15 §5: the audit event commits with the revocation, and only if this call revoked the grant.
        IF p_audit_type IS NOT NULL THEN
          INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
            VALUES (p_audit_type, p_audit_at, p_audit_actor, p_audit_client_id, p_audit_grant_id, p_audit_details::jsonb);
        END IF;
        RETURN true;
      END
      $fn$;
    `],
  },
  {
    // SQLite: the e-mail as users are found by it (stores/users.ts `emailKey`: lowercased in JavaScript,
    // every Unicode letter). NOCASE folds ASCII only, so a user whose address held 'Ø' or 'É' could never
    // sign in (login lowercases what is typed), and 'Émile@' and 'émile@' were two users. Existing rows are
    // keyed in code, below; the unique index stands beside NOCASE's (which still holds for ASCII).
    // PostgreSQL keeps comparing by lower(email) and its unique index on it (version 1): a key computed by
    // JavaScript would differ from lower() for some letters (final sigma, dotted İ; a C-locale database
    // folds ASCII only) and lock such users out. The column exists there too, so that one INSERT serves both
    // databases, and is filled alike; nothing reads it on PostgreSQL.
    version: 43,
    name: 'users.email_key: e-mails compared by one Unicode lowercase on SQLite',
    steps: [
      'ALTER TABLE users ADD COLUMN email_key TEXT;',
      { postgres: 'UPDATE users SET email_key = lower(email);' },
    ],
    sqliteRun(db) {
      // Two users whose addresses differ only in non-ASCII case (possible until now) would share a key: the
      // one whose address is already lowercase keeps it (the only one that could sign in before), else the
      // first by id; the other gets none (found by id, not by e-mail, until its address is changed).
      const rows = (db.prepare('SELECT user_id, email FROM users ORDER BY user_id').all() as { user_id: string; email: string }[])
        .sort((a, b) => Number(b.email === b.email.toLowerCase()) - Number(a.email === a.email.toLowerCase()));
      const update = db.prepare('UPDATE users SET email_key = ? WHERE user_id = ?');
      const taken = new Set<string>();
      for (const row of rows) {
        const key = row.email.toLowerCase();
        if (taken.has(key)) continue;
        taken.add(key);
        update.run(key, row.user_id);
      }
      db.exec('CREATE UNIQUE INDEX users_email_key ON users (email_key)');
    },
  },
  {
    version: 44,
    name: 'pushed_requests.reauthenticated_session_digest: prompt=login continued by the session its login started',
    steps: ['ALTER TABLE pushed_requests ADD COLUMN reauthenticated_session_digest TEXT;'],
  },
  {
    version: 45,
    name: 'login_sessions.authenticated_at: when the person last proved who they are (prompt=login, max_age)',
    steps: [(d) => `ALTER TABLE login_sessions ADD COLUMN authenticated_at ${d.time};`],
  },
  {
    version: 46,
    name: 'pending_logins.first_step_stale: a second step after an identity provider that asked for no credentials',
    steps: [(d) => `ALTER TABLE pending_logins ADD COLUMN first_step_stale ${d.bool} NOT NULL DEFAULT ${d.false};`],
  },
  {
    // SPEC decisions 10 and 13 (found by a concurrency review): a code exchange or a refresh that authenticated
    // its client just before a suspension, a deletion or a secret rotation with revoke_grants committed went on
    // to store a grant or tokens those changes never revoked (a grant made with a rotated-out secret survived
    // the rotation meant to cut it off). Each function gets the client as its authentication read it (storage.ts
    // AuthenticatedClient: check it?, and the digest of the secret it presented) and refuses when the client no longer accepts
    // it (gatehouse_client_accepts): the exchange under the client row's SHARE lock, a rotation after its grant
    // row's lock; the rotations say why they did not rotate. New overloads, the earlier ones kept for instances
    // of the previous release during a rolling deploy. Generic plans and no sequential scans, as 34, 39 and 41 set.
    version: 47,
    name: 'exchanges and rotations re-check their client: AuthenticatedClient',
    only: 'postgres',
    steps: [`
      -- storage.ts AuthenticatedClient: whether client row c still accepts a request that authenticated with the
      -- secret whose stored digest is p_secret_digest (null: a public client): active, and that digest its secret
      -- or its previous one within the overlap (SPEC decision 10: a rotation with overlap refuses no request in
      -- flight, and a previous secret stops as it would at authentication). Never NULL: IF NOT … must refuse.
      CREATE FUNCTION gatehouse_client_accepts(c clients, p_secret_digest text, p_now bigint) RETURNS boolean
      LANGUAGE sql IMMUTABLE AS $fn$
        SELECT c.status = 'active' AND (c.secret_digest IS NOT DISTINCT FROM p_secret_digest
          OR COALESCE(c.previous_secret_digest = p_secret_digest AND c.previous_secret_expires_at > p_now, false))
      $fn$;
      CREATE FUNCTION gatehouse_redeem_code(
        p_code_digest text, p_client_id text, p_grant_client_id text, p_subject_type text, p_subject_id text,
        p_now bigint, p_superseded_at bigint, p_consume boolean, p_check_client boolean, p_client_secret_digest text
      ) RETURNS TABLE (redeem_outcome text, replay_grant_id text) LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $fn$
      DECLARE
        v_code record;
        v_superseded text[];
      BEGIN
        -- Concurrent redemptions for one (client, subject) take turns, so the later one sees the earlier
        -- one's grant and supersedes it (SPEC decision 11); lock order: this lock, the code, the grants.
        PERFORM pg_advisory_xact_lock(hashtextextended('gatehouse.grant:' || p_grant_client_id || ':' || p_subject_type || ':' || p_subject_id, 0));
        SELECT c.client_id, c.consumed_at, c.replayed_at, c.grant_id, c.issued_at INTO v_code
          FROM authorization_codes c WHERE c.code_digest = p_code_digest FOR UPDATE;
        -- RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
        IF NOT FOUND OR (p_client_id IS NOT NULL AND v_code.client_id <> p_client_id) THEN
          RETURN QUERY SELECT 'unknown'::text, NULL::text;
          RETURN;
        END IF;
        -- AuthenticatedClient under a SHARE lock, which an administrator's change of the client (UPDATE) and the
        -- revocations of suspension, deletion and revoke_grants (FOR NO KEY UPDATE) wait for, and which waits for
        -- them and then judges what they committed (KEY SHARE, the foreign key's, would lock the row as it was
        -- before an UPDATE of other columns and judge that).
        IF p_check_client THEN
          PERFORM 1 FROM clients c WHERE c.client_id = p_grant_client_id AND gatehouse_client_accepts(c, p_client_secret_digest, p_now) FOR SHARE;
          IF NOT FOUND THEN
            RETURN QUERY SELECT 'client_changed'::text, NULL::text;
            RETURN;
          END IF;
        END IF;
        IF p_consume THEN
          IF v_code.consumed_at IS NOT NULL THEN
            -- RFC 6749 §4.1.2: used before; marked replayed as authorizationCodes.consume does.
            UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, p_now) WHERE code_digest = p_code_digest;
            RETURN QUERY SELECT 'replayed'::text, v_code.grant_id::text;
            RETURN;
          END IF;
        ELSIF v_code.replayed_at IS NOT NULL OR v_code.grant_id IS NOT NULL THEN
          RETURN QUERY SELECT 'code_replayed'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 6: nothing newer happened to this (client, subject) since the code was issued: no grant
        -- revoked since, nor a live one created since (a grant created since and revoked has revoked_at >=
        -- created_at, so the first EXISTS finds it). Two ranges of grants_by_client_subject_revoked, each a seek.
        IF EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
              AND g.subject_id = p_subject_id AND g.revoked_at > v_code.issued_at)
            OR EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
              AND g.subject_id = p_subject_id AND g.revoked_at IS NULL AND g.created_at > v_code.issued_at) THEN
          IF p_consume THEN
            UPDATE authorization_codes SET consumed_at = p_now WHERE code_digest = p_code_digest;
          END IF;
          RETURN QUERY SELECT 'code_outdated'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 11: the previous active grant is superseded. Grant rows are locked first (lock order);
        -- the tokens statement after it sees every token a rotation of that grant committed meanwhile.
        WITH superseded AS (
          UPDATE grants g SET revoked_at = GREATEST(p_superseded_at, g.created_at), revocation_reason = 'superseded'
          WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL
          RETURNING g.grant_id
        ) SELECT array_agg(superseded.grant_id) INTO v_superseded FROM superseded;
        IF v_superseded IS NOT NULL THEN
          UPDATE tokens t SET revoked_at = p_superseded_at WHERE t.grant_id = ANY (v_superseded) AND t.revoked_at IS NULL;
          UPDATE grants g SET cleanup_after = (SELECT COALESCE(max(t.expires_at), 0) FROM tokens t WHERE t.grant_id = g.grant_id)
            WHERE g.grant_id = ANY (v_superseded);
        END IF;
        RETURN QUERY SELECT 'issued'::text, NULL::text;
      END
      $fn$;
      CREATE FUNCTION gatehouse_exchange_ready_codes(
        p_code_digests text[], p_client_ids text[], p_now bigint[], p_redirect_uris text[], p_code_challenges text[], p_dpop_jkts text[],
        p_default_scopes text[], p_grant_ids text[],
        p_token_digest text[], p_token_id text[], p_kind text[], p_expires_at bigint[], p_token_jkt text[], p_token_exchange int[],
        p_audit_type text[], p_audit_at bigint[], p_audit_actor text[], p_audit_client_id text[], p_audit_grant_id text[], p_audit_details text[],
        p_check_clients boolean[], p_client_secret_digests text[]
      ) RETURNS TABLE (exchange int, code jsonb, redeem_outcome text, replay_grant_id text)
      LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        v_count int := cardinality(p_code_digests);
        v_codes authorization_codes[] := array_fill(NULL::authorization_codes, ARRAY[v_count]);
        v_issued int[] := '{}';
        v_code authorization_codes;
        v_redeemed record;
        i int;
      BEGIN
        FOR i IN SELECT u.i FROM unnest(p_code_digests, p_client_ids) WITH ORDINALITY AS u(digest, client_id, i)
            LEFT JOIN authorization_codes c ON c.code_digest = u.digest AND c.client_id = u.client_id
            ORDER BY c.client_id, c.subject_type, c.subject_id, u.i LOOP
          SELECT * INTO v_code FROM authorization_codes c WHERE c.code_digest = p_code_digests[i] AND c.client_id = p_client_ids[i];
          IF NOT FOUND THEN
            exchange := i; code := NULL; redeem_outcome := NULL; replay_grant_id := NULL;
            RETURN NEXT;
            CONTINUE;
          END IF;
          exchange := i; code := to_jsonb(v_code); redeem_outcome := NULL; replay_grant_id := NULL;
          -- The token request's checks (stores/grants.ts meetsReadyConditions): otherwise nothing changes here.
          IF v_code.consumed_at IS NULL AND p_now[i] < v_code.expires_at AND v_code.redirect_uri = p_redirect_uris[i]
              AND v_code.code_challenge IS NOT DISTINCT FROM p_code_challenges[i] AND (v_code.dpop_jkt IS NULL OR v_code.dpop_jkt = p_dpop_jkts[i])
              AND v_code.resources IS NULL AND v_code.scope <> '' AND string_to_array(v_code.scope, ' ') <@ string_to_array(p_default_scopes[i], ' ') THEN
            SELECT * INTO v_redeemed FROM gatehouse_redeem_code(p_code_digests[i], p_client_ids[i], v_code.client_id, v_code.subject_type,
              v_code.subject_id, p_now[i], p_now[i], true, p_check_clients[i], p_client_secret_digests[i]);
            redeem_outcome := v_redeemed.redeem_outcome;
            replay_grant_id := v_redeemed.replay_grant_id;
            IF v_redeemed.redeem_outcome = 'issued' THEN
              INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at, revoked_at, revocation_reason, resources)
                VALUES (p_grant_ids[i], v_code.client_id, v_code.user_id, v_code.subject_type, v_code.subject_id, v_code.scope, p_now[i], NULL, NULL, NULL);
              UPDATE authorization_codes SET consumed_at = p_now[i], grant_id = p_grant_ids[i] WHERE code_digest = p_code_digests[i];
              v_codes[i] := v_code;
              v_issued := v_issued || i;
            END IF;
          END IF;
          RETURN NEXT;
        END LOOP;
        IF cardinality(v_issued) = 0 THEN
          RETURN;
        END IF;
        INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
          SELECT t.digest, t.id, t.kind, p_grant_ids[t.exchange], (v_codes[t.exchange]).client_id, (v_codes[t.exchange]).scope, p_now[t.exchange],
            t.expires_at, NULL, NULL, NULL, t.jkt
          FROM unnest(p_token_digest, p_token_id, p_kind, p_expires_at, p_token_jkt, p_token_exchange) AS t(digest, id, kind, expires_at, jkt, exchange)
          WHERE t.exchange = ANY (v_issued);
        INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT p_audit_type[e], p_audit_at[e], p_audit_actor[e], p_audit_client_id[e], p_audit_grant_id[e],
            p_audit_details[e]::jsonb || jsonb_build_object('scope', (v_codes[e]).scope)
          FROM unnest(v_issued) AS e WHERE p_audit_type[e] IS NOT NULL;
        RETURN;
      END
      $fn$;
      CREATE FUNCTION gatehouse_rotate_ready_refresh_tokens(
        p_digests text[], p_now bigint[], p_client_ids text[], p_default_scopes text[],
        p_token_digest text[], p_token_id text[], p_kind text[], p_expires_at bigint[], p_token_jkt text[], p_token_rotation int[],
        p_audit_type text[], p_audit_at bigint[], p_audit_actor text[], p_audit_details text[],
        p_sealed_successor text[], p_grace_expires_at bigint[], p_check_clients boolean[], p_client_secret_digests text[]
      ) RETURNS TABLE (ready_rotation int, token_row jsonb, ready_outcome text)
      LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        v_count int := cardinality(p_digests);
        v_grants text[] := array_fill(NULL::text, ARRAY[v_count]);
        v_scopes text[] := array_fill(NULL::text, ARRAY[v_count]);
        v_token_ids text[] := array_fill(NULL::text, ARRAY[v_count]);
        v_done int[] := '{}';
        v_locked boolean;
        r record;
      BEGIN
        FOR r IN SELECT d.i::int AS i, t.token_digest, t.token_id, t.kind, t.grant_id, t.client_id, t.scope, t.issued_at, t.expires_at,
              t.rotated_at, t.revoked_at, t.audience, t.dpop_jkt, g.grant_id AS g_grant_id, g.client_id AS g_client_id, g.user_id AS g_user_id,
              g.subject_type AS g_subject_type, g.subject_id AS g_subject_id, g.scope AS g_scope, g.created_at AS g_created_at,
              g.revoked_at AS g_revoked_at, g.revocation_reason AS g_revocation_reason, g.resources AS g_resources, c.status AS c_status,
              gatehouse_client_accepts(c, p_client_secret_digests[d.i], p_now[d.i]) AS c_accepts
            FROM unnest(p_digests) WITH ORDINALITY AS d(digest, i)
            JOIN tokens t ON t.token_digest = d.digest JOIN grants g ON g.grant_id = t.grant_id JOIN clients c ON c.client_id = t.client_id
            ORDER BY g.grant_id COLLATE "C", d.i LOOP
          ready_rotation := r.i; token_row := to_jsonb(r) - 'i' - 'c_accepts'; ready_outcome := NULL;
          -- storage.ts AuthenticatedClient: the token's client no longer accepting the request refuses it, as
          -- 'client_changed' (never 'not_current', which the refresh grant takes for reuse and revokes).
          IF p_check_clients[r.i] AND r.client_id = p_client_ids[r.i] AND NOT r.c_accepts THEN
            ready_outcome := 'client_changed';
          -- The refresh grant's checks (stores/tokens.ts meetsReadyRefreshConditions; the client still active):
          -- otherwise nothing changes here.
          ELSIF r.kind = 'refresh' AND r.client_id = p_client_ids[r.i] AND r.c_status = 'active' AND r.rotated_at IS NULL AND r.revoked_at IS NULL
              AND p_now[r.i] < r.expires_at AND r.dpop_jkt IS NULL AND r.g_revoked_at IS NULL AND r.g_resources IS NULL AND r.scope <> ''
              AND string_to_array(r.scope, ' ') <@ string_to_array(p_default_scopes[r.i], ' ') THEN
            ready_outcome := 'not_current';
            -- The grant row lock: rotations of one grant (on any instance) take turns; a revocation is before or after.
            PERFORM 1 FROM grants g WHERE g.grant_id = r.grant_id AND g.revoked_at IS NULL FOR NO KEY UPDATE;
            v_locked := FOUND;
            -- AuthenticatedClient again after the grant's lock (whether or not the grant is still live: a deletion
            -- revokes it), in a statement of its own (a fresh snapshot): a change committed since the read refuses;
            -- one after it waits for this commit (its revocation locks the client's grants first).
            IF p_check_clients[r.i] AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.client_id = r.client_id
                AND gatehouse_client_accepts(c, p_client_secret_digests[r.i], p_now[r.i])) THEN
              ready_outcome := 'client_changed';
            ELSIF v_locked THEN
              -- SPEC decision 8: only a token still current is rotated (exactly one use succeeds).
              UPDATE tokens SET rotated_at = p_now[r.i]
                WHERE token_digest = r.token_digest AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL;
              IF FOUND THEN
                -- SPEC §3: "all previous tokens are invalidated immediately": the grant's access tokens too.
                UPDATE tokens SET revoked_at = p_now[r.i] WHERE grant_id = r.grant_id AND kind = 'access' AND revoked_at IS NULL;
                ready_outcome := 'rotated';
                v_done := v_done || r.i;
                v_grants[r.i] := r.grant_id;
                v_scopes[r.i] := r.scope;
                v_token_ids[r.i] := r.token_id;
              END IF;
            END IF;
          END IF;
          RETURN NEXT;
        END LOOP;
        IF cardinality(v_done) = 0 THEN
          RETURN;
        END IF;
        INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
          SELECT u.digest, u.id, u.kind, v_grants[u.rot], p_client_ids[u.rot], v_scopes[u.rot], p_now[u.rot], u.expires_at, NULL, NULL, NULL, u.jkt
          FROM unnest(p_token_digest, p_token_id, p_kind, p_expires_at, p_token_jkt, p_token_rotation) AS u(digest, id, kind, expires_at, jkt, rot)
          WHERE u.rot = ANY (v_done);
        INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT p_audit_type[e], p_audit_at[e], p_audit_actor[e], p_client_ids[e], v_grants[e],
            jsonb_build_object('scope', v_scopes[e], 'previous_refresh_token_id', v_token_ids[e]) || p_audit_details[e]::jsonb
          FROM unnest(v_done) AS e WHERE p_audit_type[e] IS NOT NULL;
        -- SPEC decision 8: the grace record follows the grant's last rotation.
        INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at)
          SELECT v_grants[e], p_digests[e], p_sealed_successor[e], p_grace_expires_at[e] FROM unnest(v_done) AS e
          WHERE p_sealed_successor[e] IS NOT NULL
          ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest,
            sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at;
        DELETE FROM refresh_token_grace
          WHERE grant_id = ANY (ARRAY(SELECT v_grants[e] FROM unnest(v_done) AS e WHERE p_sealed_successor[e] IS NULL));
        RETURN;
      END
      $fn$;
      CREATE FUNCTION gatehouse_rotate_refresh_tokens(
        p_digests text[], p_now bigint[],
        p_token_digest text[], p_token_id text[], p_kind text[], p_token_grant_id text[], p_client_id text[], p_scope text[],
        p_issued_at bigint[], p_expires_at bigint[], p_rotated_at bigint[], p_revoked_at bigint[], p_audience text[], p_dpop_jkt text[],
        p_token_rotation int[],
        p_audit_type text[], p_audit_at bigint[], p_audit_actor text[], p_audit_client_id text[], p_audit_grant_id text[], p_audit_details text[],
        p_sealed_successor text[], p_grace_expires_at bigint[], p_check_clients boolean[], p_client_secret_digests text[]
      ) RETURNS text[] LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        v_rotated text[] := array_fill('not_current'::text, ARRAY[cardinality(p_digests)]);
        v_locked boolean;
        v_grants text[] := array_fill(NULL::text, ARRAY[cardinality(p_digests)]);
        v_done int[] := '{}';
        v_grant text;
      BEGIN
        FOR i IN 1 .. cardinality(p_digests) LOOP
          -- The grant row lock: rotations of one grant (on any instance) take turns; a revocation is before or after.
          SELECT g.grant_id INTO v_grant FROM tokens t JOIN grants g ON g.grant_id = t.grant_id
            WHERE t.token_digest = p_digests[i] AND t.kind = 'refresh' AND g.revoked_at IS NULL
            FOR NO KEY UPDATE OF g;
          v_locked := FOUND;
          -- storage.ts AuthenticatedClient after the grant's lock (whether or not the grant is still live: a
          -- deletion revokes it), in a statement of its own: a client no longer accepting the request rotates
          -- nothing, and says so ('client_changed': no reuse).
          IF p_check_clients[i] AND NOT EXISTS (SELECT 1 FROM tokens t JOIN clients c ON c.client_id = t.client_id
              WHERE t.token_digest = p_digests[i] AND gatehouse_client_accepts(c, p_client_secret_digests[i], p_now[i])) THEN
            v_rotated[i] := 'client_changed';
            CONTINUE;
          END IF;
          CONTINUE WHEN NOT v_locked;
          -- SPEC decision 8: only a token still current is rotated (exactly one use succeeds).
          UPDATE tokens SET rotated_at = p_now[i]
            WHERE token_digest = p_digests[i] AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL AND grant_id = v_grant;
          CONTINUE WHEN NOT FOUND;
          -- SPEC §3: "all previous tokens are invalidated immediately": the grant's access tokens too.
          UPDATE tokens SET revoked_at = p_now[i] WHERE grant_id = v_grant AND kind = 'access' AND revoked_at IS NULL;
          v_rotated[i] := 'rotated';
          v_grants[i] := v_grant;
          v_done := v_done || i;
        END LOOP;
        IF cardinality(v_done) = 0 THEN
          RETURN v_rotated;
        END IF;
        INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
          SELECT u.token_digest, u.token_id, u.kind, u.grant_id, u.client_id, u.scope, u.issued_at, u.expires_at, u.rotated_at, u.revoked_at, u.audience, u.dpop_jkt
          FROM unnest(p_token_digest, p_token_id, p_kind, p_token_grant_id, p_client_id, p_scope, p_issued_at, p_expires_at, p_rotated_at,
            p_revoked_at, p_audience, p_dpop_jkt, p_token_rotation)
            AS u(token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt, rotation)
          WHERE u.rotation = ANY (v_done);
        INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT p_audit_type[i], p_audit_at[i], p_audit_actor[i], p_audit_client_id[i], p_audit_grant_id[i], p_audit_details[i]::jsonb
          FROM unnest(v_done) AS i WHERE p_audit_type[i] IS NOT NULL;
        -- SPEC decision 8: the grace record follows the grant's last rotation.
        INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at)
          SELECT v_grants[i], p_digests[i], p_sealed_successor[i], p_grace_expires_at[i] FROM unnest(v_done) AS i
          WHERE p_sealed_successor[i] IS NOT NULL
          ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest,
            sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at;
        DELETE FROM refresh_token_grace
          WHERE grant_id = ANY (ARRAY(SELECT v_grants[i] FROM unnest(v_done) AS i WHERE p_sealed_successor[i] IS NULL));
        RETURN v_rotated;
      END
      $fn$;
    `],
  },
  {
    // SPEC decision 6 in commit order (found by a black-box review, then its review): times are whole seconds, and
    // a grant is stamped with its redemption's clock as the request began, so an event in the second a code was
    // issued did not count as newer (a code issued in the same second as a newer code redeemed first still
    // redeemed, superseding the newer grant; a Disconnect in that second did not stop it), nor did a grant
    // committed after the code but stamped a second earlier; and a grant committed before the code but stamped a
    // second later refused it. Each code now records, as it is written, its (client, subject)'s live grant (the
    // smallest id of the live ones, '' for none) and how many of the pair's grants are stamped within the 300 s
    // before its second; a redemption finding another live grant or more such grants refuses it, and judges it by
    // nothing else. Two more index seeks in the code's insert. NULL: a code written before this version (or by an
    // instance of the previous release), judged by the seconds as before. PostgreSQL: the current overload of
    // gatehouse_redeem_code (47's) replaced in place, so gatehouse_exchange_ready_codes calls it too; the overload
    // kept for a rolling deploy judges by seconds.
    version: 48,
    name: 'authorization_codes.active_grant_at_issue, recent_grants_at_issue: SPEC decision 6 in commit order',
    steps: [
      (d) => `ALTER TABLE authorization_codes ADD COLUMN active_grant_at_issue ${d.key};`,
      (d) => `ALTER TABLE authorization_codes ADD COLUMN recent_grants_at_issue ${d.bigint};`,
      { postgres: `
      CREATE OR REPLACE FUNCTION gatehouse_redeem_code(
        p_code_digest text, p_client_id text, p_grant_client_id text, p_subject_type text, p_subject_id text,
        p_now bigint, p_superseded_at bigint, p_consume boolean, p_check_client boolean, p_client_secret_digest text
      ) RETURNS TABLE (redeem_outcome text, replay_grant_id text) LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $fn$
      DECLARE
        v_code record;
        v_superseded text[];
      BEGIN
        -- Concurrent redemptions for one (client, subject) take turns, so the later one sees the earlier
        -- one's grant and supersedes it (SPEC decision 11); lock order: this lock, the code, the grants.
        PERFORM pg_advisory_xact_lock(hashtextextended('gatehouse.grant:' || p_grant_client_id || ':' || p_subject_type || ':' || p_subject_id, 0));
        SELECT c.client_id, c.consumed_at, c.replayed_at, c.grant_id, c.issued_at, c.active_grant_at_issue, c.recent_grants_at_issue INTO v_code
          FROM authorization_codes c WHERE c.code_digest = p_code_digest FOR UPDATE;
        -- RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
        IF NOT FOUND OR (p_client_id IS NOT NULL AND v_code.client_id <> p_client_id) THEN
          RETURN QUERY SELECT 'unknown'::text, NULL::text;
          RETURN;
        END IF;
        -- AuthenticatedClient under a SHARE lock, which an administrator's change of the client (UPDATE) and the
        -- revocations of suspension, deletion and revoke_grants (FOR NO KEY UPDATE) wait for, and which waits for
        -- them and then judges what they committed (KEY SHARE, the foreign key's, would lock the row as it was
        -- before an UPDATE of other columns and judge that).
        IF p_check_client THEN
          PERFORM 1 FROM clients c WHERE c.client_id = p_grant_client_id AND gatehouse_client_accepts(c, p_client_secret_digest, p_now) FOR SHARE;
          IF NOT FOUND THEN
            RETURN QUERY SELECT 'client_changed'::text, NULL::text;
            RETURN;
          END IF;
        END IF;
        IF p_consume THEN
          IF v_code.consumed_at IS NOT NULL THEN
            -- RFC 6749 §4.1.2: used before; marked replayed as authorizationCodes.consume does.
            UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, p_now) WHERE code_digest = p_code_digest;
            RETURN QUERY SELECT 'replayed'::text, v_code.grant_id::text;
            RETURN;
          END IF;
        ELSIF v_code.replayed_at IS NOT NULL OR v_code.grant_id IS NOT NULL THEN
          RETURN QUERY SELECT 'code_replayed'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 6: nothing newer happened to this (client, subject) since the code was written. A code
        -- written since migration 48 is judged by what it saw then, in commit order (stores/authorization-codes.ts
        -- AT_ISSUE): the pair's live grant is still that one ('' none), and no more of its grants are stamped within
        -- the 300 s before the code's second (RECENT_GRANTS_WINDOW_SECONDS) than it counted (a grant created since
        -- is live or revoked since). A code written before 48 (NULL): no grant revoked after its second, nor a live
        -- one created after it (a grant created since and revoked has revoked_at >= created_at). Seeks of
        -- grants_by_client_subject_revoked.
        IF (v_code.active_grant_at_issue IS NULL OR v_code.recent_grants_at_issue IS NULL) AND (
              EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
                AND g.subject_id = p_subject_id AND g.revoked_at > v_code.issued_at)
              OR EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
                AND g.subject_id = p_subject_id AND g.revoked_at IS NULL AND g.created_at > v_code.issued_at))
            OR (v_code.active_grant_at_issue IS NOT NULL AND v_code.recent_grants_at_issue IS NOT NULL AND (
              v_code.active_grant_at_issue <> COALESCE((SELECT min(g.grant_id) FROM grants g WHERE g.client_id = p_grant_client_id
                AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL), '')
              OR v_code.recent_grants_at_issue < (SELECT count(*) FROM grants g WHERE g.client_id = p_grant_client_id
                AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL AND g.created_at >= v_code.issued_at - 300)
                + (SELECT count(*) FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
                AND g.subject_id = p_subject_id AND g.revoked_at >= v_code.issued_at - 300 AND g.created_at >= v_code.issued_at - 300))) THEN
          IF p_consume THEN
            UPDATE authorization_codes SET consumed_at = p_now WHERE code_digest = p_code_digest;
          END IF;
          RETURN QUERY SELECT 'code_outdated'::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 11: the previous active grant is superseded. Grant rows are locked first (lock order);
        -- the tokens statement after it sees every token a rotation of that grant committed meanwhile.
        WITH superseded AS (
          UPDATE grants g SET revoked_at = GREATEST(p_superseded_at, g.created_at), revocation_reason = 'superseded'
          WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL
          RETURNING g.grant_id
        ) SELECT array_agg(superseded.grant_id) INTO v_superseded FROM superseded;
        IF v_superseded IS NOT NULL THEN
          UPDATE tokens t SET revoked_at = p_superseded_at WHERE t.grant_id = ANY (v_superseded) AND t.revoked_at IS NULL;
          UPDATE grants g SET cleanup_after = (SELECT COALESCE(max(t.expires_at), 0) FROM tokens t WHERE t.grant_id = g.grant_id)
            WHERE g.grant_id = ANY (v_superseded);
        END IF;
        RETURN QUERY SELECT 'issued'::text, NULL::text;
      END
      $fn$;
    ` },
    ],
  },
  {
    // README "Registering clients" (the known gap of the narrowing, found by a concurrency review): a code exchange or
    // a refresh waiting on a narrowing of its client's scopes (stores/client-scopes.ts: the client's unredeemed codes,
    // then the client row, then its grants) wrote the scope it had read before the lock into its grant and new tokens,
    // and answered an access token with it. Each now reads what it writes under the lock: gatehouse_redeem_code
    // (a new overload, with the scope the caller would grant: 49's is the one this release calls; 48's is kept for
    // instances of the previous release during a rolling deploy) reads the client's scopes under the client row's
    // SHARE lock and refuses a grant naming a removed one ('scope_narrowed', nothing written), or, given no scope,
    // grants the code's scope as it is now less what the client lost; gatehouse_exchange_ready_codes writes and
    // returns that; gatehouse_rotate_ready_refresh_tokens writes the presented token's scope as it is after the grant's
    // lock, less what the client lost, and returns it (token_row's written_scope). Replaced in place (same arguments
    // and results): each keeps one round trip, the reads are a few more statements inside it, by primary key.
    version: 49,
    name: 'exchanges and rotations write the client scopes read under their locks (scope narrowing)',
    only: 'postgres',
    steps: [`
      -- The scopes of the space-separated p_scope that the space-separated p_registered holds, in p_scope's order
      -- ('' for none; clients/registration.ts registeredScopes, in SQL).
      CREATE FUNCTION gatehouse_scope_within(p_scope text, p_registered text) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
        SELECT COALESCE(string_agg(u.scope, ' ' ORDER BY u.n), '') FROM unnest(string_to_array(p_scope, ' ')) WITH ORDINALITY AS u(scope, n)
          WHERE u.scope <> '' AND u.scope = ANY (string_to_array(p_registered, ' '))
      $fn$;
      CREATE FUNCTION gatehouse_redeem_code(
        p_code_digest text, p_client_id text, p_grant_client_id text, p_subject_type text, p_subject_id text,
        p_now bigint, p_superseded_at bigint, p_consume boolean, p_check_client boolean, p_client_secret_digest text, p_scope text
      ) RETURNS TABLE (redeem_outcome text, replay_grant_id text, granted_scope text) LANGUAGE plpgsql VOLATILE SET enable_seqscan = off AS $fn$
      DECLARE
        v_code record;
        v_superseded text[];
        v_client record;
        v_granted text;
      BEGIN
        -- Concurrent redemptions for one (client, subject) take turns, so the later one sees the earlier
        -- one's grant and supersedes it (SPEC decision 11); lock order: this lock, the code, the grants.
        PERFORM pg_advisory_xact_lock(hashtextextended('gatehouse.grant:' || p_grant_client_id || ':' || p_subject_type || ':' || p_subject_id, 0));
        SELECT c.client_id, c.consumed_at, c.replayed_at, c.grant_id, c.issued_at, c.active_grant_at_issue, c.recent_grants_at_issue, c.scope INTO v_code
          FROM authorization_codes c WHERE c.code_digest = p_code_digest FOR UPDATE;
        -- RFC 6749 §4.1.3: another client's code is unknown to this client, and stays unconsumed.
        IF NOT FOUND OR (p_client_id IS NOT NULL AND v_code.client_id <> p_client_id) THEN
          RETURN QUERY SELECT 'unknown'::text, NULL::text, NULL::text;
          RETURN;
        END IF;
        -- AuthenticatedClient under a SHARE lock, which an administrator's change of the client (UPDATE) and the
        -- revocations of suspension, deletion and revoke_grants (FOR NO KEY UPDATE) wait for, and which waits for
        -- them and then judges what they committed (KEY SHARE, the foreign key's, would lock the row as it was
        -- before an UPDATE of other columns and judge that).
        -- The exchange reads the client's registered scopes under the same lock (README "Registering clients"): a
        -- narrowing of them (stores/client-scopes.ts) holds the client's unredeemed codes, then this row, so an
        -- exchange that waited for either reads what it committed.
        IF p_check_client OR p_consume THEN
          SELECT c.scopes, gatehouse_client_accepts(c, p_client_secret_digest, p_now) AS accepts INTO v_client
            FROM clients c WHERE c.client_id = p_grant_client_id FOR SHARE;
          IF p_check_client AND NOT COALESCE(v_client.accepts, false) THEN
            RETURN QUERY SELECT 'client_changed'::text, NULL::text, NULL::text;
            RETURN;
          END IF;
        END IF;
        IF p_consume THEN
          IF v_code.consumed_at IS NOT NULL THEN
            -- RFC 6749 §4.1.2: used before; marked replayed as authorizationCodes.consume does.
            UPDATE authorization_codes SET replayed_at = COALESCE(replayed_at, p_now) WHERE code_digest = p_code_digest;
            RETURN QUERY SELECT 'replayed'::text, v_code.grant_id::text, NULL::text;
            RETURN;
          END IF;
        ELSIF v_code.replayed_at IS NOT NULL OR v_code.grant_id IS NOT NULL THEN
          RETURN QUERY SELECT 'code_replayed'::text, NULL::text, NULL::text;
          RETURN;
        END IF;
        -- README "Registering clients": a scope removed from the client is granted no more, read under the locks
        -- above. p_scope (the grant the caller built, its tokens and a JWT access token already signed with it)
        -- naming a removed scope stores nothing: 'scope_narrowed', with what is left, for the caller to build
        -- again. NULL (gatehouse_exchange_ready_codes): the code's scope as it is now, less what the client lost,
        -- is what is granted; nothing left is 'scope_narrowed' too (a narrowing voids such a code). Before any
        -- write: the code stays unused and nothing is superseded.
        IF p_consume THEN
          v_granted := gatehouse_scope_within(COALESCE(p_scope, v_code.scope), v_client.scopes);
          IF v_granted = '' OR (p_scope IS NOT NULL AND v_granted <> p_scope) THEN
            RETURN QUERY SELECT 'scope_narrowed'::text, NULL::text, v_granted;
            RETURN;
          END IF;
        END IF;
        -- SPEC decision 6: nothing newer happened to this (client, subject) since the code was written. A code
        -- written since migration 48 is judged by what it saw then, in commit order (stores/authorization-codes.ts
        -- AT_ISSUE): the pair's live grant is still that one ('' none), and no more of its grants are stamped within
        -- the 300 s before the code's second (RECENT_GRANTS_WINDOW_SECONDS) than it counted (a grant created since
        -- is live or revoked since). A code written before 48 (NULL): no grant revoked after its second, nor a live
        -- one created after it (a grant created since and revoked has revoked_at >= created_at). Seeks of
        -- grants_by_client_subject_revoked.
        IF (v_code.active_grant_at_issue IS NULL OR v_code.recent_grants_at_issue IS NULL) AND (
              EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
                AND g.subject_id = p_subject_id AND g.revoked_at > v_code.issued_at)
              OR EXISTS (SELECT 1 FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
                AND g.subject_id = p_subject_id AND g.revoked_at IS NULL AND g.created_at > v_code.issued_at))
            OR (v_code.active_grant_at_issue IS NOT NULL AND v_code.recent_grants_at_issue IS NOT NULL AND (
              v_code.active_grant_at_issue <> COALESCE((SELECT min(g.grant_id) FROM grants g WHERE g.client_id = p_grant_client_id
                AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL), '')
              OR v_code.recent_grants_at_issue < (SELECT count(*) FROM grants g WHERE g.client_id = p_grant_client_id
                AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL AND g.created_at >= v_code.issued_at - 300)
                + (SELECT count(*) FROM grants g WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type
                AND g.subject_id = p_subject_id AND g.revoked_at >= v_code.issued_at - 300 AND g.created_at >= v_code.issued_at - 300))) THEN
          IF p_consume THEN
            UPDATE authorization_codes SET consumed_at = p_now WHERE code_digest = p_code_digest;
          END IF;
          RETURN QUERY SELECT 'code_outdated'::text, NULL::text, NULL::text;
          RETURN;
        END IF;
        -- SPEC decision 11: the previous active grant is superseded. Grant rows are locked first (lock order);
        -- the tokens statement after it sees every token a rotation of that grant committed meanwhile.
        WITH superseded AS (
          UPDATE grants g SET revoked_at = GREATEST(p_superseded_at, g.created_at), revocation_reason = 'superseded'
          WHERE g.client_id = p_grant_client_id AND g.subject_type = p_subject_type AND g.subject_id = p_subject_id AND g.revoked_at IS NULL
          RETURNING g.grant_id
        ) SELECT array_agg(superseded.grant_id) INTO v_superseded FROM superseded;
        IF v_superseded IS NOT NULL THEN
          UPDATE tokens t SET revoked_at = p_superseded_at WHERE t.grant_id = ANY (v_superseded) AND t.revoked_at IS NULL;
          UPDATE grants g SET cleanup_after = (SELECT COALESCE(max(t.expires_at), 0) FROM tokens t WHERE t.grant_id = g.grant_id)
            WHERE g.grant_id = ANY (v_superseded);
        END IF;
        RETURN QUERY SELECT 'issued'::text, NULL::text, v_granted;
      END
      $fn$;
      CREATE OR REPLACE FUNCTION gatehouse_exchange_ready_codes(
        p_code_digests text[], p_client_ids text[], p_now bigint[], p_redirect_uris text[], p_code_challenges text[], p_dpop_jkts text[],
        p_default_scopes text[], p_grant_ids text[],
        p_token_digest text[], p_token_id text[], p_kind text[], p_expires_at bigint[], p_token_jkt text[], p_token_exchange int[],
        p_audit_type text[], p_audit_at bigint[], p_audit_actor text[], p_audit_client_id text[], p_audit_grant_id text[], p_audit_details text[],
        p_check_clients boolean[], p_client_secret_digests text[]
      ) RETURNS TABLE (exchange int, code jsonb, redeem_outcome text, replay_grant_id text)
      LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        v_count int := cardinality(p_code_digests);
        v_codes authorization_codes[] := array_fill(NULL::authorization_codes, ARRAY[v_count]);
        v_issued int[] := '{}';
        v_code authorization_codes;
        v_redeemed record;
        i int;
      BEGIN
        FOR i IN SELECT u.i FROM unnest(p_code_digests, p_client_ids) WITH ORDINALITY AS u(digest, client_id, i)
            LEFT JOIN authorization_codes c ON c.code_digest = u.digest AND c.client_id = u.client_id
            ORDER BY c.client_id, c.subject_type, c.subject_id, u.i LOOP
          SELECT * INTO v_code FROM authorization_codes c WHERE c.code_digest = p_code_digests[i] AND c.client_id = p_client_ids[i];
          IF NOT FOUND THEN
            exchange := i; code := NULL; redeem_outcome := NULL; replay_grant_id := NULL;
            RETURN NEXT;
            CONTINUE;
          END IF;
          exchange := i; code := to_jsonb(v_code); redeem_outcome := NULL; replay_grant_id := NULL;
          -- The token request's checks (stores/grants.ts meetsReadyConditions): otherwise nothing changes here.
          IF v_code.consumed_at IS NULL AND p_now[i] < v_code.expires_at AND v_code.redirect_uri = p_redirect_uris[i]
              AND v_code.code_challenge IS NOT DISTINCT FROM p_code_challenges[i] AND (v_code.dpop_jkt IS NULL OR v_code.dpop_jkt = p_dpop_jkts[i])
              AND v_code.resources IS NULL AND v_code.scope <> '' AND string_to_array(v_code.scope, ' ') <@ string_to_array(p_default_scopes[i], ' ') THEN
            SELECT * INTO v_redeemed FROM gatehouse_redeem_code(p_code_digests[i], p_client_ids[i], v_code.client_id, v_code.subject_type,
              v_code.subject_id, p_now[i], p_now[i], true, p_check_clients[i], p_client_secret_digests[i], NULL::text);
            redeem_outcome := v_redeemed.redeem_outcome;
            replay_grant_id := v_redeemed.replay_grant_id;
            IF v_redeemed.redeem_outcome = 'issued' THEN
              -- README "Registering clients": what is written (grant, tokens, audit event) and answered (the code
              -- returned, RFC 6749 §5.1 scope) is the code's scope read under its lock, less any scope the client
              -- lost (gatehouse_redeem_code), not the code as read before the lock.
              v_code.scope := v_redeemed.granted_scope;
              code := to_jsonb(v_code);
              INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at, revoked_at, revocation_reason, resources)
                VALUES (p_grant_ids[i], v_code.client_id, v_code.user_id, v_code.subject_type, v_code.subject_id, v_code.scope, p_now[i], NULL, NULL, NULL);
              UPDATE authorization_codes SET consumed_at = p_now[i], grant_id = p_grant_ids[i] WHERE code_digest = p_code_digests[i];
              v_codes[i] := v_code;
              v_issued := v_issued || i;
            END IF;
          END IF;
          RETURN NEXT;
        END LOOP;
        IF cardinality(v_issued) = 0 THEN
          RETURN;
        END IF;
        INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
          SELECT t.digest, t.id, t.kind, p_grant_ids[t.exchange], (v_codes[t.exchange]).client_id, (v_codes[t.exchange]).scope, p_now[t.exchange],
            t.expires_at, NULL, NULL, NULL, t.jkt
          FROM unnest(p_token_digest, p_token_id, p_kind, p_expires_at, p_token_jkt, p_token_exchange) AS t(digest, id, kind, expires_at, jkt, exchange)
          WHERE t.exchange = ANY (v_issued);
        INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT p_audit_type[e], p_audit_at[e], p_audit_actor[e], p_audit_client_id[e], p_audit_grant_id[e],
            p_audit_details[e]::jsonb || jsonb_build_object('scope', (v_codes[e]).scope)
          FROM unnest(v_issued) AS e WHERE p_audit_type[e] IS NOT NULL;
        RETURN;
      END
      $fn$;
      CREATE OR REPLACE FUNCTION gatehouse_rotate_ready_refresh_tokens(
        p_digests text[], p_now bigint[], p_client_ids text[], p_default_scopes text[],
        p_token_digest text[], p_token_id text[], p_kind text[], p_expires_at bigint[], p_token_jkt text[], p_token_rotation int[],
        p_audit_type text[], p_audit_at bigint[], p_audit_actor text[], p_audit_details text[],
        p_sealed_successor text[], p_grace_expires_at bigint[], p_check_clients boolean[], p_client_secret_digests text[]
      ) RETURNS TABLE (ready_rotation int, token_row jsonb, ready_outcome text)
      LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        v_count int := cardinality(p_digests);
        v_grants text[] := array_fill(NULL::text, ARRAY[v_count]);
        v_scopes text[] := array_fill(NULL::text, ARRAY[v_count]);
        v_token_ids text[] := array_fill(NULL::text, ARRAY[v_count]);
        v_done int[] := '{}';
        v_locked boolean;
        v_accepts boolean;
        v_scope text;
        r record;
      BEGIN
        FOR r IN SELECT d.i::int AS i, t.token_digest, t.token_id, t.kind, t.grant_id, t.client_id, t.scope, t.issued_at, t.expires_at,
              t.rotated_at, t.revoked_at, t.audience, t.dpop_jkt, g.grant_id AS g_grant_id, g.client_id AS g_client_id, g.user_id AS g_user_id,
              g.subject_type AS g_subject_type, g.subject_id AS g_subject_id, g.scope AS g_scope, g.created_at AS g_created_at,
              g.revoked_at AS g_revoked_at, g.revocation_reason AS g_revocation_reason, g.resources AS g_resources, c.status AS c_status,
              gatehouse_client_accepts(c, p_client_secret_digests[d.i], p_now[d.i]) AS c_accepts
            FROM unnest(p_digests) WITH ORDINALITY AS d(digest, i)
            JOIN tokens t ON t.token_digest = d.digest JOIN grants g ON g.grant_id = t.grant_id JOIN clients c ON c.client_id = t.client_id
            ORDER BY g.grant_id COLLATE "C", d.i LOOP
          ready_rotation := r.i; token_row := to_jsonb(r) - 'i' - 'c_accepts'; ready_outcome := NULL;
          -- storage.ts AuthenticatedClient: the token's client no longer accepting the request refuses it, as
          -- 'client_changed' (never 'not_current', which the refresh grant takes for reuse and revokes).
          IF p_check_clients[r.i] AND r.client_id = p_client_ids[r.i] AND NOT r.c_accepts THEN
            ready_outcome := 'client_changed';
          -- The refresh grant's checks (stores/tokens.ts meetsReadyRefreshConditions; the client still active):
          -- otherwise nothing changes here.
          ELSIF r.kind = 'refresh' AND r.client_id = p_client_ids[r.i] AND r.c_status = 'active' AND r.rotated_at IS NULL AND r.revoked_at IS NULL
              AND p_now[r.i] < r.expires_at AND r.dpop_jkt IS NULL AND r.g_revoked_at IS NULL AND r.g_resources IS NULL AND r.scope <> ''
              AND string_to_array(r.scope, ' ') <@ string_to_array(p_default_scopes[r.i], ' ') THEN
            ready_outcome := 'not_current';
            -- The grant row lock: rotations of one grant (on any instance) take turns; a revocation is before or after.
            PERFORM 1 FROM grants g WHERE g.grant_id = r.grant_id AND g.revoked_at IS NULL FOR NO KEY UPDATE;
            v_locked := FOUND;
            -- AuthenticatedClient again after the grant's lock (whether or not the grant is still live: a deletion
            -- revokes it), in a statement of its own (a fresh snapshot): a change committed since the read refuses;
            -- one after it waits for this commit (its revocation locks the client's grants first). The same statement
            -- reads the scope to write (README "Registering clients"): the presented token's as it is now (a narrowing
            -- of the client's scopes holds the client's grants, and narrows the token, before it commits), less any
            -- scope the client is no longer registered for; not the scope read before the lock.
            SELECT gatehouse_client_accepts(c, p_client_secret_digests[r.i], p_now[r.i]), gatehouse_scope_within(t.scope, c.scopes)
              INTO v_accepts, v_scope FROM tokens t JOIN clients c ON c.client_id = t.client_id WHERE t.token_digest = r.token_digest;
            IF p_check_clients[r.i] AND NOT COALESCE(v_accepts, false) THEN
              ready_outcome := 'client_changed';
            ELSIF v_locked AND v_scope = '' THEN
              -- Nothing left to grant: nothing rotates, and the refresh grant's own checks answer (NULL: not ready).
              ready_outcome := NULL;
            ELSIF v_locked THEN
              -- SPEC decision 8: only a token still current is rotated (exactly one use succeeds).
              UPDATE tokens SET rotated_at = p_now[r.i]
                WHERE token_digest = r.token_digest AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL;
              IF FOUND THEN
                -- SPEC §3: "all previous tokens are invalidated immediately": the grant's access tokens too.
                UPDATE tokens SET revoked_at = p_now[r.i] WHERE grant_id = r.grant_id AND kind = 'access' AND revoked_at IS NULL;
                ready_outcome := 'rotated';
                v_done := v_done || r.i;
                v_grants[r.i] := r.grant_id;
                v_scopes[r.i] := v_scope;
                v_token_ids[r.i] := r.token_id;
                -- What was written, for the answer (RFC 6749 §6: the response's scope is the new tokens').
                token_row := token_row || jsonb_build_object('written_scope', v_scope);
              END IF;
            END IF;
          END IF;
          RETURN NEXT;
        END LOOP;
        IF cardinality(v_done) = 0 THEN
          RETURN;
        END IF;
        INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
          SELECT u.digest, u.id, u.kind, v_grants[u.rot], p_client_ids[u.rot], v_scopes[u.rot], p_now[u.rot], u.expires_at, NULL, NULL, NULL, u.jkt
          FROM unnest(p_token_digest, p_token_id, p_kind, p_expires_at, p_token_jkt, p_token_rotation) AS u(digest, id, kind, expires_at, jkt, rot)
          WHERE u.rot = ANY (v_done);
        INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT p_audit_type[e], p_audit_at[e], p_audit_actor[e], p_client_ids[e], v_grants[e],
            jsonb_build_object('scope', v_scopes[e], 'previous_refresh_token_id', v_token_ids[e]) || p_audit_details[e]::jsonb
          FROM unnest(v_done) AS e WHERE p_audit_type[e] IS NOT NULL;
        -- SPEC decision 8: the grace record follows the grant's last rotation.
        INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at)
          SELECT v_grants[e], p_digests[e], p_sealed_successor[e], p_grace_expires_at[e] FROM unnest(v_done) AS e
          WHERE p_sealed_successor[e] IS NOT NULL
          ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest,
            sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at;
        DELETE FROM refresh_token_grace
          WHERE grant_id = ANY (ARRAY(SELECT v_grants[e] FROM unnest(v_done) AS e WHERE p_sealed_successor[e] IS NULL));
        RETURN;
      END
      $fn$;
    `],
  },
  {
    version: 50,
    name: 'partner team invitations: pending until the invitee accepts',
    steps: [(d) => `
      -- Issue 13 "Partner teams": an owner's invitation changes nothing until the invitee, signed in as the account
      -- it was sent to (user_id), accepts it; then the membership is created. email and name as the owner typed
      -- them (the team page never shows the directory's name of someone who has not joined). status: pending,
      -- accepted, declined or revoked (by an owner, or replaced by a newer invitation to the same person).
      CREATE TABLE partner_team_invitations (
        invitation_id ${d.key} PRIMARY KEY,
        team_id ${d.key} NOT NULL,
        user_id ${d.key} NOT NULL REFERENCES users(user_id),
        email TEXT NOT NULL,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
        invited_by ${d.key} NOT NULL REFERENCES users(user_id),
        created_at ${d.time} NOT NULL,
        expires_at ${d.time} NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
        resolved_at ${d.time}
      );
      CREATE INDEX partner_team_invitations_by_team ON partner_team_invitations (team_id, status);
      CREATE INDEX partner_team_invitations_by_user ON partner_team_invitations (user_id, status);
      -- cleanup (stores/cleanup.ts): an index range of the invitations whose time is up.
      CREATE INDEX partner_team_invitations_by_expiry ON partner_team_invitations (expires_at);
    `],
  },
  {
    // README "Registering clients", the refresh that mints its tokens before its write (JWT access tokens, or a
    // scope, a resource or a DPoP key named): waiting on a narrowing of its client's scopes (the client's grants
    // locked), it wrote the new tokens the scope it read before, and answered an access token signed with it. A new
    // overload of gatehouse_rotate_refresh_tokens (47's kept for instances of the previous release during a rolling
    // deploy) checks each rotation's new tokens, after the grant's lock, against the presented token's scope as it is
    // then less what the client lost, and rotates nothing when they name more ('scope_narrowed', with what is left in
    // scopes_left). One round trip as before; the check is one more statement inside it, by primary key.
    version: 51,
    name: 'refresh rotations refuse new tokens naming a scope narrowed while they waited',
    only: 'postgres',
    steps: [`
      CREATE FUNCTION gatehouse_rotate_refresh_tokens(
        p_digests text[], p_now bigint[],
        p_token_digest text[], p_token_id text[], p_kind text[], p_token_grant_id text[], p_client_id text[], p_scope text[],
        p_issued_at bigint[], p_expires_at bigint[], p_rotated_at bigint[], p_revoked_at bigint[], p_audience text[], p_dpop_jkt text[],
        p_token_rotation int[],
        p_audit_type text[], p_audit_at bigint[], p_audit_actor text[], p_audit_client_id text[], p_audit_grant_id text[], p_audit_details text[],
        p_sealed_successor text[], p_grace_expires_at bigint[], p_check_clients boolean[], p_client_secret_digests text[],
        p_check_scopes boolean[], OUT rotated text[], OUT scopes_left text[]
      ) RETURNS record LANGUAGE plpgsql VOLATILE SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $fn$
      DECLARE
        v_rotated text[] := array_fill('not_current'::text, ARRAY[cardinality(p_digests)]);
        v_locked boolean;
        v_grants text[] := array_fill(NULL::text, ARRAY[cardinality(p_digests)]);
        v_done int[] := '{}';
        v_grant text;
        v_left text;
      BEGIN
        scopes_left := array_fill(NULL::text, ARRAY[cardinality(p_digests)]);
        FOR i IN 1 .. cardinality(p_digests) LOOP
          -- The grant row lock: rotations of one grant (on any instance) take turns; a revocation is before or after.
          SELECT g.grant_id INTO v_grant FROM tokens t JOIN grants g ON g.grant_id = t.grant_id
            WHERE t.token_digest = p_digests[i] AND t.kind = 'refresh' AND g.revoked_at IS NULL
            FOR NO KEY UPDATE OF g;
          v_locked := FOUND;
          -- storage.ts AuthenticatedClient after the grant's lock (whether or not the grant is still live: a
          -- deletion revokes it), in a statement of its own: a client no longer accepting the request rotates
          -- nothing, and says so ('client_changed': no reuse).
          IF p_check_clients[i] AND NOT EXISTS (SELECT 1 FROM tokens t JOIN clients c ON c.client_id = t.client_id
              WHERE t.token_digest = p_digests[i] AND gatehouse_client_accepts(c, p_client_secret_digests[i], p_now[i])) THEN
            v_rotated[i] := 'client_changed';
            CONTINUE;
          END IF;
          CONTINUE WHEN NOT v_locked;
          -- README "Registering clients": the new tokens were minted (a JWT access token signed) with the scope read
          -- before the grant's lock. A narrowing of the client's scopes that committed meanwhile narrowed the presented
          -- token (it holds the client's grants): new tokens naming a scope the token, as it is now, or the client no
          -- longer has rotate nothing ('scope_narrowed', with what is left, for the caller to mint again). Only for a
          -- current token: any other is not_current below, as before.
          IF p_check_scopes[i] THEN
            SELECT gatehouse_scope_within(t.scope, c.scopes) INTO v_left FROM tokens t JOIN clients c ON c.client_id = t.client_id
              WHERE t.token_digest = p_digests[i] AND t.rotated_at IS NULL AND t.revoked_at IS NULL;
            IF FOUND AND EXISTS (SELECT 1 FROM unnest(p_scope, p_token_rotation) AS u(scope, rotation)
                WHERE u.rotation = i AND NOT string_to_array(u.scope, ' ') <@ string_to_array(v_left, ' ')) THEN
              v_rotated[i] := 'scope_narrowed';
              scopes_left[i] := v_left;
              CONTINUE;
            END IF;
          END IF;
          -- SPEC decision 8: only a token still current is rotated (exactly one use succeeds).
          UPDATE tokens SET rotated_at = p_now[i]
            WHERE token_digest = p_digests[i] AND kind = 'refresh' AND rotated_at IS NULL AND revoked_at IS NULL AND grant_id = v_grant;
          CONTINUE WHEN NOT FOUND;
          -- SPEC §3: "all previous tokens are invalidated immediately": the grant's access tokens too.
          UPDATE tokens SET revoked_at = p_now[i] WHERE grant_id = v_grant AND kind = 'access' AND revoked_at IS NULL;
          v_rotated[i] := 'rotated';
          v_grants[i] := v_grant;
          v_done := v_done || i;
        END LOOP;
        rotated := v_rotated;
        IF cardinality(v_done) = 0 THEN
          RETURN;
        END IF;
        INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt)
          SELECT u.token_digest, u.token_id, u.kind, u.grant_id, u.client_id, u.scope, u.issued_at, u.expires_at, u.rotated_at, u.revoked_at, u.audience, u.dpop_jkt
          FROM unnest(p_token_digest, p_token_id, p_kind, p_token_grant_id, p_client_id, p_scope, p_issued_at, p_expires_at, p_rotated_at,
            p_revoked_at, p_audience, p_dpop_jkt, p_token_rotation)
            AS u(token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, audience, dpop_jkt, rotation)
          WHERE u.rotation = ANY (v_done);
        INSERT INTO audit_events (type, at, actor, client_id, grant_id, details)
          SELECT p_audit_type[i], p_audit_at[i], p_audit_actor[i], p_audit_client_id[i], p_audit_grant_id[i], p_audit_details[i]::jsonb
          FROM unnest(v_done) AS i WHERE p_audit_type[i] IS NOT NULL;
        -- SPEC decision 8: the grace record follows the grant's last rotation.
        INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at)
          SELECT v_grants[i], p_digests[i], p_sealed_successor[i], p_grace_expires_at[i] FROM unnest(v_done) AS i
          WHERE p_sealed_successor[i] IS NOT NULL
          ON CONFLICT (grant_id) DO UPDATE SET previous_digest = excluded.previous_digest,
            sealed_successor = excluded.sealed_successor, grace_expires_at = excluded.grace_expires_at;
        DELETE FROM refresh_token_grace
          WHERE grant_id = ANY (ARRAY(SELECT v_grants[i] FROM unnest(v_done) AS i WHERE p_sealed_successor[i] IS NULL));
        RETURN;
      END
      $fn$;
    `],
  },
];
