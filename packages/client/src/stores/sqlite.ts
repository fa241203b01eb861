/**
 * A token store in SQLite through `node:sqlite`: one file, shareable by processes on one host (WAL
 * mode; writers wait up to `busyTimeoutMilliseconds`). Each operation is one statement, so both
 * tokens of a connection are always written together.
 *
 * `node:sqlite` is synchronous: a statement waiting on another process's write blocks this process's
 * event loop for that long. Writes are one short row per refresh, so waits are short; use
 * `stores/postgres.ts` for many instances.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { ConfigurationError } from '../errors.ts';
import type { TokenStore } from '../token-store.ts';
import { fromRow, SQL_IDENTIFIER } from './columns.ts';

export interface SqliteTokenStoreOptions {
  /** Database file (created with mode 0600 when missing), or `:memory:`. */
  path: string;
  /** Default `gatehouse_connections`. */
  tableName?: string;
  /** How long a statement waits for another process's write lock; default 5000. */
  busyTimeoutMilliseconds?: number;
}

export function createSqliteTokenStore(options: SqliteTokenStoreOptions): TokenStore {
  const table = options.tableName ?? 'gatehouse_connections';
  if (!SQL_IDENTIFIER.test(table)) throw new ConfigurationError(`tableName "${table}" must match ${SQL_IDENTIFIER}`);
  if (options.path !== ':memory:' && !existsSync(options.path)) {
    // The file holds only ciphertext, but nobody else needs to read it.
    closeSync(openSync(options.path, 'a', 0o600));
  }
  const database = new DatabaseSync(options.path);
  // Creation and upgrades run under the write lock (BEGIN IMMEDIATE waits up to the busy timeout for it), and the
  // columns are read under it: processes opening an older table at once upgrade it once (an ALTER outside it
  // failed the second with "duplicate column name"). A table already up to date is opened without it, so a
  // process starts while another one writes for longer than the busy timeout.
  const upToDate = () => {
    const columns = database.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
    return columns.some((column) => column.name === 'dpop_key_ciphertext') && columns.some((column) => column.name === 'generation')
      && database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?").get(`${table}_generation`) !== undefined;
  };
  // Anything failing from here on (a file locked by another process, a table name SQLite reads as a keyword)
  // closes the database before the error is thrown: no file handle is left open.
  try {
    database.exec(`PRAGMA busy_timeout = ${Math.floor(options.busyTimeoutMilliseconds ?? 5000)}`);
    if (options.path !== ':memory:') {
      const mode = database.prepare('PRAGMA journal_mode').get() as { journal_mode: string };
      if (mode.journal_mode !== 'wal') database.exec('PRAGMA journal_mode = WAL');
    }
    if (!upToDate()) upgrade();
  } catch (error) {
    try {
      if (database.isTransaction) database.exec('ROLLBACK');
    } finally {
      // The error reported is the one that stopped the opening, not one of the rollback.
      database.close();
    }
    throw error;
  }

  function upgrade() {
    database.exec('BEGIN IMMEDIATE');
    database.exec(`CREATE TABLE IF NOT EXISTS ${table} (
      connection_id TEXT PRIMARY KEY,
      issuer TEXT NOT NULL,
      client_id TEXT NOT NULL,
      subject_urn TEXT NOT NULL,
      scope TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('active', 'reauthorization_required')),
      status_reason TEXT,
      access_token_ciphertext TEXT,
      refresh_token_ciphertext TEXT,
      access_token_expires_at INTEGER,
      version INTEGER NOT NULL,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      dpop_key_ciphertext TEXT,
      generation TEXT
    ) STRICT`);
    // RFC 9449 (issue 15 §3): tables created before DPoP keys were stored get the column.
    const columns = database.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
    if (!columns.some((column) => column.name === 'dpop_key_ciphertext')) database.exec(`ALTER TABLE ${table} ADD COLUMN dpop_key_ciphertext TEXT`);
    // Tables created before rows had a generation get the column; their rows keep null (not filled in: a refresh in
    // flight that read null must still find its row).
    if (!columns.some((column) => column.name === 'generation')) database.exec(`ALTER TABLE ${table} ADD COLUMN generation TEXT`);
    // A row inserted without the column (by an SDK release before it, still running beside this one) gets a generation
    // here, so it never matches what was read of a row deleted before it. (SQLite cannot add a random default to an
    // existing column.) A reconnect's upsert is an update: its row keeps its generation.
    database.exec(`CREATE TRIGGER IF NOT EXISTS ${table}_generation AFTER INSERT ON ${table} WHEN NEW.generation IS NULL
      BEGIN UPDATE ${table} SET generation = lower(hex(randomblob(16))) WHERE rowid = NEW.rowid; END`);
    database.exec('COMMIT');
  }

  const statements = {
    save: database.prepare(`INSERT INTO ${table} (connection_id, issuer, client_id, subject_urn, scope, status, status_reason,
        access_token_ciphertext, refresh_token_ciphertext, access_token_expires_at, version, created_at, updated_at, dpop_key_ciphertext, generation)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)
      ON CONFLICT (connection_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
        subject_urn = excluded.subject_urn, scope = excluded.scope, status = excluded.status, status_reason = excluded.status_reason,
        access_token_ciphertext = excluded.access_token_ciphertext, refresh_token_ciphertext = excluded.refresh_token_ciphertext,
        access_token_expires_at = excluded.access_token_expires_at, version = ${table}.version + 1, updated_at = excluded.updated_at,
        dpop_key_ciphertext = excluded.dpop_key_ciphertext
      RETURNING *`),
    get: database.prepare(`SELECT * FROM ${table} WHERE connection_id = ?`),
    list: database.prepare(`SELECT * FROM ${table} ORDER BY connection_id`),
    replaceTokens: database.prepare(`UPDATE ${table} SET access_token_ciphertext = ?, refresh_token_ciphertext = ?,
        access_token_expires_at = ?, scope = ?, updated_at = ?, version = version + 1, dpop_key_ciphertext = COALESCE(?, dpop_key_ciphertext)
      WHERE connection_id = ? AND generation IS ? AND version = ? AND status = 'active' RETURNING *`),
    markReauthorizationRequired: database.prepare(`UPDATE ${table} SET status = 'reauthorization_required', status_reason = ?,
        access_token_ciphertext = NULL, refresh_token_ciphertext = NULL, access_token_expires_at = NULL, dpop_key_ciphertext = NULL, updated_at = ?, version = version + 1
      WHERE connection_id = ? AND generation IS ? AND version = ? RETURNING *`),
    delete: database.prepare(`DELETE FROM ${table} WHERE connection_id = ?`),
  };

  return {
    async save(c) {
      return fromRow(statements.save.get(
        c.connectionId, c.issuer, c.clientId, c.subjectUrn, c.scope, c.status, c.statusReason,
        c.accessTokenCiphertext, c.refreshTokenCiphertext, c.accessTokenExpiresAt, c.createdAt, c.updatedAt, c.dpopKeyCiphertext ?? null,
        // Used only when the row is inserted: a replaced row (a reconnect) keeps its generation.
        randomUUID(),
      ))!;
    },
    async get(connectionId) {
      return fromRow(statements.get.get(connectionId));
    },
    async list() {
      return statements.list.all().map((row) => fromRow(row)!);
    },
    async replaceTokens(connectionId, expected, update) {
      return fromRow(statements.replaceTokens.get(
        update.accessTokenCiphertext, update.refreshTokenCiphertext, update.accessTokenExpiresAt, update.scope, update.updatedAt,
        update.dpopKeyCiphertext ?? null, connectionId, expected.generation, expected.version,
      ));
    },
    async markReauthorizationRequired(connectionId, expected, reason, at) {
      return fromRow(statements.markReauthorizationRequired.get(reason, at, connectionId, expected.generation, expected.version));
    },
    async delete(connectionId) {
      return Number(statements.delete.run(connectionId).changes) > 0;
    },
    async close() {
      if (database.isOpen) database.close();
    },
  };
}
