/**
 * `npm start` (scripts/start.ts) refusing to start (issue 14): a configuration problem is one line per
 * problem and exit code 2; an operating problem while starting (the port taken, the database unreachable)
 * is one line and exit code 1. Neither prints a stack trace.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'gatehouse-start-'));
after(() => rmSync(directory, { recursive: true, force: true }));

/** Runs scripts/start.ts with `env` added to a minimal environment; at most 60 s. */
function start(env: Record<string, string>) {
  return spawnSync(process.execPath, [join(ROOT, 'scripts/start.ts')], {
    cwd: ROOT, encoding: 'utf8', timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', GATEHOUSE_LOG: 'off', GATEHOUSE_DATABASE: join(directory, `${Math.random()}.sqlite`), ...env },
  });
}

/** A named pipe with no reader (opening it for writing would block). */
function fifo(): string {
  const path = join(directory, `audit-${Math.random()}.fifo`);
  execFileSync('mkfifo', [path]);
  return path;
}

describe('npm start refusals (issue 14)', () => {
  it('lists every configuration problem, one line each, and exits 2 without a stack trace', () => {
    const run = start({ GATEHOUSE_REQUIRE_PAR: 'maybe', GATEHOUSE_OAUTH_RATE_LIMIT: 'abc', GATEHOUSE_ACCESS_TOKEN_FORMAT: 'paseto' });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /^Gatehouse cannot start: the configuration has 3 problems:\n/);
    for (const name of ['GATEHOUSE_REQUIRE_PAR', 'GATEHOUSE_OAUTH_RATE_LIMIT', 'GATEHOUSE_ACCESS_TOKEN_FORMAT']) assert.match(run.stderr, new RegExp(`  - ${name} `));
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });

  it('says the port is taken in one line, exit 1', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const run = await new Promise<ReturnType<typeof spawnSync>>((resolve) => setImmediate(() => resolve(start({ PORT: String(port), HOST: '127.0.0.1', PLATFORM_API_PORT: '0' }))));
      assert.equal(run.status, 1, String(run.stderr));
      assert.match(String(run.stderr), /^Gatehouse cannot start: listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+\n$/);
    } finally {
      taken.close();
    }
  });

  it('refuses an audit stream it cannot append to (a missing directory, a named pipe) as a configuration problem, before touching the database', () => {
    const database = join(directory, 'never-created.sqlite');
    for (const path of [join(directory, 'no-such-directory', 'audit.jsonl'), fifo()]) {
      const run = start({ GATEHOUSE_AUDIT_STREAM: `file:${path}`, GATEHOUSE_DATABASE: database, PORT: '0', PLATFORM_API_PORT: '0' });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, /^Gatehouse cannot start: the configuration has 1 problem:\n {2}- GATEHOUSE_AUDIT_STREAM[: ]/);
      assert.doesNotMatch(run.stdout, /development data/, 'nothing seeded or announced');
      assert.equal(existsSync(database), false, 'the database was not opened');
    }
  });

  it('says the database cannot be reached in one line, exit 1', () => {
    const run = start({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test', PORT: '0' });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^Gatehouse cannot start: storage unavailable: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
  });

  it('says a read-only database (a standby) in one line, exit 1, not a stack trace', async () => {
    const url = new URL(process.env.GATEHOUSE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
    const name = `gh_standby_${process.pid}`;
    const admin = new pg.Client({ connectionString: url.href });
    try {
      await admin.connect();
    } catch {
      return; // no PostgreSQL here: nothing to show
    }
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
      url.pathname = `/${name}`;
      const run = start({ DATABASE_URL: url.href, PORT: '0' });
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /^Gatehouse cannot start: storage unavailable: cannot execute CREATE SCHEMA in a read-only transaction\n$/);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`).catch(() => {});
      await admin.end();
    }
  });

  it('says a database that refuses the connection (no such database) in one line, exit 1, not a stack trace', () => {
    const url = new URL(process.env.GATEHOUSE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
    url.pathname = '/gh_no_such_database';
    const run = start({ DATABASE_URL: url.href, PORT: '0' });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /^Gatehouse cannot start: storage unavailable: [^\n]+\n$/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
});
