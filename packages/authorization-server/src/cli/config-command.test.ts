import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { seedDevelopmentData } from '../seed/development-seed.ts';
import { DatabaseSync } from 'node:sqlite';
import { migrations as sqliteMigrations } from '../storage/sqlite/migrations.ts';
import { createSqliteStorage, migrateSqliteFile } from '../storage/sqlite/sqlite-storage.ts';
import { gatehouseWith as gatehouse } from '../testing/cli.ts';
import { postgresSkipReason, TEST_DATABASE_URL } from '../testing/postgres.ts';

const directory = mkdtempSync(join(tmpdir(), 'gatehouse-config-check-'));
after(() => rmSync(directory, { recursive: true, force: true }));
const postgresSkip = await postgresSkipReason();
const PRODUCTION = { GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example', GATEHOUSE_TOKEN_KEY: 'k'.repeat(43) };

describe('gatehouse config check (issue 14)', () => {
  it('prints the effective configuration with secrets masked and warns about unknown GATEHOUSE_ variables', () => {
    const key = 'k'.repeat(43);
    // --offline: db.example is not reached for (see below for the database check).
    const run = gatehouse(['config', 'check', '--offline', '--json'], {
      GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example', GATEHOUSE_TOKEN_KEY: key,
      DATABASE_URL: 'postgres://gatehouse:s3cret@db.example/gh', GATEHOUSE_TOKEN_KYE: 'typo',
      // The partner side's settings (README: exported for gatehouse-connect) are not typos.
      GATEHOUSE_CLIENT_ID: '7af385a0-284d-48c5-b225-362862085551', GATEHOUSE_CLIENT_SECRET: 'partner-secret', GATEHOUSE_API_URL: 'http://localhost:3001',
    });
    assert.equal(run.status, 0, run.stderr);
    const output = JSON.parse(run.stdout);
    assert.equal(output.valid, true);
    assert.equal(output.configuration.GATEHOUSE_ISSUER, 'https://auth.example');
    assert.equal(output.configuration.GATEHOUSE_TOKEN_KEY, 'set (32 bytes, not shown)');
    assert.equal(output.configuration.database, 'postgres postgres://gatehouse@db.example/gh');
    // Issue 12: PostgreSQL's rate-limit counters are flushed in the background by default.
    assert.match(output.configuration.GATEHOUSE_RATE_LIMIT_COUNTERS, /^shared \(every instance's hits added to the database every 250 ms/);
    assert.equal(output.configuration.GATEHOUSE_RATE_LIMIT_FLUSH_INTERVAL_MS, '250');
    assert.deepEqual(output.warnings, ['GATEHOUSE_TOKEN_KYE is not a Gatehouse setting (a typo?); it is ignored']);
    assert.ok(!run.stdout.includes(key) && !run.stdout.includes('s3cret') && !run.stdout.includes('partner-secret'));
  });

  it('lists every problem, one a line, and exits 2', () => {
    const run = gatehouse(['config', 'check'], { GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'http://auth.example', PORT: 'eighty' });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /the configuration has 3 problems:\n {2}- PORT must be a port number \(0 to 65535\) \(got "eighty"\)\n {2}- GATEHOUSE_ISSUER must be https in production/);
    assert.match(run.stderr, /- GATEHOUSE_TOKEN_KEY is required in production/);
  });

  it('reads the database without changing it: a production database holding the development seed is the problem the start would refuse', async () => {
    const path = join(directory, 'seeded.sqlite');
    const storage = createSqliteStorage(path);
    await seedDevelopmentData(storage, { brandName: 'Gatehouse', now: 1_800_000_000, apiAudience: 'http://localhost:3001' });
    await storage.close();
    const filesBefore = readdirSync(directory).sort();
    const development = gatehouse(['config', 'check', '--json'], { GATEHOUSE_DATABASE: path });
    assert.deepEqual(readdirSync(directory).sort(), filesBefore, 'no -wal or -shm file left behind');
    assert.equal(development.status, 0, development.stderr);
    assert.match(JSON.parse(development.stdout).configuration['database check'], /^reachable; schema version \d+ \(current\)$/);
    const production = gatehouse(['config', 'check', '--json'], { ...PRODUCTION, GATEHOUSE_DATABASE: path });
    assert.equal(production.status, 2);
    assert.match(JSON.parse(production.stdout).problems[0], /^the database holds development seed data, refused in production: "Ledgerly Sync"/);
    assert.equal(gatehouse(['config', 'check', '--offline'], { ...PRODUCTION, GATEHOUSE_DATABASE: path }).status, 0, '--offline skips it');
    // A file that does not exist yet is not created by the check.
    const fresh = join(directory, 'fresh.sqlite');
    const run = gatehouse(['config', 'check', '--json'], { ...PRODUCTION, GATEHOUSE_DATABASE: fresh });
    assert.equal(run.status, 0, run.stderr);
    assert.match(JSON.parse(run.stdout).configuration['database check'], /no tables there yet/);
    assert.equal(existsSync(fresh), false);
  });

  it('says a database lacking a migration below a recorded one (a gap: the start refuses it) is a problem, naming the version, exit 2', () => {
    const path = join(directory, 'gap.sqlite');
    migrateSqliteFile(path);
    const middle = sqliteMigrations.at(-2)!.version;
    const db = new DatabaseSync(path);
    db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(middle);
    db.close();
    const run = gatehouse(['config', 'check', '--json'], { GATEHOUSE_DATABASE: path });
    assert.equal(run.status, 2, run.stderr);
    const output = JSON.parse(run.stdout);
    assert.deepEqual(output.problems.length, 1, run.stdout);
    assert.match(output.problems[0], new RegExp(`^GATEHOUSE_DATABASE: the database file lacks migration ${middle} \\(".*"\\) but records later versions \\(up to ${sqliteMigrations.at(-1)!.version}\\)`));
    // The check changes nothing: the version is still missing.
    const after = new DatabaseSync(path, { readOnly: true });
    assert.equal(after.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(middle), undefined);
    after.close();
  });

  it('says a PostgreSQL database it cannot read (no such database) is a problem, naming DATABASE_URL, exit 2', { skip: postgresSkip }, () => {
    const url = new URL(TEST_DATABASE_URL);
    url.pathname = '/gh_no_such_database';
    const run = gatehouse(['config', 'check'], { DATABASE_URL: url.href });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /- DATABASE_URL: the database cannot be read \(database "gh_no_such_database" does not exist\) \(--offline skips this check\)/);
  });
});
