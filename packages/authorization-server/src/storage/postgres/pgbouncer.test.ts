/**
 * PostgreSQL behind PgBouncer in transaction mode (`pooler: 'transaction'`, GATEHOUSE_DATABASE_POOLER): the whole
 * storage contract through a real PgBouncer, and the start refused, with what to do, when the pooler or the role
 * is not set up for it. Until this file, a Gatehouse behind PgBouncer could not start ("unsupported startup
 * parameter: options"), and with `options` ignored by the pooler it answered 500 whenever two clients' statements
 * met on one server connection ("prepared statement … already exists").
 *
 * PgBouncer comes from Debian (`pgbouncer`, installed by .ci/run); without it these tests are skipped, except in CI.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { runStorageContract } from '../contract/index.ts';
import { gatehouseWith } from '../../testing/cli.ts';
import { postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { quoteIdentifier } from './migrations.ts';
import { createPostgresStorage, PostgresPoolerConfigurationError } from './postgres-storage.ts';

const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((path) => existsSync(path));
const skip = (await postgresSkipReason())
  || (PGBOUNCER === undefined && process.env.CI !== 'true' ? 'PgBouncer is not installed (apt-get install pgbouncer); CI=true runs these tests regardless' : false);

const suffix = randomBytes(6).toString('hex');
/** Set up as the README says: the role's search_path is Gatehouse's schema, and it has a statement_timeout. */
const role = `gh_pgb_${suffix}`;
const schema = role;
/** A role without a search_path of its own: its connections' current schema is `public`. */
const bareRole = `gh_pgb_bare_${suffix}`;
/** A role with its search_path but no statement_timeout. */
const untimedRole = `gh_pgb_untimed_${suffix}`;

/** Runs `sql` on a direct connection to the test database. */
async function direct(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once `port` accepts a connection; rejects if the process ends first. */
async function accepting(port: number, child: ChildProcess, output: () => string): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited (${child.exitCode}): ${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** PgBouncer in transaction mode in front of the test database, for the two roles; `stop()` ends it. */
async function startPgbouncer(ignored = 'extra_float_digits'): Promise<{ url: (user: string) => string; stop: () => Promise<void> }> {
  const database = new URL(TEST_DATABASE_URL);
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-pgbouncer-'));
  const port = await freePort();
  writeFileSync(join(directory, 'users.txt'), [role, bareRole, untimedRole].map((name) => `"${name}" ""\n`).join(''), { mode: 0o644 });
  writeFileSync(join(directory, 'pgbouncer.ini'), [
    '[databases]',
    `test = host=${database.hostname} port=${database.port || 5432} dbname=${database.pathname.slice(1)}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = trust',
    `auth_file = ${join(directory, 'users.txt')}`,
    'pool_mode = transaction',
    // Fewer server connections than the storages' pools hold: clients' statements share them.
    'default_pool_size = 2',
    'max_client_conn = 100',
    `ignore_startup_parameters = ${ignored}`,
    '',
  ].join('\n'), { mode: 0o644 });
  // PgBouncer refuses to run as root; as root it is told to switch to `nobody`.
  const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  const child = spawn(PGBOUNCER!, [...asRoot, join(directory, 'pgbouncer.ini')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  await accepting(port, child, () => output);
  return {
    url: (user) => `postgres://${user}@127.0.0.1:${port}/test`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        await exited;
      }
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

let bouncer: Awaited<ReturnType<typeof startPgbouncer>> | undefined;
if (!skip) {
  const roles = [role, bareRole, untimedRole].map(quoteIdentifier);
  await direct(`${roles.map((name) => `CREATE ROLE ${name} LOGIN;`).join(' ')}
    GRANT CREATE ON DATABASE ${quoteIdentifier(new URL(TEST_DATABASE_URL).pathname.slice(1))} TO ${roles.join(', ')};
    ALTER ROLE ${quoteIdentifier(role)} SET search_path = ${quoteIdentifier(schema)};
    ALTER ROLE ${quoteIdentifier(role)} SET statement_timeout = '10s';
    ALTER ROLE ${quoteIdentifier(untimedRole)} SET search_path = ${quoteIdentifier(untimedRole)}`);
  bouncer = await startPgbouncer();
}
after(async () => {
  await bouncer?.stop();
  if (skip) return;
  for (const name of [role, bareRole, untimedRole]) {
    await direct(`DROP OWNED BY ${quoteIdentifier(name)} CASCADE; DROP ROLE ${quoteIdentifier(name)}`).catch(() => {});
  }
});

/**
 * Empties every table of `schema` but the migrations' record (the migrations insert no rows of their own), with the
 * triggers off (the audit table refuses deletion otherwise, and the foreign keys' order does not matter): as empty
 * as a new schema, without migrating one (~0.5 s) per test.
 */
async function emptySchema(): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    const tables = (await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_migrations'", [schema])).rows;
    // DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes every table's files anew (~1 s for all).
    await client.query(['BEGIN', 'SET LOCAL session_replication_role = replica',
      ...tables.map((table) => `DELETE FROM ${quoteIdentifier(schema)}.${quoteIdentifier(table.tablename)}`), 'COMMIT'].join('; '));
  } finally {
    await client.end();
  }
}

// Every store's operations through the pooler. One schema (the role's search_path names it), migrated by the first
// test's storage and emptied before each later one.
let migrated = false;
runStorageContract('postgres behind PgBouncer (transaction mode)', async () => {
  if (migrated) await emptySchema();
  const storage = await createPostgresStorage(bouncer!.url(role), { schema, pooler: 'transaction', poolSize: 4 });
  migrated = true;
  return storage;
}, { skip, rateLimitCounters: 'shared' });

describe('postgres behind PgBouncer: the start', { skip }, () => {
  it('without GATEHOUSE_DATABASE_POOLER=transaction is refused in one line that says to set it (PgBouncer refuses the startup parameters)', async () => {
    await assert.rejects(createPostgresStorage(bouncer!.url(role), { schema }), (error: Error) => {
      assert.ok(error instanceof PostgresPoolerConfigurationError, String(error));
      assert.match(error.message, /unsupported startup parameter/);
      assert.match(error.message, /GATEHOUSE_DATABASE_POOLER=transaction/);
      return true;
    });
  });

  it("is refused when the role's search_path does not name the schema: no table is read from another schema", async () => {
    const otherSchema = `gh_pgb_other_${suffix}`;
    try {
      await assert.rejects(createPostgresStorage(bouncer!.url(bareRole), { schema: otherSchema, pooler: 'transaction', poolSize: 2 }), (error: Error) => {
        assert.ok(error instanceof PostgresPoolerConfigurationError, String(error));
        assert.match(error.message, /current schema is "public", not "gh_pgb_other_/);
        assert.match(error.message, /ALTER ROLE <user> SET search_path = gh_pgb_other_/);
        return true;
      });
    } finally {
      await direct(`DROP SCHEMA IF EXISTS ${quoteIdentifier(otherSchema)} CASCADE`);
    }
  });

  it('gatehouse config check reads the database through the pooler with the setting, and without it says to set it', async () => {
    const settings = { GATEHOUSE_ENV: 'development', DATABASE_URL: bouncer!.url(role), GATEHOUSE_DATABASE_SCHEMA: schema };
    const refused = gatehouseWith(['config', 'check'], settings);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /unsupported startup parameter: statement_timeout; a connection pooler in transaction mode \(PgBouncer\) answers so: set GATEHOUSE_DATABASE_POOLER=transaction/);
    const read = gatehouseWith(['config', 'check'], { ...settings, GATEHOUSE_DATABASE_POOLER: 'transaction' });
    assert.match(read.stdout, /database check +reachable/);
    assert.match(read.stdout, /GATEHOUSE_DATABASE_POOLER +transaction/);
  });

  it("gatehouse config check refuses, as the start does, a role whose search_path does not name the schema (it said the schema was current)", async () => {
    const otherSchema = `gh_pgb_check_${suffix}`;
    const check = gatehouseWith(['config', 'check'], {
      GATEHOUSE_ENV: 'development', DATABASE_URL: bouncer!.url(bareRole), GATEHOUSE_DATABASE_SCHEMA: otherSchema, GATEHOUSE_DATABASE_POOLER: 'transaction',
    });
    assert.equal(check.status, 2, check.stdout);
    assert.match(check.stderr, /current schema is "public", not "gh_pgb_check_[0-9a-f]+"/);
    assert.match(check.stderr, /ALTER ROLE <user> SET search_path = gh_pgb_check_/);
    // The role set up as the README says passes.
    const read = gatehouseWith(['config', 'check'], { GATEHOUSE_ENV: 'development', DATABASE_URL: bouncer!.url(role), GATEHOUSE_DATABASE_SCHEMA: schema, GATEHOUSE_DATABASE_POOLER: 'transaction' });
    assert.equal(read.status, 0, read.stderr);
  });

  it("without GATEHOUSE_DATABASE_POOLER=transaction, through a pooler told to ignore the options startup parameter, is refused: the connections' schema is not Gatehouse's", async () => {
    // PgBouncer drops `options` (search_path and statement_timeout) instead of refusing it: the migrations set their
    // own search_path, every later statement reached the role's (public) and the start went on.
    const ignoring = await startPgbouncer('extra_float_digits,options');
    const otherSchema = `gh_pgb_ignored_${suffix}`;
    try {
      await assert.rejects(createPostgresStorage(ignoring.url(bareRole), { schema: otherSchema, poolSize: 2 }), (error: Error) => {
        assert.ok(error instanceof PostgresPoolerConfigurationError, String(error));
        assert.match(error.message, /current schema is "public", not "gh_pgb_ignored_[0-9a-f]+"/);
        assert.match(error.message, /GATEHOUSE_DATABASE_POOLER=transaction/);
        return true;
      });
    } finally {
      await ignoring.stop();
      await direct(`DROP SCHEMA IF EXISTS ${quoteIdentifier(otherSchema)} CASCADE`);
    }
  });

  it("gatehouse config check without GATEHOUSE_DATABASE_POOLER=transaction, through a pooler told to ignore the startup parameters, refuses as the start does (it said the schema was reachable)", async () => {
    const ignoring = await startPgbouncer('extra_float_digits,options,statement_timeout');
    const otherSchema = `gh_pgb_ignored_check_${suffix}`;
    try {
      const check = gatehouseWith(['config', 'check'], { GATEHOUSE_ENV: 'development', DATABASE_URL: ignoring.url(bareRole), GATEHOUSE_DATABASE_SCHEMA: otherSchema });
      assert.equal(check.status, 2, check.stdout);
      assert.match(check.stderr, /current schema is "public", not "gh_pgb_ignored_check_[0-9a-f]+"/);
      assert.match(check.stderr, /GATEHOUSE_DATABASE_POOLER=transaction/);
    } finally {
      await ignoring.stop();
      await direct(`DROP SCHEMA IF EXISTS ${quoteIdentifier(otherSchema)} CASCADE`);
    }
  });

  it('reports a statement_timeout of 0 (nothing bounds a statement stuck on a lock), and starts', async () => {
    const reported: string[] = [];
    const storage = await createPostgresStorage(bouncer!.url(untimedRole), {
      schema: untimedRole, pooler: 'transaction', poolSize: 2, onConnectionError: (error) => reported.push(error.message),
    });
    try {
      assert.equal(await storage.clients.find('00000000-0000-4000-8000-000000000000'), undefined);
      assert.deepEqual(reported.length, 1);
      assert.match(reported[0]!, /statement_timeout applies, and it is 0/);
    } finally {
      await storage.close();
      await direct(`DROP SCHEMA IF EXISTS ${quoteIdentifier(untimedRole)} CASCADE`);
    }
  });
});
