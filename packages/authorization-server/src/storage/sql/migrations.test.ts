import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { migrations as postgresMigrations } from '../postgres/migrations.ts';
import { createPostgresStorage, migratePostgres } from '../postgres/postgres-storage.ts';
import { migrations as sqliteMigrations } from '../sqlite/migrations.ts';
import { createSqliteStorage, migrateSqliteFile } from '../sqlite/sqlite-storage.ts';
import type { Storage } from '../storage.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { migrationsFor } from './migrations.ts';
import { RECENT_GRANTS_WINDOW_SECONDS } from '../stores/authorization-codes.ts';
import { type SchemaSnapshot, snapshotDigest, snapshotPostgres, snapshotSqlite } from './schema-snapshot.ts';

/**
 * What the two old per-dialect lists (storage/sqlite/migrations.ts, storage/postgres/migrations.ts before
 * issue 12) left after each of their versions, captured from them by capture-schema-fixture.ts (in the git history, beside the commit
 * that added the fixture, with the old lists it ran against).
 * Never regenerate it: it is the record that databases migrated before the one list do not change.
 */
interface DialectFixture {
  /** The schema after the old list's last version, whole. */
  whole: Record<string, SchemaSnapshot>;
  /** Version → SHA-256 of the schema after it (`snapshotDigest`). */
  digests: Record<string, string>;
}
const fixture = JSON.parse(readFileSync(new URL('./schema-fixture.json', import.meta.url), 'utf8')) as { sqlite: DialectFixture; postgres: DialectFixture };
const fixtureVersions = (dialect: DialectFixture) => Object.keys(dialect.digests).map(Number).sort((a, b) => a - b);

const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-migrations-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));
const newFile = () => join(temporaryDirectory, `${randomUUID()}.sqlite`);

const postgresSkip = await postgresSkipReason();
/** One connection per test for snapshots and set-up: a new backend first loads its catalog caches, slow next to the queries. */
async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  return client;
}

describe('the one migration list (issue 12)', () => {
  it('gives each dialect the versions its old list recorded, ascending, so schema_migrations stays as it is', () => {
    for (const [dialect, rendered] of [['sqlite', sqliteMigrations], ['postgres', postgresMigrations]] as const) {
      const versions = rendered.map((migration) => migration.version);
      assert.deepEqual(versions, [...versions].sort((a, b) => a - b), `${dialect}: ascending`);
      assert.equal(new Set(versions).size, versions.length, `${dialect}: no version twice`);
      // Versions after the fixture's (26 and on) are new; the ones it covers must be exactly the old list's.
      const last = fixtureVersions(fixture[dialect]).at(-1)!;
      assert.deepEqual(versions.filter((version) => version <= last), fixtureVersions(fixture[dialect]), dialect);
      assert.deepEqual(rendered, migrationsFor(dialect), `${dialect}: the runner's list is the one list rendered`);
    }
    assert.deepEqual(fixtureVersions(fixture.sqlite).filter((version) => !fixtureVersions(fixture.postgres).includes(version)), [2], 'SQLite alone has 2 (PostgreSQL 1 includes it)');
    assert.deepEqual(fixtureVersions(fixture.postgres).filter((version) => !fixtureVersions(fixture.sqlite).includes(version)), [20], 'PostgreSQL alone has 20 (gatehouse_redeem_code)');
  });

  it('renders every step of every version into plain SQL for both dialects (no placeholder left, no empty version)', () => {
    for (const dialect of ['sqlite', 'postgres'] as const) {
      for (const migration of migrationsFor(dialect)) {
        assert.doesNotMatch(migration.sql, /undefined|\[object |\$\{|=>/, `${dialect} ${migration.version}`);
        assert.match(migration.sql, /\b(CREATE|ALTER|DROP)\b/, `${dialect} ${migration.version}`);
      }
    }
    // The vocabulary spells PostgreSQL's words only on PostgreSQL.
    assert.doesNotMatch(migrationsFor('sqlite').map((migration) => migration.sql).join('\n'), /COLLATE "C"|bigint|jsonb|bytea|boolean|text\[\]|UNLOGGED|plpgsql/);
    assert.doesNotMatch(migrationsFor('postgres').map((migration) => migration.sql).join('\n'), /AUTOINCREMENT|BLOB|COLLATE NOCASE|RAISE\(ABORT/);
  });

  it('leaves a SQLite database, after every version up to 25, identical to what the old SQLite list left', () => {
    const path = newFile();
    for (const version of fixtureVersions(fixture.sqlite)) {
      migrateSqliteFile(path, { through: version });
      const snapshot = snapshotSqlite(path);
      if (fixture.sqlite.whole[version]) assert.deepEqual(snapshot, fixture.sqlite.whole[version], `version ${version}`);
      assert.equal(snapshotDigest(snapshot), fixture.sqlite.digests[version], `SQLite schema after version ${version} differs from what the old list left (schema-fixture.json)`);
    }
  });

  it('leaves a PostgreSQL schema, after every version up to 25, identical to what the old PostgreSQL list left', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const client = await connect();
    try {
      for (const version of fixtureVersions(fixture.postgres)) {
        await migratePostgres(TEST_DATABASE_URL, { schema, through: version });
        const snapshot = await snapshotPostgres(client, schema);
        if (fixture.postgres.whole[version]) assert.deepEqual(snapshot, fixture.postgres.whole[version], `version ${version}`);
        assert.equal(snapshotDigest(snapshot), fixture.postgres.digests[version], `PostgreSQL schema after version ${version} differs from what the old list left (schema-fixture.json)`);
      }
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });
});

/**
 * A database stopped at version N is, by the tests above, the one the old list left at N. Rows written
 * then must survive the upgrade, read through today's store, and the schema must end as a new database's.
 */
describe('upgrading a database the old lists left at version N to the latest (issue 12)', () => {
  const clientId = randomUUID();
  const userId = randomUUID();
  const grantId = randomUUID();

  /** Rows every version has tables for (version 1's columns only), in the dialect's own literals. */
  const versionOneRows = (d: { true: string; redirectUris: string }) => [
    `INSERT INTO users (user_id, email, name, password_hash) VALUES ('${userId}', 'ada@example.com', 'Ada', '$argon2id$x')`,
    `INSERT INTO subjects (subject_type, subject_id, name) VALUES ('company', 'c-1', 'Ledgerly')`,
    `INSERT INTO clients (client_id, kind, client_name, client_type, secret_digest, redirect_uris, scopes, subject_type, pkce_required, status, created_at)
       VALUES ('${clientId}', 'client', 'Ledgerly Sync', 'confidential', 'digest', ${d.redirectUris}, 'invoices:read', 'company', ${d.true}, 'active', 1700000000)`,
    `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ('${grantId}', '${clientId}', '${userId}', 'company', 'c-1', 'invoices:read', 1700000000)`,
    `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at) VALUES ('t-digest', 't-1', 'refresh', '${grantId}', '${clientId}', 'invoices:read', 1700000000, 4000000000)`,
    `INSERT INTO audit_events (type, at, actor, client_id, grant_id, details) VALUES ('grant.created', 1700000000, 'user', '${clientId}', '${grantId}', '{"scope":"invoices:read"}')`,
  ];

  /** What the upgraded database must still say about those rows, through the store. */
  async function assertRowsKept(storage: Storage) {
    const client = await storage.clients.find(clientId);
    assert.ok(client, 'the client is still there');
    assert.deepEqual(
      { redirectUris: client.redirectUris, pkceRequired: client.pkceRequired, contacts: client.contacts, brandingVerified: client.brandingVerified, createdAt: client.createdAt },
      // Version 3: clients registered before it were registered by administrators, so their branding counts as reviewed.
      { redirectUris: ['https://app.example/callback'], pkceRequired: true, contacts: [], brandingVerified: true, createdAt: 1700000000 },
    );
    assert.deepEqual(await storage.users.find(userId), { userId, email: 'ada@example.com', name: 'Ada', passwordHash: '$argon2id$x' });
    assert.equal((await storage.users.findByEmail('ADA@example.com'))?.userId, userId, 'e-mail still unique and found case-insensitively');
    // Version 30 rebuilt tokens on SQLite: the token is still there, by its digest, with its jti.
    assert.equal((await storage.tokens.findByDigest('t-digest'))?.token.tokenId, 't-1');
  }

  for (const version of [1, 7, 18]) {
    it(`SQLite at version ${version}: rows kept, append-only audit still enforced, schema equal to a new database's`, async () => {
      const path = newFile();
      const versions = sqliteMigrations.map((migration) => migration.version);
      migrateSqliteFile(path, { through: version });
      const db = new DatabaseSync(path);
      for (const statement of versionOneRows({ true: '1', redirectUris: `'["https://app.example/callback"]'` })) db.exec(statement);
      db.close();

      assert.deepEqual(migrateSqliteFile(path), { applied: versions.filter((candidate) => candidate > version), version: versions.at(-1) });
      const fresh = newFile();
      migrateSqliteFile(fresh);
      assert.deepEqual(snapshotSqlite(path), snapshotSqlite(fresh));

      const storage = createSqliteStorage(path);
      try {
        await assertRowsKept(storage);
      } finally {
        await storage.close();
      }
      const check = new DatabaseSync(path);
      try {
        assert.throws(() => check.exec('DELETE FROM audit_events'), /audit events are append-only/);
        assert.equal(check.prepare('SELECT count(*) AS n FROM audit_events').get()?.n, 1, 'the audit event was not deleted');
        assert.equal((check.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
        assert.deepEqual(check.prepare('PRAGMA foreign_key_check').all(), []);
      } finally {
        check.close();
      }
    });
  }

  for (const version of [1, 7, 20]) {
    it(`PostgreSQL at version ${version}: rows kept, append-only audit still enforced, schema equal to a new schema's`, { skip: postgresSkip }, async () => {
      const schema = newTestSchema();
      const freshSchema = newTestSchema();
      const versions = postgresMigrations.map((migration) => migration.version);
      const client = await connect();
      try {
        await migratePostgres(TEST_DATABASE_URL, { schema, through: version });
        await client.query(`SET search_path = ${schema}`);
        for (const statement of versionOneRows({ true: 'true', redirectUris: `'{https://app.example/callback}'` })) await client.query(statement);

        assert.deepEqual(await migratePostgres(TEST_DATABASE_URL, { schema }), { applied: versions.filter((candidate) => candidate > version), version: versions.at(-1) });
        await migratePostgres(TEST_DATABASE_URL, { schema: freshSchema });
        assert.deepEqual(await snapshotPostgres(client, schema), await snapshotPostgres(client, freshSchema));

        const storage = await createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 1 });
        try {
          await assertRowsKept(storage);
        } finally {
          await storage.close();
        }
        await assert.rejects(client.query('DELETE FROM audit_events'), /audit events are append-only/);
        assert.equal((await client.query('SELECT count(*)::int AS n FROM audit_events')).rows[0].n, 1, 'the audit event was not deleted');
      } finally {
        await client.end();
        await dropTestSchema(schema);
        await dropTestSchema(freshSchema);
      }
    });
  }
});

/**
 * Version 30 (issue 12): tokens.token_id and refresh_token_grace.previous_digest lose their unique
 * indexes. SQLite rebuilds both tables (it cannot drop an inline UNIQUE constraint's index), so every row
 * must come through with every column, the other indexes and the foreign keys must be back, and nothing
 * may refer to the tables they were copied into.
 */
describe('version 30: no unique index on tokens.token_id nor refresh_token_grace.previous_digest, every row kept (issue 12)', () => {
  const clientId = randomUUID();
  const grantId = randomUUID();
  /** Rows of a database at version 29: a grant, and two tokens with every column of tokens set. */
  const rowsAt29 = (d: { true: string; redirectUris: string }) => [
    `INSERT INTO clients (client_id, kind, client_name, client_type, secret_digest, redirect_uris, scopes, subject_type, pkce_required, status, created_at)
       VALUES ('${clientId}', 'client', 'Ledgerly Sync', 'confidential', 'digest', ${d.redirectUris}, 'invoices:read', 'company', ${d.true}, 'active', 1700000000)`,
    `INSERT INTO users (user_id, email, name, password_hash) VALUES ('u-1', 'ada@example.com', 'Ada', '$argon2id$x')`,
    `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ('${grantId}', '${clientId}', 'u-1', 'company', 'c-1', 'invoices:read', 1700000000)`,
    `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, cleanup_after, dpop_jkt, audience)
       VALUES ('a-digest', 'a-1', 'access', '${grantId}', '${clientId}', 'invoices:read', 1700000000, 1700000900, NULL, 1700000100, NULL, 'jkt', 'https://api.example')`,
    `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at, cleanup_after, dpop_jkt, audience)
       VALUES ('r-digest', 'r-1', 'refresh', '${grantId}', '${clientId}', 'invoices:read', 1700000000, 1705184000, 1700000100, NULL, 1705184000, NULL, NULL)`,
    `INSERT INTO refresh_token_grace (grant_id, previous_digest, sealed_successor, grace_expires_at) VALUES ('${grantId}', 'r-digest', 'iv.ciphertext.tag', 1700000130)`,
  ];
  const TOKEN_INDEXES = ['tokens_access_by_expiry', 'tokens_by_grant', 'tokens_refresh_cleanup', 'tokens_revoked_access'];

  it('SQLite: rebuilds tokens and refresh_token_grace with the same columns and rows, their indexes and foreign keys, and no index on token_id or previous_digest', () => {
    const path = newFile();
    const versions = sqliteMigrations.map((migration) => migration.version);
    migrateSqliteFile(path, { through: 29 });
    const db = new DatabaseSync(path);
    for (const statement of rowsAt29({ true: '1', redirectUris: `'["https://app.example/callback"]'` })) db.exec(statement);
    const before = db.prepare('SELECT * FROM tokens ORDER BY token_digest').all();
    const graceBefore = db.prepare('SELECT * FROM refresh_token_grace').all();
    db.close();

    assert.deepEqual(migrateSqliteFile(path).applied, versions.filter((version) => version > 29));
    const check = new DatabaseSync(path);
    try {
      assert.deepEqual(check.prepare('SELECT * FROM tokens ORDER BY token_digest').all(), before, 'every row, every column, in the same order');
      const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tokens' ORDER BY name").all().map((row) => row.name);
      assert.deepEqual(indexes, ['sqlite_autoindex_tokens_1', ...TOKEN_INDEXES], 'the primary key and the four indexes; none unique on token_id');
      assert.deepEqual(check.prepare("SELECT name FROM pragma_index_info('sqlite_autoindex_tokens_1')").all().map((row) => row.name), ['token_digest']);
      assert.equal(check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE sql LIKE '%tokens_without_unique_id%' OR sql LIKE '%refresh_token_grace_by_grant%'").get()?.n, 0, 'nothing names the copies');
      assert.deepEqual(check.prepare('SELECT * FROM refresh_token_grace').all(), graceBefore);
      const graceIndexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'refresh_token_grace' ORDER BY name").all().map((row) => row.name);
      assert.deepEqual(graceIndexes, ['refresh_token_grace_by_expiry', 'sqlite_autoindex_refresh_token_grace_1'], 'the primary key (grant_id) and the expiry index');
      assert.deepEqual(check.prepare("SELECT name FROM pragma_index_info('sqlite_autoindex_refresh_token_grace_1')").all().map((row) => row.name), ['grant_id']);
      // A token id is no longer unique: the second row with it is stored (ids are random UUIDs; nothing looks them up).
      check.exec(`INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at) VALUES ('b-digest', 'a-1', 'access', '${grantId}', '${clientId}', 'invoices:read', 1700000000, 1700000900)`);
      check.exec('PRAGMA foreign_keys = ON');
      assert.throws(() => check.exec(`INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at) VALUES ('c-digest', 'c-1', 'access', 'no-such-grant', '${clientId}', 'x', 1, 2)`), /FOREIGN KEY/);
      assert.throws(() => check.exec(`INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at) VALUES ('d-digest', 'd-1', 'other', '${grantId}', '${clientId}', 'x', 1, 2)`), /CHECK/);
      assert.equal((check.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
      assert.deepEqual(check.prepare('PRAGMA foreign_key_check').all(), []);
      // The grace record still goes with its grant (ON DELETE CASCADE, SPEC decision 8).
      check.exec("DELETE FROM tokens WHERE token_digest IN ('a-digest', 'b-digest', 'r-digest')");
      check.exec(`DELETE FROM grants WHERE grant_id = '${grantId}'`);
      assert.equal(check.prepare('SELECT count(*) AS n FROM refresh_token_grace').get()?.n, 0);
    } finally {
      check.close();
    }
  });

  it('PostgreSQL: drops the constraints tokens_token_id_key and refresh_token_grace_previous_digest_key and keeps every row', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const versions = postgresMigrations.map((migration) => migration.version);
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema, through: 29 });
      await client.query(`SET search_path = ${schema}`);
      for (const statement of rowsAt29({ true: 'true', redirectUris: `'{https://app.example/callback}'` })) await client.query(statement);
      const before = (await client.query('SELECT * FROM tokens ORDER BY token_digest')).rows;
      const graceBefore = (await client.query('SELECT * FROM refresh_token_grace')).rows;

      assert.deepEqual((await migratePostgres(TEST_DATABASE_URL, { schema })).applied, versions.filter((version) => version > 29));
      assert.deepEqual((await client.query('SELECT * FROM tokens ORDER BY token_digest')).rows, before);
      const indexes = (await client.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname', [schema, 'tokens'])).rows.map((row) => row.indexname);
      assert.deepEqual(indexes, [...TOKEN_INDEXES.slice(0, 2), 'tokens_pkey', ...TOKEN_INDEXES.slice(2)], 'the primary key and the four indexes; none on token_id alone');
      await client.query(`INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at) VALUES ('b-digest', 'a-1', 'access', '${grantId}', '${clientId}', 'invoices:read', 1700000000, 1700000900)`);
      assert.deepEqual((await client.query('SELECT * FROM refresh_token_grace')).rows, graceBefore);
      const graceIndexes = (await client.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname', [schema, 'refresh_token_grace'])).rows.map((row) => row.indexname);
      assert.deepEqual(graceIndexes, ['refresh_token_grace_by_expiry', 'refresh_token_grace_pkey']);
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });
});

describe('version 33: no grant revoked before it was created, and no (client, subject) index by creation time (issue 12)', () => {
  const clientId = randomUUID();
  /** Rows of a database at version 32: a grant stamped revoked before its creation (a clock set back), one revoked after, one live. */
  const rowsAt32 = (d: { true: string; redirectUris: string }) => [
    `INSERT INTO clients (client_id, kind, client_name, client_type, secret_digest, redirect_uris, scopes, subject_type, pkce_required, status, created_at)
       VALUES ('${clientId}', 'client', 'Ledgerly Sync', 'confidential', 'digest', ${d.redirectUris}, 'invoices:read', 'company', ${d.true}, 'active', 1700000000)`,
    `INSERT INTO users (user_id, email, name, password_hash) VALUES ('u-1', 'ada@example.com', 'Ada', '$argon2id$x')`,
    `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at, revoked_at, revocation_reason)
       VALUES ('g-early', '${clientId}', 'u-1', 'company', 'c-1', 'invoices:read', 1700000500, 1700000100, 'user_revoked'),
              ('g-later', '${clientId}', 'u-1', 'company', 'c-1', 'invoices:read', 1700000000, 1700000300, 'superseded'),
              ('g-live', '${clientId}', 'u-1', 'company', 'c-1', 'invoices:read', 1700000600, NULL, NULL)`,
  ];
  const REVOKED_AT = [['g-early', 1700000500], ['g-later', 1700000300], ['g-live', null]];

  it('SQLite: stamps the early revocation with the creation time, keeps the others, drops grants_by_client_subject_created', () => {
    const path = newFile();
    const versions = sqliteMigrations.map((migration) => migration.version);
    migrateSqliteFile(path, { through: 32 });
    const db = new DatabaseSync(path);
    for (const statement of rowsAt32({ true: '1', redirectUris: `'["https://app.example/callback"]'` })) db.exec(statement);
    db.close();
    assert.deepEqual(migrateSqliteFile(path).applied, versions.filter((version) => version > 32));
    const check = new DatabaseSync(path);
    try {
      assert.deepEqual(check.prepare('SELECT grant_id, revoked_at FROM grants ORDER BY grant_id').all().map((row) => [row.grant_id, row.revoked_at]), REVOKED_AT);
      assert.equal(check.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'grants_by_client_subject_created'").get()?.n, 0);
    } finally {
      check.close();
    }
  });

  it('PostgreSQL: the same (the supersede in gatehouse_redeem_code: contract/grants.ts)', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const versions = postgresMigrations.map((migration) => migration.version);
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema, through: 32 });
      await client.query(`SET search_path = ${schema}`);
      for (const statement of rowsAt32({ true: 'true', redirectUris: `'{https://app.example/callback}'` })) await client.query(statement);
      assert.deepEqual((await migratePostgres(TEST_DATABASE_URL, { schema })).applied, versions.filter((version) => version > 32));
      assert.deepEqual((await client.query('SELECT grant_id, revoked_at FROM grants ORDER BY grant_id')).rows.map((row) => [row.grant_id, row.revoked_at === null ? null : Number(row.revoked_at)]), REVOKED_AT);
      const indexes = (await client.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2', [schema, 'grants'])).rows.map((row) => row.indexname);
      // Its successor grants_by_subject (version 35) serves the decision 6 check since.
      assert.ok(indexes.includes('grants_by_subject') && !indexes.includes('grants_by_client_subject_created'), indexes.join(', '));
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });
});

describe("version 35: one grants index by subject; SQLite's code indexes by subject and user whole (issue 12)", () => {
  const grantsIndexesAfter = ['grants_by_subject'];
  const grantsIndexesGone = ['grants_by_client_subject_revoked', 'grants_active_by_subject'];

  it('SQLite: grants_by_subject replaces the two; the code indexes by subject and user have no condition, so redeeming a code leaves them alone', () => {
    const path = newFile();
    const versions = sqliteMigrations.map((migration) => migration.version);
    migrateSqliteFile(path, { through: 34 });
    assert.deepEqual(migrateSqliteFile(path).applied, versions.filter((version) => version > 34));
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      const indexes = new Map((db.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('grants', 'authorization_codes')").all() as { name: string; sql: string | null }[])
        .map((row) => [row.name, row.sql ?? '']));
      for (const name of grantsIndexesAfter) assert.ok(indexes.has(name), name);
      for (const name of [...grantsIndexesGone, 'authorization_codes_unredeemed_by_subject', 'authorization_codes_unredeemed_by_user']) assert.ok(!indexes.has(name), name);
      assert.match(indexes.get('grants_by_subject')!, /ON grants \(subject_type, subject_id, revoked_at, client_id\)$/);
      assert.match(indexes.get('authorization_codes_by_subject')!, /ON authorization_codes \(subject_type, subject_id\)$/);
      assert.match(indexes.get('authorization_codes_by_user')!, /ON authorization_codes \(user_id\)$/);
    } finally {
      db.close();
    }
  });

  it('PostgreSQL: grants_by_subject replaces the two; the code indexes stay partial (a whole one would take an entry at every redemption there)', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const versions = postgresMigrations.map((migration) => migration.version);
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema, through: 34 });
      assert.deepEqual((await migratePostgres(TEST_DATABASE_URL, { schema })).applied, versions.filter((version) => version > 34));
      const indexes = new Map((await client.query("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename IN ('grants', 'authorization_codes')", [schema])).rows
        .map((row) => [String(row.indexname), String(row.indexdef)]));
      for (const name of grantsIndexesAfter) assert.ok(indexes.has(name), name);
      for (const name of grantsIndexesGone) assert.ok(!indexes.has(name), name);
      assert.match(indexes.get('grants_by_subject')!, /\(subject_type, subject_id, revoked_at, client_id\)$/);
      // Partial still (migration 36 added the first column's non-null to their condition).
      assert.match(indexes.get('authorization_codes_unredeemed_by_subject')!, /WHERE \(\(grant_id IS NULL\) AND/);
      assert.match(indexes.get('authorization_codes_unredeemed_by_user')!, /WHERE \(\(grant_id IS NULL\) AND/);
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });
});

describe('version 36: partial indexes only a query on their first column can use (PostgreSQL, issue 12)', () => {
  it('each keeps its columns and condition and adds its first column\'s non-null; SQLite is untouched', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const versions = postgresMigrations.map((migration) => migration.version);
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema, through: 35 });
      assert.deepEqual((await migratePostgres(TEST_DATABASE_URL, { schema })).applied, versions.filter((version) => version > 35));
      const indexes = new Map((await client.query('SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1', [schema])).rows
        .map((row) => [String(row.indexname), String(row.indexdef).replace(/ON \S+\./, 'ON ')]));
      const expected: Record<string, RegExp> = {
        grants_active_by_user: /ON grants USING btree \(user_id\) WHERE \(\(revoked_at IS NULL\) AND \(user_id IS NOT NULL\)\)$/,
        grants_one_active: /^CREATE UNIQUE INDEX .* \(client_id, subject_type, subject_id\) WHERE \(\(revoked_at IS NULL\) AND \(client_id IS NOT NULL\)\)$/,
        grants_revoked_cleanup: /\(cleanup_after\) WHERE \(\(revoked_at IS NOT NULL\) AND \(cleanup_after IS NOT NULL\)\)$/,
        tokens_access_by_expiry: /\(expires_at\) WHERE \(\(kind = 'access'::text\) AND \(expires_at IS NOT NULL\)\)$/,
        tokens_refresh_cleanup: /\(COALESCE\(cleanup_after, expires_at\)\) WHERE \(\(kind = 'refresh'::text\) AND \(COALESCE\(cleanup_after, expires_at\) IS NOT NULL\)\)$/,
        authorization_codes_unredeemed_by_subject: /\(subject_type, subject_id\) WHERE \(\(grant_id IS NULL\) AND \(subject_type IS NOT NULL\)\)$/,
        authorization_codes_unredeemed_by_user: /\(user_id\) WHERE \(\(grant_id IS NULL\) AND \(user_id IS NOT NULL\)\)$/,
        webhook_deliveries_finished: /\(created_at\) WHERE \(\(next_attempt_at IS NULL\) AND \(created_at IS NOT NULL\)\)$/,
        api_keys_one_integrated: /^CREATE UNIQUE INDEX .* \(client_id, subject_type, subject_id\) WHERE \(\(key_type = 'integrated'::text\) AND \(revoked_at IS NULL\) AND \(client_id IS NOT NULL\)\)$/,
      };
      for (const [name, pattern] of Object.entries(expected)) assert.match(indexes.get(name) ?? `(no ${name})`, pattern, name);
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
    assert.ok(!sqliteMigrations.some((migration) => migration.version === 36), 'PostgreSQL only');
  });
});

describe('versions 37, 38, 39 and 41: refresh rotations and code exchanges in batches, with generic plans (PostgreSQL, issue 12)', () => {
  // Since version 47 (AuthenticatedClient) each has a second overload, the earlier kept for a rolling deploy
  // (the rotation's says why it did not rotate: text[]; since 51 a third, with the scopes left: a record): each planned alike.
  const functions: Array<[version: number, name: string, returns: string[]]> = [
    [37, 'gatehouse_rotate_refresh_tokens', ['boolean[]', 'record', 'text[]']],
    [38, 'gatehouse_exchange_ready_codes', ['record', 'record']],
    [41, 'gatehouse_rotate_ready_refresh_tokens', ['record', 'record']],
  ];
  for (const [version, name, returns] of functions) {
    it(`version ${version} adds ${name}, costed without sequential scans and planned once (39); SQLite is untouched`, { skip: postgresSkip }, async () => {
      const schema = newTestSchema();
      const versions = postgresMigrations.map((migration) => migration.version);
      const client = await connect();
      try {
        await migratePostgres(TEST_DATABASE_URL, { schema, through: version - 1 });
        assert.deepEqual((await migratePostgres(TEST_DATABASE_URL, { schema })).applied, versions.filter((applied) => applied >= version));
        const { rows } = await client.query(
          `SELECT p.prorettype::regtype::text AS returns, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = $1 AND p.proname = $2`,
          [schema, name],
        );
        assert.deepEqual(rows.map((row) => row.returns).sort(), returns);
        for (const row of rows) assert.deepEqual(row.proconfig, ['enable_seqscan=off', 'plan_cache_mode=force_generic_plan']);
        assert.ok(!sqliteMigrations.some((migration) => migration.version === 39), 'PostgreSQL only');
      } finally {
        await client.end();
        await dropTestSchema(schema);
      }
      assert.ok(!sqliteMigrations.some((migration) => migration.version === version), 'PostgreSQL only');
    });
  }
});

describe('version 47: gatehouse_redeem_code with the client check (AuthenticatedClient)', () => {
  it('keeps migration 34\'s guard: both overloads costed without sequential scans', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema });
      const { rows } = await client.query(
        `SELECT p.pronargs, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = $1 AND p.proname = 'gatehouse_redeem_code' ORDER BY p.pronargs`,
        [schema],
      );
      // 49's (with the scope to grant: README "Registering clients") beside 47's, kept for a rolling deploy.
      assert.deepEqual(rows, [8, 10, 11].map((pronargs) => ({ pronargs, proconfig: ['enable_seqscan=off'] })));
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });
});

describe('version 49: the scope an exchange or rotation writes, read under its locks (README "Registering clients")', () => {
  it('gatehouse_scope_within keeps the scopes the client is registered for, in the order given (clients/registration.ts registeredScopes)', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema });
      const { rows } = await client.query(
        `SELECT ${schema}.gatehouse_scope_within('vendors:write users:read admin', 'users:read vendors:write') AS kept,
           ${schema}.gatehouse_scope_within('admin', 'users:read') AS none, ${schema}.gatehouse_scope_within('users:read', NULL) AS unknown,
           ${schema}.gatehouse_scope_within('', 'users:read') AS empty`,
      );
      assert.deepEqual(rows, [{ kept: 'vendors:write users:read', none: '', unknown: '', empty: '' }]);
      assert.ok(!sqliteMigrations.some((migration) => migration.version === 49), 'PostgreSQL only');
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });
});

describe('version 40: tokens_by_grant holds revoked_at (issue 12, "flat with size")', () => {
  const grantId = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
  const tokenRows = [
    ['old-access', 'access', 1700000100],
    ['live-access', 'access', null],
    ['live-refresh', 'refresh', null],
  ] as const;

  it('SQLite: the index is (grant_id, kind, expires_at, revoked_at), its rows kept; the access revocation searches it', () => {
    const path = newFile();
    const versions = sqliteMigrations.map((migration) => migration.version);
    migrateSqliteFile(path, { through: 39 });
    const db = new DatabaseSync(path);
    db.exec("INSERT INTO users (user_id, email, name, password_hash) VALUES ('u-40', 'ada@example.com', 'Ada', '$argon2id$x')");
    db.exec(`INSERT INTO clients (client_id, kind, client_name, client_type, secret_digest, redirect_uris, scopes, subject_type, pkce_required, status, created_at)
      VALUES ('c-40', 'client', 'Ledgerly Sync', 'confidential', 'digest', '["https://app.example/callback"]', 'invoices:read', 'company', 1, 'active', 1700000000)`);
    db.exec(`INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ('${grantId}', 'c-40', 'u-40', 'company', 'c-1', 'invoices:read', 1700000000)`);
    const insert = db.prepare(`INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, revoked_at)
      VALUES (?, ?, ?, '${grantId}', 'c-40', 'invoices:read', 1700000000, 1700000900, ?)`);
    for (const [digest, kind, revokedAt] of tokenRows) insert.run(digest, `${digest}-id`, kind, revokedAt);
    db.close();

    assert.deepEqual(migrateSqliteFile(path).applied, versions.filter((version) => version >= 40));
    const check = new DatabaseSync(path);
    try {
      assert.deepEqual(check.prepare("SELECT name FROM pragma_index_info('tokens_by_grant') ORDER BY seqno").all().map((row) => row.name),
        ['grant_id', 'kind', 'expires_at', 'revoked_at']);
      // The rotation's statement (stores/tokens.ts): found by the index, the revoked token skipped on it.
      const plan = (check.prepare(`EXPLAIN QUERY PLAN UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND kind = 'access' AND revoked_at IS NULL`)
        .all(1, grantId) as Array<{ detail: string }>).map((step) => step.detail).join(' | ');
      assert.match(plan, /SEARCH tokens USING INDEX tokens_by_grant \(grant_id=\? AND kind=\?\)/, plan);
      const live = check.prepare(`SELECT token_digest FROM tokens INDEXED BY tokens_by_grant WHERE grant_id = ? AND kind = 'access' AND revoked_at IS NULL`).all(grantId);
      assert.deepEqual(live.map((row) => row.token_digest), ['live-access']);
      assert.equal(check.prepare('SELECT count(*) AS n FROM tokens').get()?.n, tokenRows.length);
    } finally {
      check.close();
    }
  });

  it('PostgreSQL: the same index, its rows kept', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const versions = postgresMigrations.map((migration) => migration.version);
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema, through: 39 });
      await client.query(`SET search_path = ${schema}`);
      await client.query("INSERT INTO users (user_id, email, name, password_hash) VALUES ('u-40', 'ada@example.com', 'Ada', '$argon2id$x')");
      await client.query(`INSERT INTO clients (client_id, kind, client_name, client_type, secret_digest, redirect_uris, scopes, subject_type, pkce_required, status, created_at)
        VALUES ('c-40', 'client', 'Ledgerly Sync', 'confidential', 'digest', '{https://app.example/callback}', 'invoices:read', 'company', true, 'active', 1700000000)`);
      await client.query(`INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ('${grantId}', 'c-40', 'u-40', 'company', 'c-1', 'invoices:read', 1700000000)`);
      for (const [digest, kind, revokedAt] of tokenRows) {
        await client.query(`INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, revoked_at)
          VALUES ($1, $2, $3, '${grantId}', 'c-40', 'invoices:read', 1700000000, 1700000900, $4)`, [digest, `${digest}-id`, kind, revokedAt]);
      }
      assert.deepEqual((await migratePostgres(TEST_DATABASE_URL, { schema })).applied, versions.filter((version) => version >= 40));
      const { rows } = await client.query('SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, 'tokens_by_grant']);
      assert.match(String(rows[0]?.indexdef), /\(grant_id, kind, expires_at, revoked_at\)$/);
      assert.equal((await client.query('SELECT count(*)::int AS n FROM tokens')).rows[0].n, tokenRows.length);
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });
});

describe('version 43: users.email_key, e-mails folded by one Unicode lowercase on both databases', () => {
  it('SQLite: existing addresses keyed in code; of two that differ only in non-ASCII case the lowercase one keeps the key', () => {
    const path = newFile();
    const versions = sqliteMigrations.map((migration) => migration.version);
    migrateSqliteFile(path, { through: 42 });
    const db = new DatabaseSync(path);
    const insert = db.prepare("INSERT INTO users (user_id, email, name, password_hash) VALUES (?, ?, 'Someone', NULL)");
    // Until now NOCASE let both of these in (it folds ASCII only); only the lowercase one could sign in.
    for (const [userId, email] of [['u-a', 'Émile@example.com'], ['u-b', 'émile@example.com'], ['u-c', 'Øystein@Example.no'], ['u-d', 'ada@example.com']]) insert.run(userId, email);
    db.close();

    assert.deepEqual(migrateSqliteFile(path).applied, versions.filter((version) => version >= 43));
    const check = new DatabaseSync(path);
    try {
      assert.deepEqual(check.prepare('SELECT user_id, email_key FROM users ORDER BY user_id').all().map((row) => [row.user_id, row.email_key]), [
        ['u-a', null], ['u-b', 'émile@example.com'], ['u-c', 'øystein@example.no'], ['u-d', 'ada@example.com'],
      ]);
      assert.throws(() => check.prepare("INSERT INTO users (user_id, email, email_key, name, password_hash) VALUES ('u-e', 'ØYSTEIN@example.no', 'øystein@example.no', 'X', NULL)").run(), /UNIQUE/);
    } finally {
      check.close();
    }
  });

  it('PostgreSQL: the column filled by lower(), no index of its own (PostgreSQL keeps comparing by lower(email))', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const versions = postgresMigrations.map((migration) => migration.version);
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema, through: 42 });
      await client.query(`SET search_path = ${schema}`);
      await client.query("INSERT INTO users (user_id, email, name, password_hash) VALUES ('u-c', 'Øystein@Example.no', 'Øystein', NULL)");
      assert.deepEqual((await migratePostgres(TEST_DATABASE_URL, { schema })).applied, versions.filter((version) => version >= 43));
      assert.equal((await client.query('SELECT email_key FROM users')).rows[0].email_key, 'øystein@example.no');
      const { rows } = await client.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND indexname = $2', [schema, 'users_email_key']);
      assert.deepEqual(rows, []);
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });
});

describe('version 48: what a code saw of its (client, subject) as it was written (SPEC decision 6 in commit order)', () => {
  const NOW48 = 1_800_000_000;
  const clientRow = `INSERT INTO clients (client_id, kind, client_name, client_type, secret_digest, redirect_uris, scopes, subject_type, pkce_required, status, created_at)
    VALUES ('c-48', 'client', 'Ledgerly Sync', 'confidential', 'digest', %URIS%, 'users:read', 'company', %TRUE%, 'active', ${NOW48 - 1000})`;
  const codeRow = (digest: string) => `INSERT INTO authorization_codes (code_digest, client_id, user_id, redirect_uri, scope, subject_type, subject_id, code_challenge, issued_at, expires_at)
    VALUES ('${digest}', 'c-48', 'u-48', 'https://app.example/callback', 'users:read', 'company', 'co-48', NULL, ${NOW48}, ${NOW48 + 60})`;
  const grantRecordAt = (createdAt: number) => ({
    grantId: randomUUID(), clientId: 'c-48', userId: 'u-48', subjectType: 'company' as const, subjectId: 'co-48', scope: ['users:read'],
    createdAt, revokedAt: null, revocationReason: null,
  });
  const pairOf = (grantId: string, at: number) => [
    { tokenDigest: randomUUID(), tokenId: randomUUID(), kind: 'access' as const, grantId, clientId: 'c-48', scope: ['users:read'], issuedAt: at, expiresAt: at + 900, rotatedAt: null, revokedAt: null },
    { tokenDigest: randomUUID(), tokenId: randomUUID(), kind: 'refresh' as const, grantId, clientId: 'c-48', scope: ['users:read'], issuedAt: at, expiresAt: at + 86_400, rotatedAt: null, revokedAt: null },
  ];

  it('SQLite: a code written before it (both columns NULL) is judged by whole seconds, as it was, and redeems; a code written after it records what it saw', async () => {
    const path = newFile();
    migrateSqliteFile(path, { through: 47 });
    const db = new DatabaseSync(path);
    db.exec("INSERT INTO users (user_id, email, name, password_hash) VALUES ('u-48', 'ada@example.com', 'Ada', '$argon2id$x')");
    db.exec(clientRow.replace('%URIS%', `'["https://app.example/callback"]'`).replace('%TRUE%', '1'));
    db.exec(codeRow('code-before-48'));
    db.close();
    const storage = createSqliteStorage(path);
    try {
      const check = new DatabaseSync(path);
      assert.deepEqual({ ...check.prepare('SELECT active_grant_at_issue, recent_grants_at_issue FROM authorization_codes').get() }, { active_grant_at_issue: null, recent_grants_at_issue: null });
      check.close();
      const grant = grantRecordAt(NOW48);
      const result = await storage.grants.exchangeCode('code-before-48', 'c-48', NOW48, grant, pairOf(grant.grantId, NOW48));
      assert.equal(result.outcome, 'issued');
      // A code written now records what it saw: the grant just issued, live, created in its second.
      await storage.authorizationCodes.create({
        codeDigest: 'code-after-48', clientId: 'c-48', userId: 'u-48', redirectUri: 'https://app.example/callback', scope: ['users:read'],
        subjectType: 'company', subjectId: 'co-48', codeChallenge: null, issuedAt: NOW48, expiresAt: NOW48 + 60,
      });
      const after = new DatabaseSync(path);
      assert.deepEqual({ ...after.prepare("SELECT active_grant_at_issue, recent_grants_at_issue FROM authorization_codes WHERE code_digest = 'code-after-48'").get() },
        { active_grant_at_issue: grant.grantId, recent_grants_at_issue: 1 });
      after.close();
    } finally {
      await storage.close();
    }
  });

  it('PostgreSQL: the same; gatehouse_redeem_code (both overloads) redeems a code written before it', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const versions = postgresMigrations.map((migration) => migration.version);
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema, through: 47 });
      await client.query(`SET search_path = ${schema}`);
      await client.query("INSERT INTO users (user_id, email, name, password_hash) VALUES ('u-48', 'ada@example.com', 'Ada', '$argon2id$x')");
      await client.query(clientRow.replace('%URIS%', `'{https://app.example/callback}'`).replace('%TRUE%', 'true'));
      await client.query(codeRow('code-a'));
      await client.query(codeRow('code-b'));
      assert.deepEqual((await migratePostgres(TEST_DATABASE_URL, { schema })).applied, versions.filter((version) => version >= 48));
      assert.deepEqual((await client.query("SELECT active_grant_at_issue, recent_grants_at_issue FROM authorization_codes WHERE code_digest = 'code-a'")).rows,
        [{ active_grant_at_issue: null, recent_grants_at_issue: null }]);
      // The current overload (migration 47's arguments, replaced by 48) and the one kept for a rolling deploy.
      const current = await client.query(`SELECT redeem_outcome FROM gatehouse_redeem_code('code-a', 'c-48', 'c-48', 'company', 'co-48', ${NOW48}, ${NOW48}, true, false, NULL)`);
      assert.deepEqual(current.rows, [{ redeem_outcome: 'issued' }]);
      const previous = await client.query(`SELECT redeem_outcome FROM gatehouse_redeem_code('code-b', 'c-48', 'c-48', 'company', 'co-48', ${NOW48}, ${NOW48}, true)`);
      assert.deepEqual(previous.rows, [{ redeem_outcome: 'issued' }]);
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });

  it('PostgreSQL: gatehouse_redeem_code counts the same window of recent grants as the code insert (RECENT_GRANTS_WINDOW_SECONDS)', { skip: postgresSkip }, async () => {
    const schema = newTestSchema();
    const client = await connect();
    try {
      await migratePostgres(TEST_DATABASE_URL, { schema });
      const { rows } = await client.query(
        `SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname = 'gatehouse_redeem_code' AND p.pronargs IN (10, 11) ORDER BY p.pronargs`,
        [schema],
      );
      assert.equal(rows.length, 2, "48's and 49's");
      for (const row of rows) {
        const windows = [...String(row.prosrc).matchAll(/v_code\.issued_at - (\d+)/g)].map((match) => Number(match[1]));
        assert.ok(windows.length >= 3, String(row.prosrc));
        assert.deepEqual([...new Set(windows)], [RECENT_GRANTS_WINDOW_SECONDS]);
      }
    } finally {
      await client.end();
      await dropTestSchema(schema);
    }
  });
});
