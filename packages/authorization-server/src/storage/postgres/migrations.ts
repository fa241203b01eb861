/**
 * Versioned schema for the PostgreSQL backend, and the migration runner.
 *
 * `runMigrations` applies every missing version in ONE transaction that first takes a transaction-level
 * advisory lock keyed by the schema name: a second instance starting at the same moment waits for the
 * first to commit, then finds every version applied and does nothing. PostgreSQL DDL is transactional, so
 * a failed migration leaves no half-built schema behind.
 *
 * Column types: times are `bigint` seconds since the epoch (as the contract passes them); scopes are the
 * space-separated strings of RFC 6749 §3.3, as on SQLite; redirect URIs a `text[]`; audit details `jsonb`.
 * Identifiers and digests are `COLLATE "C"`: byte order, as SQLite's BINARY, whatever the database's
 * locale, and B-tree comparisons by memcmp instead of the locale's rules (cheaper on every key lookup).
 */
import type { PoolClient } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const migrations: Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE clients (
        client_id text COLLATE "C" PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('client', 'resource_server')),
        client_name text NOT NULL,
        client_type text NOT NULL CHECK (client_type IN ('confidential', 'public')),
        secret_digest text,
        redirect_uris text[] NOT NULL,
        scopes text NOT NULL,
        subject_type text CHECK (subject_type IN ('company', 'organization')),
        pkce_required boolean NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'pending', 'suspended', 'deleted')),
        client_uri text, logo_uri text, tos_uri text, policy_uri text,
        audience text,
        created_at bigint NOT NULL
      );
      CREATE TABLE users (
        user_id text COLLATE "C" PRIMARY KEY,
        email text NOT NULL,
        name text NOT NULL,
        password_hash text NOT NULL
      );
      -- Case-insensitive e-mail (storage.ts users.findByEmail). lower() folds every letter the database's
      -- LC_CTYPE knows (with UTF-8 that includes non-ASCII: 'Élodie' = 'élodie'); SQLite's NOCASE folds
      -- ASCII only. Addresses that differ only in non-ASCII case are one user here and two on SQLite.
      CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
      CREATE TABLE subjects (
        subject_type text COLLATE "C" NOT NULL CHECK (subject_type IN ('company', 'organization')),
        subject_id text COLLATE "C" NOT NULL,
        name text NOT NULL,
        organization_id text COLLATE "C",
        PRIMARY KEY (subject_type, subject_id)
      );
      CREATE TABLE subject_administrators (
        user_id text COLLATE "C" NOT NULL REFERENCES users (user_id),
        subject_type text COLLATE "C" NOT NULL,
        subject_id text COLLATE "C" NOT NULL,
        PRIMARY KEY (user_id, subject_type, subject_id),
        FOREIGN KEY (subject_type, subject_id) REFERENCES subjects (subject_type, subject_id)
      );
      CREATE TABLE login_sessions (
        session_digest text COLLATE "C" PRIMARY KEY,
        user_id text COLLATE "C" NOT NULL REFERENCES users (user_id),
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL
      );
      CREATE INDEX login_sessions_by_expiry ON login_sessions (expires_at);
      CREATE TABLE grants (
        grant_id text COLLATE "C" PRIMARY KEY,
        client_id text COLLATE "C" NOT NULL REFERENCES clients (client_id),
        user_id text COLLATE "C" NOT NULL REFERENCES users (user_id),
        subject_type text COLLATE "C" NOT NULL,
        subject_id text COLLATE "C" NOT NULL,
        scope text NOT NULL,
        created_at bigint NOT NULL,
        revoked_at bigint,
        revocation_reason text,
        -- Set when the grant is revoked: the latest expiry of any of its tokens (a revoked grant gains no
        -- tokens), so cleanup looks only at revoked grants that can have none left.
        cleanup_after bigint
      );
      -- SPEC decision 11: one active grant per (client, subject). issueForCode serialises on an advisory
      -- lock per pair; the unique index is the backstop that makes a second active grant impossible.
      CREATE UNIQUE INDEX grants_one_active ON grants (client_id, subject_type, subject_id) WHERE revoked_at IS NULL;
      CREATE INDEX grants_revoked_cleanup ON grants (cleanup_after) WHERE revoked_at IS NOT NULL;
      CREATE TABLE authorization_codes (
        code_digest text COLLATE "C" PRIMARY KEY,
        client_id text COLLATE "C" NOT NULL REFERENCES clients (client_id),
        user_id text COLLATE "C" NOT NULL REFERENCES users (user_id),
        redirect_uri text NOT NULL,
        scope text NOT NULL,
        subject_type text COLLATE "C" NOT NULL,
        subject_id text COLLATE "C" NOT NULL,
        code_challenge text,
        issued_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        consumed_at bigint,
        replayed_at bigint,
        grant_id text COLLATE "C" REFERENCES grants (grant_id)
      );
      CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);
      CREATE INDEX authorization_codes_by_grant ON authorization_codes (grant_id) WHERE grant_id IS NOT NULL;
      CREATE TABLE tokens (
        token_digest text COLLATE "C" PRIMARY KEY,
        token_id text COLLATE "C" NOT NULL UNIQUE,
        kind text COLLATE "C" NOT NULL CHECK (kind IN ('access', 'refresh')),
        grant_id text COLLATE "C" NOT NULL REFERENCES grants (grant_id),
        client_id text COLLATE "C" NOT NULL,
        scope text NOT NULL,
        issued_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        rotated_at bigint,
        revoked_at bigint,
        -- Refresh tokens only, set by cleanup: an expired token whose family (grant) was still alive is
        -- looked at again only after the family's expiry as it was then, not on every run.
        cleanup_after bigint
      );
      -- Per grant: rotation revokes the access tokens, revocation every token, cleanup checks the refresh family.
      CREATE INDEX tokens_by_grant ON tokens (grant_id, kind, expires_at);
      CREATE INDEX tokens_access_by_expiry ON tokens (expires_at) WHERE kind = 'access';
      CREATE INDEX tokens_refresh_cleanup ON tokens ((COALESCE(cleanup_after, expires_at))) WHERE kind = 'refresh';
      -- The revocation feed (tokens.listRevokedAccessTokens).
      CREATE INDEX tokens_revoked_access ON tokens (revoked_at, token_id) WHERE kind = 'access' AND revoked_at IS NOT NULL;
      CREATE TABLE audit_events (
        event_id bigserial PRIMARY KEY,
        type text NOT NULL,
        at bigint NOT NULL,
        actor text NOT NULL,
        client_id text,
        grant_id text,
        details jsonb NOT NULL
      );
      -- SPEC decision 19: append-only. INSERT ... ON CONFLICT DO UPDATE fires the UPDATE trigger too.
      CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'audit events are append-only' USING ERRCODE = 'insufficient_privilege';
        END;
      $$;
      CREATE TRIGGER audit_events_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
      CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
      CREATE TABLE settings (name text COLLATE "C" PRIMARY KEY, value text NOT NULL);
      -- SPEC decision 18: failed-login windows shared by every instance.
      CREATE TABLE login_throttle (
        throttle_key text COLLATE "C" PRIMARY KEY,
        window_ends_at bigint NOT NULL,
        failures integer NOT NULL CHECK (failures >= 0)
      );
      CREATE INDEX login_throttle_by_end ON login_throttle (window_ends_at);
    `,
  },
  {
    version: 3,
    name: 'client management: registration fields, secret rotation overlap, logos, partner developers, admin credentials',
    sql: `
      ALTER TABLE clients
        ADD COLUMN initiation_uri text,
        ADD COLUMN settings_uri text,
        ADD COLUMN contacts text[] NOT NULL DEFAULT '{}',
        ADD COLUMN owner_user_id text COLLATE "C" REFERENCES users(user_id),
        ADD COLUMN previous_secret_digest text,
        ADD COLUMN previous_secret_expires_at bigint,
        -- Clients registered before this migration were registered by administrators: their branding counts as reviewed.
        ADD COLUMN branding_verified boolean NOT NULL DEFAULT true;
      CREATE INDEX clients_by_owner ON clients (owner_user_id) WHERE owner_user_id IS NOT NULL;
      CREATE TABLE client_logos (
        client_id text COLLATE "C" PRIMARY KEY REFERENCES clients(client_id),
        content_type text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
        bytes bytea NOT NULL,
        sha256 text NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE TABLE partner_developers (user_id text COLLATE "C" PRIMARY KEY REFERENCES users(user_id));
      CREATE TABLE admin_credentials (
        name text PRIMARY KEY,
        token_digest text COLLATE "C" NOT NULL UNIQUE,
        created_at bigint NOT NULL
      );
      CREATE INDEX tokens_by_client ON tokens (client_id, kind) WHERE revoked_at IS NULL;
      CREATE INDEX grants_by_client ON grants (client_id) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 4,
    name: 'last use of a grant',
    sql: `ALTER TABLE grants ADD COLUMN last_used_at bigint;`,
  },
  {
    version: 5,
    name: 'consent interactions; every grant of a client and subject, for the code freshness check',
    sql: `
      -- SPEC decision 11: the authorization request a consent page answers, kept server-side, single use.
      CREATE TABLE interactions (
        interaction_digest text COLLATE "C" PRIMARY KEY,
        session_digest text COLLATE "C" NOT NULL,
        client_id text COLLATE "C" NOT NULL,
        request_parameters jsonb NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        consumed_at bigint
      );
      CREATE INDEX interactions_by_expiry ON interactions (expires_at);
      -- SPEC decision 6: a code redeems only if no grant of its (client, subject) was created or revoked since.
      CREATE INDEX grants_by_client_subject ON grants (client_id, subject_type, subject_id);
    `,
  },
  {
    version: 6,
    name: 'rate limits at the token, revocation and introspection endpoints',
    // UNLOGGED: counters written on every request need no WAL (a commit touching only them does not wait
    // for a flush); after a crash the table comes back empty, which only resets the windows.
    sql: `
      CREATE UNLOGGED TABLE rate_limit_windows (
        limit_key text COLLATE "C" PRIMARY KEY,
        window_ends_at bigint NOT NULL,
        hits integer NOT NULL
      );
      CREATE INDEX rate_limit_windows_by_end ON rate_limit_windows (window_ends_at);
    `,
  },
  {
    version: 7,
    name: 'the directory: user locale, times, soft delete and optional password; subject times',
    sql: `
      -- password_hash becomes optional (directory users who never set one); deleted_at marks a deleted user,
      -- whose row stays for the grants that name it (its e-mail is replaced at deletion, storage.ts DirectoryStore).
      ALTER TABLE users
        ALTER COLUMN password_hash DROP NOT NULL,
        ADD COLUMN locale text,
        ADD COLUMN created_at bigint NOT NULL DEFAULT 0,
        ADD COLUMN updated_at bigint NOT NULL DEFAULT 0,
        ADD COLUMN deleted_at bigint;
      ALTER TABLE subjects
        ADD COLUMN created_at bigint NOT NULL DEFAULT 0,
        ADD COLUMN updated_at bigint NOT NULL DEFAULT 0;
      CREATE INDEX subjects_by_organization ON subjects (organization_id, subject_id) WHERE organization_id IS NOT NULL;
      CREATE INDEX subject_administrators_by_subject ON subject_administrators (subject_type, subject_id);
      CREATE INDEX grants_active_by_subject ON grants (subject_type, subject_id) WHERE revoked_at IS NULL;
      CREATE INDEX authorization_codes_unredeemed_by_subject ON authorization_codes (subject_type, subject_id) WHERE grant_id IS NULL;
      CREATE INDEX authorization_codes_unredeemed_by_user ON authorization_codes (user_id) WHERE grant_id IS NULL;
    `,
  },
  {
    version: 8,
    name: 'login session devices, known devices, growing login delays',
    sql: `
      -- Issue 10 §4: the account page lists sessions with their device and last use.
      ALTER TABLE login_sessions ADD COLUMN device text NOT NULL DEFAULT '';
      ALTER TABLE login_sessions ADD COLUMN last_seen_at bigint;
      CREATE INDEX login_sessions_by_user ON login_sessions (user_id, expires_at);
      -- Issue 10 §3: growing delays count from a key's latest failure.
      ALTER TABLE login_throttle ADD COLUMN last_failure_at bigint;
      -- Issue 10 §3: browsers that signed a user in before (the device cookie's SHA-256 only).
      CREATE TABLE known_devices (
        device_digest text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL REFERENCES users (user_id),
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
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
        grant_id text COLLATE "C" PRIMARY KEY REFERENCES grants(grant_id) ON DELETE CASCADE,
        previous_digest text COLLATE "C" NOT NULL UNIQUE,
        sealed_successor text NOT NULL,
        grace_expires_at bigint NOT NULL
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
      CREATE TABLE audit_retention_cutoffs (cutoff_at bigint NOT NULL, recorded_at bigint NOT NULL);
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
      $$;
      CREATE INDEX audit_events_by_at ON audit_events (at);
    `,
  },
  {
    version: 11,
    name: 'user identities (upstream OpenID Provider accounts)',
    sql: `
      -- Issue 10 §2: an upstream account (issuer, sub) linked to a directory user; one per user and issuer.
      CREATE TABLE user_identities (
        issuer text COLLATE "C" NOT NULL,
        subject text COLLATE "C" NOT NULL,
        user_id text COLLATE "C" NOT NULL REFERENCES users (user_id),
        linked_at bigint NOT NULL,
        last_sign_in_at bigint NOT NULL,
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
        token_digest text COLLATE "C" PRIMARY KEY,
        user_id text COLLATE "C" NOT NULL REFERENCES users (user_id),
        purpose text COLLATE "C" NOT NULL CHECK (purpose IN ('invitation', 'reset')),
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        used_at bigint
      );
      CREATE INDEX password_tokens_by_user ON password_tokens (user_id, purpose);
      CREATE INDEX password_tokens_by_expiry ON password_tokens (expires_at);
      -- Issue 10 §3: one TOTP factor per user, its secret encrypted (AES-256-GCM), never plain.
      CREATE TABLE second_factors (
        user_id text COLLATE "C" PRIMARY KEY REFERENCES users (user_id),
        secret_ciphertext text COLLATE "C" NOT NULL,
        created_at bigint NOT NULL,
        confirmed_at bigint,
        last_time_step bigint
      );
      -- Recovery codes: digests only, each single use.
      CREATE TABLE recovery_codes (
        user_id text COLLATE "C" NOT NULL REFERENCES users (user_id),
        code_digest text COLLATE "C" NOT NULL,
        used_at bigint,
        PRIMARY KEY (user_id, code_digest)
      );
      -- A sign-in between its password and its second factor (the browser's id as a SHA-256 only).
      CREATE TABLE pending_logins (
        pending_digest text COLLATE "C" PRIMARY KEY,
        user_id text COLLATE "C" NOT NULL REFERENCES users (user_id),
        step text COLLATE "C" NOT NULL CHECK (step IN ('verify', 'enrol')),
        return_to text COLLATE "C" NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        failures bigint NOT NULL DEFAULT 0
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
        request_uri_digest text COLLATE "C" PRIMARY KEY,
        client_id text COLLATE "C" NOT NULL,
        request_parameters jsonb NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        consumed_at bigint
      );
      CREATE INDEX pushed_requests_by_expiry ON pushed_requests (expires_at);
      -- RFC 9126 §6: require_pushed_authorization_requests client metadata.
      ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests boolean NOT NULL DEFAULT false;
    `,
  },
  {
    version: 14,
    name: 'platform administrators of the console; audit events by client',
    sql: `
      -- Issue 13: directory users who may use the administrators' console at /admin.
      CREATE TABLE console_administrators (
        user_id text COLLATE "C" PRIMARY KEY REFERENCES users (user_id),
        granted_at bigint NOT NULL
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
        client_id text COLLATE "C" PRIMARY KEY,
        url text NOT NULL,
        secret_ciphertext text NOT NULL,
        created_at bigint NOT NULL
      );
      -- The durable delivery queue; next_attempt_at NULL once delivered or given up.
      CREATE TABLE webhook_deliveries (
        delivery_id text COLLATE "C" PRIMARY KEY,
        client_id text COLLATE "C" NOT NULL,
        event_type text COLLATE "C" NOT NULL,
        payload text NOT NULL,
        created_at bigint NOT NULL,
        attempts bigint NOT NULL DEFAULT 0,
        next_attempt_at bigint,
        last_attempt_at bigint,
        last_status integer,
        delivered_at bigint
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
      ALTER TABLE tokens ADD COLUMN dpop_jkt text;
      -- RFC 9449 §5.2: dpop_bound_access_tokens client metadata.
      ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens boolean NOT NULL DEFAULT false;
      -- RFC 9449 §11.1: accepted proofs (SHA-256 of thumbprint and jti) until their window ends: replay refused on every instance.
      CREATE TABLE dpop_proofs (
        proof_digest text COLLATE "C" PRIMARY KEY,
        expires_at bigint NOT NULL
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
        resource text COLLATE "C" PRIMARY KEY,
        name text NOT NULL,
        scopes text NOT NULL,
        created_at bigint NOT NULL
      );
      -- The resources an authorization request named (space-separated; NULL: none, the default resource).
      ALTER TABLE authorization_codes ADD COLUMN resources text;
      ALTER TABLE grants ADD COLUMN resources text;
      -- The one resource an access token was issued for (NULL: the default resource).
      ALTER TABLE tokens ADD COLUMN audience text;
    `,
  },
  {
    version: 18,
    name: 'API keys: integrated and standalone keys; integrations that offer them',
    sql: `
      -- Issue 16: API keys, stored only as the HMAC digest of their value (SPEC decision 9).
      CREATE TABLE api_keys (
        key_id text COLLATE "C" PRIMARY KEY,
        key_digest text COLLATE "C" NOT NULL UNIQUE,
        display_prefix text NOT NULL,
        key_type text NOT NULL CHECK (key_type IN ('integrated', 'standalone')),
        name text NOT NULL,
        client_id text COLLATE "C",
        subject_type text NOT NULL CHECK (subject_type IN ('company', 'organization')),
        subject_id text COLLATE "C" NOT NULL,
        scopes text NOT NULL,
        created_by_user_id text COLLATE "C" NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint,
        last_used_at bigint,
        revoked_at bigint,
        revocation_reason text CHECK (revocation_reason IN ('revoked', 'deleted', 'rotated')),
        CHECK ((key_type = 'integrated') = (client_id IS NOT NULL))
      );
      -- One active key per company per integration (issue 16), across instances.
      CREATE UNIQUE INDEX api_keys_one_integrated ON api_keys (client_id, subject_type, subject_id) WHERE key_type = 'integrated' AND revoked_at IS NULL;
      CREATE INDEX api_keys_by_subject ON api_keys (subject_type, subject_id, created_at);
      -- Issue 16: the integrations an administrator allowed to offer integrated keys, with their scopes.
      CREATE TABLE api_key_integrations (
        client_id text COLLATE "C" PRIMARY KEY,
        scopes text NOT NULL,
        enabled_at bigint NOT NULL,
        enabled_by text NOT NULL
      );
    `,
  },
  {
    // Issue 12: the code exchange in ONE statement (postgres-storage.ts exchangeCode): this function takes the
    // locks and makes the checks that need a fresh view of the rows once locked (PL/pgSQL: each statement
    // of a VOLATILE function takes a new snapshot); the calling statement inserts the grant, its tokens and
    // the audit event and links the code, so a failure anywhere rolls all of it back and the code stays unused.
    version: 20,
    name: 'code exchange in one statement: gatehouse_redeem_code',
    sql: `
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
    `,
  },
  {
    version: 21,
    name: 'partner webhooks: event subscriptions and delivery retention',
    sql: `
      -- Issue 15 §5: which events an endpoint receives (space-separated event types; NULL = every event).
      ALTER TABLE webhook_endpoints ADD COLUMN event_types text;
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
        client_id text COLLATE "C" PRIMARY KEY REFERENCES clients (client_id),
        reviewed jsonb NOT NULL,
        logo_content_type text,
        logo_bytes bytea,
        logo_sha256 text,
        kept_at bigint NOT NULL
      );
    `,
  },
  {
    version: 23,
    name: 'partner teams: members with roles, and the clients each team shares',
    sql: `
      -- Issue 13 "Partner teams": a developer belongs to at most one team; a team exists while it has members.
      CREATE TABLE partner_team_members (
        user_id text COLLATE "C" PRIMARY KEY REFERENCES users(user_id),
        team_id text COLLATE "C" NOT NULL,
        role text NOT NULL CHECK (role IN ('owner', 'member')),
        added_at bigint NOT NULL
      );
      CREATE INDEX partner_team_members_by_team ON partner_team_members (team_id);
      -- The team each portal client belongs to (a client without a row: its registering developer's team).
      CREATE TABLE partner_team_clients (
        client_id text COLLATE "C" PRIMARY KEY REFERENCES clients(client_id),
        team_id text COLLATE "C" NOT NULL
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
      ALTER TABLE clients ADD COLUMN description text CHECK (description IS NULL OR length(description) <= 500);
      ALTER TABLE clients ADD COLUMN category text CHECK (category IS NULL OR category IN ('accounting', 'payroll', 'crm', 'reporting', 'e-commerce', 'other'));
    `,
  },
  {
    version: 25,
    name: 'DPoP: authorization codes bound to a key (dpop_jkt)',
    sql: `
      -- RFC 9449 §10: the JWK thumbprint the authorization request named; the code redeems only with a proof by that key.
      ALTER TABLE authorization_codes ADD COLUMN dpop_jkt text;
    `,
  },
  {
    version: 26,
    name: 'clients: notify every change of a client row (client-record cache)',
    sql: `
      -- Issue 12: instances cache client records (storage/client-cache.ts) and drop one when its row changes
      -- anywhere. NOTIFY is delivered at commit (never for a rolled-back change), to every connection that
      -- LISTENs on the channel in this database; the payload is the client_id. Self-contained: the function
      -- and the trigger are this migration's own.
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
    `,
  },
];
/** A schema name usable unquoted in search_path and quoted elsewhere alike: lowercase letters, digits, `_`. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Applies the missing migrations on `client` (a dedicated connection whose search_path is `schema`),
 * creating the schema if needed. Safe when several instances run it at once.
 * @returns the versions this call applied (empty when the schema was up to date) and the current version.
 */
export async function runMigrations(client: PoolClient, schema: string): Promise<{ applied: number[]; version: number }> {
  await client.query('BEGIN');
  try {
    // Keyed by schema, so tests migrating their own schemas in parallel do not wait for each other.
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended('gatehouse.migrate:' || $1, 0))", [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${quoteIdentifier(schema)}.schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await client.query<{ version: number }>(`SELECT version FROM ${quoteIdentifier(schema)}.schema_migrations`)).rows.map((row) => row.version));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query(`INSERT INTO ${quoteIdentifier(schema)}.schema_migrations (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return { applied, version: Math.max(0, ...done, ...applied) };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
