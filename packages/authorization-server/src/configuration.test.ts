import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIGURATION_VARIABLES, ConfigurationError, describeConfiguration, describeDatabase, loadConfiguration } from './configuration.ts';
import { resolveOptions } from './options.ts';
import { systemClock } from './clock.ts';

describe('configuration: the database and the cleanup job', () => {
  it('uses SQLite (GATEHOUSE_DATABASE) without DATABASE_URL, and cleans up every 60 s in batches of 500 by default', () => {
    const configuration = loadConfiguration({ GATEHOUSE_DATABASE: '/tmp/g.sqlite' });
    assert.deepEqual(configuration.database, { kind: 'sqlite', path: '/tmp/g.sqlite' });
    assert.deepEqual(configuration.cleanup, { intervalSeconds: 60, batchSize: 500 });
    assert.deepEqual(loadConfiguration({}).database, { kind: 'sqlite', path: './data/gatehouse.sqlite' });
  });

  it('selects PostgreSQL when DATABASE_URL is a postgres:// or postgresql:// URL, with schema and pool size', () => {
    assert.deepEqual(loadConfiguration({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test', GATEHOUSE_DATABASE: '/ignored.sqlite' }).database, {
      kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test', schema: undefined, poolSize: 10, clientCacheEntries: 10_000, statementTimeoutMillis: 10_000, pooler: 'none',
      rateLimitCounters: 'shared', rateLimitFlushIntervalMs: 250,
    });
    assert.deepEqual(loadConfiguration({ DATABASE_URL: 'postgresql://db/gh', GATEHOUSE_DATABASE_SCHEMA: 'gatehouse', GATEHOUSE_DATABASE_POOL_SIZE: '25' }).database, {
      kind: 'postgres', url: 'postgresql://db/gh', schema: 'gatehouse', poolSize: 25, clientCacheEntries: 10_000, statementTimeoutMillis: 10_000, pooler: 'none',
      rateLimitCounters: 'shared', rateLimitFlushIntervalMs: 250,
    });
    // Issue 12: 0 turns the client-record cache and its LISTEN connection off (a transaction-mode pooler).
    assert.deepEqual(loadConfiguration({ DATABASE_URL: 'postgres://db/gh', GATEHOUSE_CLIENT_CACHE_ENTRIES: '0' }).database, {
      kind: 'postgres', url: 'postgres://db/gh', schema: undefined, poolSize: 10, clientCacheEntries: 0, statementTimeoutMillis: 10_000, pooler: 'none',
      rateLimitCounters: 'shared', rateLimitFlushIntervalMs: 250,
    });
    assert.throws(() => loadConfiguration({ DATABASE_URL: 'postgres://db/gh', GATEHOUSE_CLIENT_CACHE_ENTRIES: '-1' }), /GATEHOUSE_CLIENT_CACHE_ENTRIES/);
    assert.equal((loadConfiguration({ DATABASE_URL: 'postgres://db/gh', GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS: '0' }).database as { statementTimeoutMillis: number }).statementTimeoutMillis, 0);
    assert.throws(() => loadConfiguration({ DATABASE_URL: 'postgres://db/gh', GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS: 'soon' }), /GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS/);
  });

  it('GATEHOUSE_DATABASE_POOLER=transaction (PgBouncer in transaction mode) refuses the settings it cannot apply, and other values', () => {
    assert.equal((loadConfiguration({ DATABASE_URL: 'postgres://db/gh', GATEHOUSE_DATABASE_POOLER: 'transaction' }).database as { pooler: string }).pooler, 'transaction');
    assert.equal((loadConfiguration({ DATABASE_URL: 'postgres://db/gh', GATEHOUSE_DATABASE_POOLER: 'transaction', GATEHOUSE_CLIENT_CACHE_ENTRIES: '0' }).database as { pooler: string }).pooler, 'transaction');
    const problems = (env: Record<string, string>) => {
      try {
        loadConfiguration({ DATABASE_URL: 'postgres://db/gh', ...env });
        return [];
      } catch (error) {
        return (error as ConfigurationError).problems;
      }
    };
    assert.match(problems({ GATEHOUSE_DATABASE_POOLER: 'session' }).join('\n'), /GATEHOUSE_DATABASE_POOLER must be none or transaction/);
    assert.match(problems({ GATEHOUSE_DATABASE_POOLER: 'transaction', GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS: '5000' }).join('\n'), /ALTER ROLE <user> SET statement_timeout/);
    assert.match(problems({ GATEHOUSE_DATABASE_POOLER: 'transaction', GATEHOUSE_CLIENT_CACHE_ENTRIES: '100' }).join('\n'), /GATEHOUSE_CLIENT_CACHE_ENTRIES must be 0 or unset/);
  });

  it('refuses another DATABASE_URL scheme without echoing the URL (it may hold a password)', () => {
    assert.throws(() => loadConfiguration({ DATABASE_URL: 'mysql://root:hunter2@localhost/db' }), (error: Error) => {
      assert.match(error.message, /DATABASE_URL must be a postgres:\/\/ or postgresql:\/\/ URL/);
      assert.ok(!error.message.includes('hunter2'));
      return true;
    });
  });

  it('reads the cleanup interval (0 turns it off) and batch size, and refuses nonsense', () => {
    assert.deepEqual(loadConfiguration({ GATEHOUSE_CLEANUP_INTERVAL_SECONDS: '0', GATEHOUSE_CLEANUP_BATCH_SIZE: '50' }).cleanup, { intervalSeconds: 0, batchSize: 50 });
    assert.throws(() => loadConfiguration({ GATEHOUSE_CLEANUP_INTERVAL_SECONDS: '-1' }), /GATEHOUSE_CLEANUP_INTERVAL_SECONDS/);
    assert.throws(() => loadConfiguration({ GATEHOUSE_CLEANUP_BATCH_SIZE: '0' }), /GATEHOUSE_CLEANUP_BATCH_SIZE/);
    assert.throws(() => loadConfiguration({ GATEHOUSE_CLEANUP_BATCH_SIZE: 'many' }), /GATEHOUSE_CLEANUP_BATCH_SIZE/);
    assert.throws(() => loadConfiguration({ DATABASE_URL: 'postgres://db/gh', GATEHOUSE_DATABASE_POOL_SIZE: '1.5' }), /GATEHOUSE_DATABASE_POOL_SIZE/);
  });

  it('lists every bad setting in one ConfigurationError (one line each, exit 2 at start), those read by their own parsers too', () => {
    assert.throws(() => loadConfiguration({
      GATEHOUSE_OAUTH_RATE_LIMIT: 'abc', GATEHOUSE_REQUIRE_PAR: 'maybe', GATEHOUSE_REQUIRE_SECOND_FACTOR: 'all', GATEHOUSE_DPOP_NONCE_REQUIRED: 'yes',
      GATEHOUSE_SMTP_URL: 'http://mail', GATEHOUSE_UPSTREAM_ISSUER: 'https://id.example', GATEHOUSE_ACCESS_TOKEN_FORMAT: 'paseto',
    }), (error: unknown) => {
      assert.ok(error instanceof ConfigurationError, String(error));
      for (const name of ['GATEHOUSE_OAUTH_RATE_LIMIT', 'GATEHOUSE_REQUIRE_PAR', 'GATEHOUSE_DPOP_NONCE_REQUIRED', 'GATEHOUSE_SMTP_URL', 'GATEHOUSE_UPSTREAM_CLIENT_ID', 'GATEHOUSE_ACCESS_TOKEN_FORMAT']) {
        assert.ok(error.problems.some((problem) => problem.startsWith(name)), `${name} in ${JSON.stringify(error.problems)}`);
      }
      return true;
    });
    assert.throws(() => loadConfiguration({ GATEHOUSE_LOCAL_PASSWORDS: 'xyz' }), (error: unknown) => error instanceof ConfigurationError && /GATEHOUSE_LOCAL_PASSWORDS must be on or off/.test(error.problems.join('\n')));
  });

  it('refuses, with the variable\'s name, what the start would refuse: an http or relative upstream issuer outside development, a scope without openid, a malformed DATABASE_URL (never echoed)', () => {
    const upstream = { GATEHOUSE_UPSTREAM_CLIENT_ID: 'gatehouse', GATEHOUSE_UPSTREAM_CLIENT_SECRET: 's3cret', GATEHOUSE_UPSTREAM_NAME: 'Nordlys ID' };
    const production = { GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example.com', GATEHOUSE_TOKEN_KEY: 'x'.repeat(43) };
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfiguration(env);
        return [];
      } catch (error) {
        assert.ok(error instanceof ConfigurationError, String(error));
        return error.problems;
      }
    };
    assert.ok(problemsOf({ ...production, ...upstream, GATEHOUSE_UPSTREAM_ISSUER: 'http://id.example.com' }).some((problem) => problem.startsWith('GATEHOUSE_UPSTREAM_ISSUER must be https in production')));
    assert.ok(problemsOf({ ...upstream, GATEHOUSE_UPSTREAM_ISSUER: 'id.example.com' }).some((problem) => problem.startsWith('GATEHOUSE_UPSTREAM_ISSUER must be an absolute URL')));
    assert.deepEqual(problemsOf({ ...upstream, GATEHOUSE_UPSTREAM_ISSUER: 'http://localhost:9000' }), [], 'http is fine in development');
    assert.ok(problemsOf({ ...upstream, GATEHOUSE_UPSTREAM_ISSUER: 'https://id.example.com', GATEHOUSE_UPSTREAM_SCOPE: 'email profile' }).some((problem) => problem.startsWith('GATEHOUSE_UPSTREAM_SCOPE must include openid')));
    const database = problemsOf({ DATABASE_URL: 'postgres://u:pw@h:notaport/db' });
    assert.ok(database.some((problem) => problem.startsWith('DATABASE_URL is not a well-formed URL')), JSON.stringify(database));
    assert.ok(!database.join('\n').includes('pw'), 'the password is never shown');
  });

  it('takes GATEHOUSE_TRUST_PROXY as addresses, ranges and proxy-addr\'s names, and lists anything else as a problem', () => {
    for (const value of ['127.0.0.1', '10.0.0.0/8, 192.168.0.1', '::1', 'fd00::/8', 'loopback,linklocal,uniquelocal', '10.0.0.0/255.0.0.0']) {
      assert.equal(loadConfiguration({ GATEHOUSE_TRUST_PROXY: value }).trustProxy, value, value);
    }
    for (const value of ['not-an-ip!', '10.0.0.0/33', '10.0.0.1/8/1', 'proxy.example', '127.0.0.1,']) {
      assert.throws(() => loadConfiguration({ GATEHOUSE_TRUST_PROXY: value }), (error: unknown) => error instanceof ConfigurationError && error.problems.some((problem) => problem.startsWith('GATEHOUSE_TRUST_PROXY must be')), value);
    }
  });

  it('describes the database for messages without the password', () => {
    assert.equal(describeDatabase({ kind: 'sqlite', path: './data/gatehouse.sqlite' }), './data/gatehouse.sqlite');
    const described = describeDatabase({ kind: 'postgres', url: 'postgres://gatehouse:s3cret@db.example:5432/gh?sslmode=require', schema: 'auth', poolSize: 10, clientCacheEntries: 10_000, statementTimeoutMillis: 10_000, pooler: 'none',
      rateLimitCounters: 'shared', rateLimitFlushIntervalMs: 250 });
    assert.equal(described, 'postgres://gatehouse@db.example:5432/gh?sslmode=require (schema auth)');
    // pg-connection-string takes a password from the query string too: never shown either.
    const inQuery = describeDatabase({ kind: 'postgres', url: 'postgres://gatehouse@db.example/gh?password=Q1secret&sslpassword=Q2secret&sslmode=require', schema: undefined,
      poolSize: 10, clientCacheEntries: 10_000, statementTimeoutMillis: 10_000, pooler: 'none', rateLimitCounters: 'shared', rateLimitFlushIntervalMs: 250 });
    assert.equal(inQuery, 'postgres://gatehouse@db.example/gh?sslmode=require');
  });
});

describe('configuration: rate limits at the OAuth endpoints (SPEC decision 18)', () => {
  it('reads GATEHOUSE_RATE_LIMIT_COUNTERS: SQLite counts in memory unless it is database; PostgreSQL shares them, flushed in the background unless database; memory and shared each refused on the other backend', () => {
    assert.deepEqual(loadConfiguration({}).database, { kind: 'sqlite', path: './data/gatehouse.sqlite' });
    assert.deepEqual(loadConfiguration({ GATEHOUSE_RATE_LIMIT_COUNTERS: 'database' }).database, { kind: 'sqlite', path: './data/gatehouse.sqlite', rateLimitCounters: 'database' });
    assert.deepEqual(loadConfiguration({ GATEHOUSE_RATE_LIMIT_COUNTERS: 'memory' }).database, { kind: 'sqlite', path: './data/gatehouse.sqlite', rateLimitCounters: 'memory' });
    assert.throws(() => loadConfiguration({ GATEHOUSE_RATE_LIMIT_COUNTERS: 'redis' }), /GATEHOUSE_RATE_LIMIT_COUNTERS must be memory, database or shared \(got "redis"\)/);
    assert.throws(() => loadConfiguration({ GATEHOUSE_RATE_LIMIT_COUNTERS: 'shared' }), /GATEHOUSE_RATE_LIMIT_COUNTERS=shared is for PostgreSQL only/);
    const postgres = (env: NodeJS.ProcessEnv) => loadConfiguration({ DATABASE_URL: 'postgres://db/gh', ...env }).database as { rateLimitCounters: string; rateLimitFlushIntervalMs: number };
    assert.deepEqual([postgres({}).rateLimitCounters, postgres({}).rateLimitFlushIntervalMs], ['shared', 250]);
    assert.equal(postgres({ GATEHOUSE_RATE_LIMIT_COUNTERS: 'database' }).rateLimitCounters, 'database');
    assert.equal(postgres({ GATEHOUSE_RATE_LIMIT_COUNTERS: 'shared', GATEHOUSE_RATE_LIMIT_FLUSH_INTERVAL_MS: '1000' }).rateLimitFlushIntervalMs, 1000);
    for (const wrong of ['0', '9', '60001', '0.5', 'fast']) {
      assert.throws(() => postgres({ GATEHOUSE_RATE_LIMIT_FLUSH_INTERVAL_MS: wrong }), /GATEHOUSE_RATE_LIMIT_FLUSH_INTERVAL_MS must be a whole number from 10 to 60000/);
    }
    assert.throws(() => loadConfiguration({ DATABASE_URL: 'postgres://db/gh', GATEHOUSE_RATE_LIMIT_COUNTERS: 'memory' }), /GATEHOUSE_RATE_LIMIT_COUNTERS=memory is for SQLite only/);
    const described = (env: NodeJS.ProcessEnv) => Object.fromEntries(describeConfiguration(loadConfiguration(env))).GATEHOUSE_RATE_LIMIT_COUNTERS;
    assert.match(described({})!, /^memory \(this process only/);
    assert.match(described({ GATEHOUSE_RATE_LIMIT_COUNTERS: 'database' })!, /^database \(shared by every process on the file/);
    assert.match(described({ DATABASE_URL: 'postgres://db/gh' })!, /^shared \(every instance's hits added to the database every 250 ms/);
    assert.match(described({ DATABASE_URL: 'postgres://db/gh', GATEHOUSE_RATE_LIMIT_COUNTERS: 'database' })!, /^database \(shared by every instance; a write per request\)/);
  });

  it('reads GATEHOUSE_OAUTH_RATE_LIMIT as per client, per address, window seconds, or off; unset keeps the defaults', () => {
    assert.equal(loadConfiguration({}).oauthEndpointRateLimit, undefined);
    assert.deepEqual(loadConfiguration({ GATEHOUSE_OAUTH_RATE_LIMIT: '500, 5000, 60' }).oauthEndpointRateLimit, {
      windowSeconds: 60, maxRequestsPerClient: 500, maxRequestsPerAddress: 5000,
    });
    assert.equal(loadConfiguration({ GATEHOUSE_OAUTH_RATE_LIMIT: 'off' }).oauthEndpointRateLimit, false);
    for (const nonsense of ['1000,2000', '0,2000,10', '1000,2000,ten', 'on']) {
      assert.throws(() => loadConfiguration({ GATEHOUSE_OAUTH_RATE_LIMIT: nonsense }), /GATEHOUSE_OAUTH_RATE_LIMIT must be/);
    }
  });
});

describe('configuration: the refresh-token reuse grace window (SPEC decision 8)', () => {
  it('reads GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: default 30, 0 turns it off, at most 120', () => {
    assert.equal(loadConfiguration({}).refreshTokenReuseGraceSeconds, 30);
    assert.equal(loadConfiguration({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: '0' }).refreshTokenReuseGraceSeconds, 0);
    assert.equal(loadConfiguration({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: '120' }).refreshTokenReuseGraceSeconds, 120);
    assert.throws(() => loadConfiguration({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: '121' }), /at most 120/);
    assert.throws(() => loadConfiguration({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: '-1' }), /GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS/);
    assert.throws(() => loadConfiguration({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: '2.5' }), /GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS/);
  });
});

describe('configuration: the partner-team invitation limit (issue 13 "Partner teams")', () => {
  it('reads GATEHOUSE_TEAM_INVITATIONS_PER_HOUR: default 20, 1 to 1000, and no 0 = unlimited', () => {
    assert.equal(loadConfiguration({}).teamInvitationsPerHour, 20);
    assert.equal(loadConfiguration({ GATEHOUSE_TEAM_INVITATIONS_PER_HOUR: '1' }).teamInvitationsPerHour, 1);
    assert.equal(loadConfiguration({ GATEHOUSE_TEAM_INVITATIONS_PER_HOUR: '1000' }).teamInvitationsPerHour, 1000);
    for (const nonsense of ['0', '1001', '-1', '2.5', 'off', 'unlimited']) {
      assert.throws(() => loadConfiguration({ GATEHOUSE_TEAM_INVITATIONS_PER_HOUR: nonsense }), /GATEHOUSE_TEAM_INVITATIONS_PER_HOUR must be a whole number of invitations from 1 to 1000 \(there is no unlimited\)/, nonsense);
    }
    assert.equal(Object.fromEntries(describeConfiguration(loadConfiguration({ GATEHOUSE_TEAM_INVITATIONS_PER_HOUR: '5' }))).GATEHOUSE_TEAM_INVITATIONS_PER_HOUR, '5');
  });

  it('the option is bounded too: resolveOptions refuses 0, more than 1000 and fractions', () => {
    const base = { issuer: 'http://localhost:3000', environment: 'development' as const, storage: {} as never, accessTokenAudience: 'x', tokenHmacKey: Buffer.alloc(32) };
    const clock = systemClock;
    assert.equal(resolveOptions(base, clock).teamInvitationsPerHour, 20);
    assert.equal(resolveOptions({ ...base, teamInvitationsPerHour: undefined }, clock).teamInvitationsPerHour, 20, 'given as undefined: the default');
    for (const value of [0, 1001, 2.5, -1]) assert.throws(() => resolveOptions({ ...base, teamInvitationsPerHour: value }, clock), /teamInvitationsPerHour must be a whole number 1\.\.1000/, String(value));
  });
});

describe('configuration: local accounts (issue 10 §3)', () => {
  it('reads GATEHOUSE_SMTP_URL, GATEHOUSE_MAIL_FROM and GATEHOUSE_REQUIRE_SECOND_FACTOR; refuses other values', () => {
    assert.deepEqual(loadConfiguration({}).localAccounts, { requireSecondFactor: 'none' });
    assert.deepEqual(loadConfiguration({
      GATEHOUSE_SMTP_URL: 'smtps://mailer:pw@mail.example:465', GATEHOUSE_MAIL_FROM: 'Platform <no-reply@platform.example>', GATEHOUSE_REQUIRE_SECOND_FACTOR: 'administrators',
    }).localAccounts, { smtpUrl: 'smtps://mailer:pw@mail.example:465', mailFrom: 'Platform <no-reply@platform.example>', requireSecondFactor: 'administrators' });
    assert.throws(() => loadConfiguration({ GATEHOUSE_SMTP_URL: 'http://mail.example' }), /GATEHOUSE_SMTP_URL must be/);
    assert.throws(() => loadConfiguration({ GATEHOUSE_REQUIRE_SECOND_FACTOR: 'everyone' }), /GATEHOUSE_REQUIRE_SECOND_FACTOR must be/);
  });
});

describe('configuration: pushed authorization requests (RFC 9126 §5)', () => {
  it('reads GATEHOUSE_REQUIRE_PAR as true or false (default false) and refuses anything else', () => {
    assert.equal(loadConfiguration({}).requirePushedAuthorizationRequests, false);
    assert.equal(loadConfiguration({ GATEHOUSE_REQUIRE_PAR: 'true' }).requirePushedAuthorizationRequests, true);
    assert.equal(loadConfiguration({ GATEHOUSE_REQUIRE_PAR: 'false' }).requirePushedAuthorizationRequests, false);
    for (const nonsense of ['yes', '1', 'TRUE']) {
      assert.throws(() => loadConfiguration({ GATEHOUSE_REQUIRE_PAR: nonsense }), /GATEHOUSE_REQUIRE_PAR must be true or false/);
    }
  });
});

describe('configuration check (issue 14)', () => {
  const KEY = 'x'.repeat(43);

  it('reports every problem at once, one message each naming the variable, the value and what is allowed', () => {
    assert.throws(() => loadConfiguration({
      GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'http://auth.example', PORT: '70000', GATEHOUSE_ACCESS_TOKEN_FORMAT: 'paseto',
      GATEHOUSE_CLEANUP_BATCH_SIZE: '0', GATEHOUSE_SHUTDOWN_GRACE_SECONDS: 'soon', GATEHOUSE_URN_NAMESPACE: 'Bad NS', GATEHOUSE_TOKEN_KEY: KEY,
    }), (error: ConfigurationError) => {
      assert.ok(error instanceof ConfigurationError);
      assert.deepEqual(error.problems, [
        'PORT must be a port number (0 to 65535) (got "70000")',
        'GATEHOUSE_ISSUER must be https in production (got "http://auth.example")',
        'GATEHOUSE_CLEANUP_BATCH_SIZE must be a whole number from 1 to 100000 (got "0")',
        'GATEHOUSE_ACCESS_TOKEN_FORMAT must be opaque or jwt (got "paseto")',
        'GATEHOUSE_URN_NAMESPACE must be lowercase letters, digits and "-", starting with a letter (got "Bad NS")',
        'GATEHOUSE_SHUTDOWN_GRACE_SECONDS must be a whole number from 0 to 3600 (got "soon")',
      ]);
      assert.match(error.message, /^6 configuration problems:\n- PORT/);
      return true;
    });
  });

  it('never shows a secret: a short token key is reported by its length, a bad DATABASE_URL not at all', () => {
    const secret = 'hunter2-token-key';
    assert.throws(() => loadConfiguration({ GATEHOUSE_TOKEN_KEY: secret, DATABASE_URL: 'mysql://root:hunter3@db/x' }), (error: ConfigurationError) => {
      assert.equal(error.problems.length, 2);
      assert.ok(!error.message.includes(secret) && !error.message.includes('hunter3'));
      assert.match(error.message, /GATEHOUSE_TOKEN_KEY must be base64url of 32 or more random bytes \(got a value of 17 characters, not shown\)/);
      return true;
    });
  });

  it('production and staging refuse the development defaults: a generated token key and an http issuer', () => {
    for (const environment of ['staging', 'production']) {
      assert.throws(() => loadConfiguration({ GATEHOUSE_ENV: environment, GATEHOUSE_ISSUER: 'http://localhost:3000' }), (error: ConfigurationError) => {
        assert.deepEqual(error.problems, [
          `GATEHOUSE_ISSUER must be https in ${environment} (got "http://localhost:3000")`,
          `GATEHOUSE_TOKEN_KEY is required in ${environment} (32+ random bytes, base64url): the generated development key is refused`,
        ]);
        return true;
      });
    }
    assert.throws(() => loadConfiguration({ GATEHOUSE_ENV: 'production' }), /GATEHOUSE_ISSUER is required in production/);
    assert.equal(loadConfiguration({ GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example', GATEHOUSE_TOKEN_KEY: KEY }).shutdownGraceSeconds, 10);
  });

  it('describes the effective configuration with secrets masked (gatehouse config check)', () => {
    const rows = Object.fromEntries(describeConfiguration(loadConfiguration({
      GATEHOUSE_TOKEN_KEY: KEY, DATABASE_URL: 'postgres://gatehouse:s3cret@db.example/gh', GATEHOUSE_SHUTDOWN_GRACE_SECONDS: '30',
    })));
    assert.equal(rows.GATEHOUSE_TOKEN_KEY, 'set (32 bytes, not shown)');
    assert.equal(rows.database, 'postgres postgres://gatehouse@db.example/gh');
    assert.equal(rows.GATEHOUSE_SHUTDOWN_GRACE_SECONDS, '30');
    assert.ok(!JSON.stringify(rows).includes('s3cret') && !JSON.stringify(rows).includes(KEY));
  });

  it('says what an unset GATEHOUSE_SMTP_URL means in the environment at hand', () => {
    const smtp = (env: NodeJS.ProcessEnv) => Object.fromEntries(describeConfiguration(loadConfiguration({ GATEHOUSE_TOKEN_KEY: KEY, ...env }))).GATEHOUSE_SMTP_URL;
    assert.equal(smtp({}), 'unset (e-mails printed to the console)');
    assert.match(smtp({ GATEHOUSE_ENV: 'production', GATEHOUSE_ISSUER: 'https://auth.example' })!, /^unset \(no e-mail is sent/);
  });

  it('describes every setting that changes behaviour, the SMTP and identity provider secrets masked', () => {
    const rows = Object.fromEntries(describeConfiguration(loadConfiguration({
      GATEHOUSE_SMTP_URL: 'smtps://mailer:m41lpass@smtp.example:465', GATEHOUSE_MAIL_FROM: 'Nordlys <no-reply@nordlys.example>', GATEHOUSE_REQUIRE_SECOND_FACTOR: 'administrators',
      GATEHOUSE_REQUIRE_PAR: 'true', GATEHOUSE_DPOP_NONCE_REQUIRED: 'true', GATEHOUSE_OAUTH_RATE_LIMIT: '10,20,5', GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS: '0',
      GATEHOUSE_UPSTREAM_ISSUER: 'https://id.example', GATEHOUSE_UPSTREAM_CLIENT_ID: 'gatehouse', GATEHOUSE_UPSTREAM_CLIENT_SECRET: 'upstr3am-secret', GATEHOUSE_UPSTREAM_NAME: 'Nordlys ID',
      GATEHOUSE_LOCAL_PASSWORDS: 'off',
    })));
    assert.equal(rows.GATEHOUSE_SMTP_URL, 'set (smtps://smtp.example:465, credentials not shown)');
    assert.equal(rows.GATEHOUSE_MAIL_FROM, 'Nordlys <no-reply@nordlys.example>');
    assert.equal(rows.GATEHOUSE_REQUIRE_SECOND_FACTOR, 'administrators');
    assert.equal(rows.GATEHOUSE_REQUIRE_PAR, 'true');
    assert.equal(rows.GATEHOUSE_DPOP_NONCE_REQUIRED, 'true');
    assert.equal(rows.GATEHOUSE_OAUTH_RATE_LIMIT, '10,20,5');
    assert.equal(rows.GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE_SECONDS, '0');
    assert.equal(rows.GATEHOUSE_UPSTREAM_ISSUER, 'https://id.example');
    assert.equal(rows.GATEHOUSE_UPSTREAM_CLIENT_SECRET, 'set (15 characters, not shown)');
    assert.equal(rows.GATEHOUSE_LOCAL_PASSWORDS, 'off');
    assert.ok(!JSON.stringify(rows).includes('m41lpass') && !JSON.stringify(rows).includes('upstr3am-secret'));
    assert.equal(Object.fromEntries(describeConfiguration(loadConfiguration({}))).GATEHOUSE_UPSTREAM_ISSUER, 'unset (no sign-in through an identity provider)');
  });
});

describe('configuration: webhook delivery retention (issue 15 §5)', () => {
  it('GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS sets the retention in seconds; unset leaves the 30-day default; nonsense is refused', () => {
    assert.equal(loadConfiguration({ GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS: '7' }).cleanup.webhookDeliveryRetentionSeconds, 7 * 86_400);
    assert.equal(loadConfiguration({}).cleanup.webhookDeliveryRetentionSeconds, undefined);
    assert.ok(describeConfiguration(loadConfiguration({})).some(([name, value]) => name === 'GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS' && value === '30'));
    assert.throws(() => loadConfiguration({ GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS: '0' }), /GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS/);
    assert.throws(() => loadConfiguration({ GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS: 'forever' }), /GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_DAYS/);
  });
});

describe('CONFIGURATION_VARIABLES (what `gatehouse config check` does not call a typo)', () => {
  it('names every GATEHOUSE_ variable loadConfiguration reads', () => {
    const source = readFileSync(new URL('./configuration.ts', import.meta.url), 'utf8');
    const read = new Set([...source.matchAll(/env\.(GATEHOUSE_[A-Z0-9_]+)|\(env, '(GATEHOUSE_[A-Z0-9_]+)'|required\('(GATEHOUSE_[A-Z0-9_]+)'\)/g)]
      .map((match) => match[1] ?? match[2] ?? match[3]));
    assert.ok(read.size > 20, `found ${read.size} variables read`);
    assert.deepEqual([...read].filter((name) => !CONFIGURATION_VARIABLES.includes(name!)), []);
  });
});

describe('configuration: GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES (issue 15 §5, staging only)', () => {
  const KEY = 'x'.repeat(43);
  const staging = { GATEHOUSE_ENV: 'staging', GATEHOUSE_ISSUER: 'https://auth.example', GATEHOUSE_TOKEN_KEY: KEY };

  it('is false unless set to true; staging may set it; anything but true or false is refused', () => {
    assert.equal(loadConfiguration({}).webhookAllowPrivateAddresses, false);
    assert.equal(loadConfiguration(staging).webhookAllowPrivateAddresses, false);
    assert.equal(loadConfiguration({ ...staging, GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' }).webhookAllowPrivateAddresses, true);
    assert.equal(loadConfiguration({ ...staging, GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'false' }).webhookAllowPrivateAddresses, false);
    assert.throws(() => loadConfiguration({ ...staging, GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'yes' }), (error: ConfigurationError) => {
      assert.deepEqual(error.problems, ['GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES must be true or false (got "yes")']);
      return true;
    });
  });

  it('is refused in production at startup, with a message saying why', () => {
    assert.throws(() => loadConfiguration({ ...staging, GATEHOUSE_ENV: 'production', GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' }), (error: ConfigurationError) => {
      assert.ok(error instanceof ConfigurationError);
      assert.deepEqual(error.problems, ['GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true is refused in production: partner webhooks there reach public addresses only (loopback, private, link-local and metadata addresses never); unset it']);
      return true;
    });
    assert.equal(loadConfiguration({ ...staging, GATEHOUSE_ENV: 'production', GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'false' }).webhookAllowPrivateAddresses, false);
  });

  it('gatehouse config check says where webhooks may go', () => {
    const row = (env: NodeJS.ProcessEnv) => Object.fromEntries(describeConfiguration(loadConfiguration(env))).GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES;
    assert.equal(row(staging), 'false (partner webhooks reach public addresses only)');
    assert.equal(row({ ...staging, GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' }), 'true (partner webhooks may reach loopback, private and link-local addresses)');
    assert.equal(row({}), 'development: loopback and private webhook targets allowed');
  });
});
