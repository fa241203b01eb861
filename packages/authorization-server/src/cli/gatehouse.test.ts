import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, it } from 'node:test';
import { authenticateAdministrator } from '../admin/admin-credentials.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { migrations as sqliteMigrations } from '../storage/sqlite/migrations.ts';
import { migrations as postgresMigrations } from '../storage/postgres/migrations.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from '../testing/postgres.ts';
import { gatehouse } from '../testing/cli.ts';

// Probed before any test starts: the tests below block the event loop with spawnSync.
const postgresSkip = await postgresSkipReason();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-cli-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

/**
 * Runs the real `gatehouse` command on the SQLite file `database` in development, without the caller's
 * GATEHOUSE_* settings or DATABASE_URL; `extraEnv` adds settings (e.g. DATABASE_URL for PostgreSQL).
 */

const newDatabase = () => join(temporaryDirectory, randomUUID(), 'gatehouse.sqlite');
const CONFIDENTIAL = ['clients', 'create', '--name', 'Ledgerly Sync', '--type', 'confidential', '--redirect-uri', 'https://ledgerly.example/oauth/callback', '--redirect-uri', 'http://localhost:8080/callback', '--scope', 'users:read vendors:write', '--json'];
const PUBLIC = ['clients', 'create', '--name', 'Ledgerly Mobile', '--type', 'public', '--redirect-uri', 'com.ledgerly.mobile:/oauth2redirect', '--scope', 'test:test', '--subject-type', 'organization', '--json'];

describe('gatehouse CLI', () => {
  it('clients create --json prints a UUID client_id and, once, a client_secret for a confidential client (SPEC decision 1)', () => {
    const database = newDatabase();
    const run = gatehouse(database, CONFIDENTIAL);
    assert.equal(run.status, 0, run.stderr);
    const output = JSON.parse(run.stdout);
    assert.match(output.client_id, UUID);
    assert.match(output.client_secret, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(output.token_endpoint_auth_method, 'client_secret_basic');
    assert.deepEqual(output.redirect_uris, ['https://ledgerly.example/oauth/callback', 'http://localhost:8080/callback']);
    assert.equal(output.scope, 'users:read vendors:write');
    assert.equal(output.status, 'active'); // development: SPEC decision 13

    // SPEC decision 9: stored only as its digest.
    const db = new DatabaseSync(database);
    const row = db.prepare('SELECT secret_digest FROM clients WHERE client_id = ?').get(output.client_id);
    const everything = JSON.stringify([db.prepare('SELECT * FROM clients').all(), db.prepare('SELECT * FROM audit_events').all()]);
    db.close();
    assert.equal(row?.secret_digest, createHash('sha256').update(output.client_secret).digest('base64url'));
    assert.ok(!everything.includes(output.client_secret), 'the secret is not stored in the clear');

    // Shown once: listing never shows it again.
    const list = gatehouse(database, ['clients', 'list', '--json']);
    assert.equal(list.status, 0, list.stderr);
    assert.ok(!list.stdout.includes(output.client_secret));
  });

  it('clients create --json prints no secret for a public client (SPEC decision 1: token_endpoint_auth_method none)', () => {
    const run = gatehouse(newDatabase(), PUBLIC);
    assert.equal(run.status, 0, run.stderr);
    const output = JSON.parse(run.stdout);
    assert.match(output.client_id, UUID);
    assert.equal('client_secret' in output, false);
    assert.equal(output.token_endpoint_auth_method, 'none');
    assert.equal(output.subject_type, 'organization');
  });

  it('clients list --json lists the registered clients', () => {
    const database = newDatabase();
    const empty = gatehouse(database, ['clients', 'list', '--json']);
    assert.equal(empty.status, 0, empty.stderr);
    assert.deepEqual(JSON.parse(empty.stdout), []);

    const confidential = JSON.parse(gatehouse(database, CONFIDENTIAL).stdout);
    const publicClient = JSON.parse(gatehouse(database, PUBLIC).stdout);
    const list = gatehouse(database, ['clients', 'list', '--json']);
    assert.equal(list.status, 0, list.stderr);
    const clients = JSON.parse(list.stdout) as { client_id: string; client_name: string; token_endpoint_auth_method: string; status: string }[];
    assert.deepEqual(
      clients.map(({ client_id, client_name, token_endpoint_auth_method, status }) => ({ client_id, client_name, token_endpoint_auth_method, status })).sort((a, b) => a.client_name.localeCompare(b.client_name)),
      [
        { client_id: publicClient.client_id, client_name: 'Ledgerly Mobile', token_endpoint_auth_method: 'none', status: 'active' },
        { client_id: confidential.client_id, client_name: 'Ledgerly Sync', token_endpoint_auth_method: 'client_secret_basic', status: 'active' },
      ],
    );
  });

  it('clients list prints the clients in text', () => {
    const database = newDatabase();
    assert.match(gatehouse(database, ['clients', 'list']).stdout, /No clients registered/);
    const { client_id: clientId } = JSON.parse(gatehouse(database, PUBLIC).stdout);
    const list = gatehouse(database, ['clients', 'list']);
    assert.equal(list.status, 0);
    assert.match(list.stdout, new RegExp(`${clientId}\\s+public\\s+active\\s+Ledgerly Mobile`));
  });

  it('exits 2 naming the field when the registration is refused (RFC 7591 §3.2.2)', () => {
    const database = newDatabase();
    const badRedirect = gatehouse(database, ['clients', 'create', '--name', 'Ledgerly Sync', '--type', 'confidential', '--redirect-uri', 'http://ledgerly.example/cb', '--scope', 'users:read', '--json']);
    assert.equal(badRedirect.status, 2);
    assert.match(badRedirect.stderr, /refused: redirect_uris: http:\/\/ledgerly\.example\/cb/);
    // With --json, standard output says why too, in the admin API's error shape (RFC 7591 §3.2.2's code).
    assert.deepEqual(JSON.parse(badRedirect.stdout), { error: 'invalid_redirect_uri', error_description: badRedirect.stderr.replace(/^gatehouse: refused: /, '').trim(), field: 'redirect_uris' });

    const branded = gatehouse(database, ['clients', 'create', '--name', 'Gate House Sync', '--type', 'public', '--redirect-uri', 'https://ledgerly.example/cb', '--scope', 'users:read']);
    assert.equal(branded.status, 2);
    assert.match(branded.stderr, /client_name/);

    const unknownScope = gatehouse(database, ['clients', 'create', '--name', 'Ledgerly Sync', '--type', 'public', '--redirect-uri', 'https://ledgerly.example/cb', '--scope', 'payments:write']);
    assert.equal(unknownScope.status, 2);
    assert.match(unknownScope.stderr, /scope/);

    assert.deepEqual(JSON.parse(gatehouse(database, ['clients', 'list', '--json']).stdout), []);
  });

  it('exits 2 with the usage when a required flag is missing', () => {
    const database = newDatabase();
    const complete = ['--name', 'Ledgerly Sync', '--type', 'public', '--redirect-uri', 'https://ledgerly.example/cb', '--scope', 'users:read'];
    const without = (flag: string) => {
      const index = complete.indexOf(flag);
      return [...complete.slice(0, index), ...complete.slice(index + 2)];
    };
    for (const [flag, message] of [['--name', /--name/], ['--type', /--type/], ['--redirect-uri', /--redirect-uri/], ['--scope', /--scope/]] as const) {
      const run = gatehouse(database, ['clients', 'create', ...without(flag)]);
      assert.equal(run.status, 2, `without ${flag}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /Usage:/);
    }
    const badType = gatehouse(database, ['clients', 'create', ...complete.map((value) => (value === 'public' ? 'trusted' : value))]);
    assert.equal(badType.status, 2);
    assert.match(badType.stderr, /--type must be confidential or public/);
    const badSubject = gatehouse(database, ['clients', 'create', ...complete, '--subject-type', 'person']);
    assert.equal(badSubject.status, 2);
    assert.match(badSubject.stderr, /--subject-type/);
  });

  it('exits 2 with the usage without a command, or with an unknown one', () => {
    const database = newDatabase();
    for (const args of [[], ['clients'], ['widgets', 'list']]) {
      const run = gatehouse(database, args);
      assert.equal(run.status, 2, JSON.stringify(args));
      assert.match(run.stdout + run.stderr, /Usage:/);
    }
    assert.match(gatehouse(database, ['widgets', 'list']).stderr, /^gatehouse: unknown command "widgets"\n/, 'says which word it did not know');
    const unknown = gatehouse(database, ['clients', 'frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command "clients frobnicate"/);
    const noId = gatehouse(database, ['clients', 'delete']);
    assert.equal(noId.status, 2);
    assert.match(noId.stderr, /"clients delete" needs exactly one CLIENT_ID/);
    const help = gatehouse(database, ['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage:/);
  });

  it('with --json, a usage error, a refusal and a failure each print one JSON object on stdout, the line on stderr, and keep their exit codes', () => {
    const database = newDatabase();
    const usage = gatehouse(database, ['clients', 'delete', '--json']);
    assert.equal(usage.status, 2);
    assert.deepEqual(JSON.parse(usage.stdout), { error: 'usage', error_description: '"clients delete" needs exactly one CLIENT_ID' });
    assert.equal(usage.stderr, 'gatehouse: "clients delete" needs exactly one CLIENT_ID\n', 'no usage text when the output is for a script');
    const unknown = gatehouse(database, ['clients', 'show', randomUUID(), '--json']);
    assert.equal(unknown.status, 2);
    assert.equal(JSON.parse(unknown.stdout).error, 'not_found');
    assert.match(unknown.stderr, /^gatehouse: refused: /);
    const failed = gatehouse(database, ['clients', 'list', '--json'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/gatehouse' });
    assert.equal(failed.status, 1);
    assert.equal(JSON.parse(failed.stdout).error, 'failed');
    assert.match(failed.stderr, /^gatehouse: failed: /);
    const text = gatehouse(database, ['clients', 'delete']);
    assert.equal(text.stdout, '', 'without --json nothing goes to stdout');
    assert.match(text.stderr, /Usage:/);
  });

  it('exits 2 with the usage for an unknown flag or a flag without its value (a usage error, like a missing flag)', () => {
    const database = newDatabase();
    const unknownFlag = gatehouse(database, ['clients', 'list', '--jsn']);
    assert.match(unknownFlag.stderr, /Usage:/);
    assert.equal(unknownFlag.status, 2);
    const missingValue = gatehouse(database, ['clients', 'create', '--name']);
    assert.match(missingValue.stderr, /Usage:/);
    assert.equal(missingValue.status, 2);
  });
});

const DAY = 86_400;

/** Expired and live rows on any storage, relative to the real clock (the CLI uses it): 3 expired sessions, 1 live. */
async function seedExpiredRows(storage: ReturnType<typeof createSqliteStorage>) {
  const now = Math.floor(Date.now() / 1000);
  const userId = randomUUID();
  await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: 'x' });
  for (const expiresAt of [now - 3 * DAY, now - DAY, now - 1, now + DAY]) {
    await storage.loginSessions.create({ sessionDigest: randomUUID(), userId, createdAt: now - 4 * DAY, expiresAt });
  }
  await storage.loginThrottle.recordFailure(['address:192.0.2.1'], now - DAY, { maxFailures: 10, windowSeconds: 900 });
}

describe('gatehouse migrate and cleanup (SQLite)', () => {
  it('clients create stores every registration field; show, update, approve, suspend, reactivate, rotate-secret and delete manage it (--json)', () => {
    const database = newDatabase();
    const staging = { GATEHOUSE_ENV: 'staging', GATEHOUSE_ISSUER: 'https://auth.example', GATEHOUSE_TOKEN_KEY: Buffer.alloc(32, 7).toString('base64url') };
    const created = gatehouse(database, [...CONFIDENTIAL, '--client-uri', 'https://ledgerly.example', '--tos-uri', 'https://ledgerly.example/terms',
      '--policy-uri', 'https://ledgerly.example/privacy', '--initiation-uri', 'https://ledgerly.example/connect', '--settings-uri', 'https://ledgerly.example/settings',
      '--contact', 'dev@ledgerly.example', '--contact', 'ops@ledgerly.example'], staging);
    assert.equal(created.status, 0, created.stderr);
    const client = JSON.parse(created.stdout);
    assert.equal(client.status, 'pending'); // SPEC decision 13: staging waits for approval
    assert.equal(client.initiation_uri, 'https://ledgerly.example/connect');
    assert.deepEqual(client.contacts, ['dev@ledgerly.example', 'ops@ledgerly.example']);
    const id = client.client_id;
    const json = (args: string[]) => {
      const run = gatehouse(database, [...args, '--json'], staging);
      assert.equal(run.status, 0, `${args.join(' ')}: ${run.stderr}`);
      return JSON.parse(run.stdout);
    };
    const shown = json(['clients', 'show', id]);
    assert.equal(shown.client_secret, undefined);
    assert.equal(shown.settings_uri, 'https://ledgerly.example/settings');

    const notBoolean = gatehouse(database, ['clients', 'update', id, '--pkce-exception', 'maybe']);
    assert.equal(notBoolean.status, 2);
    assert.match(notBoolean.stderr, /--pkce-exception takes true or false \(got "maybe"\)/, 'says what is wrong with the value, not where the option belongs');
    const elsewhere = gatehouse(database, ['clients', 'show', id, '--require-par', 'true']);
    assert.equal(elsewhere.status, 2);
    assert.match(elsewhere.stderr, /--require-par true\|false is an option of "clients update"/);

    const refusedUpdate = gatehouse(database, ['clients', 'update', id, '--tos-uri', 'http://ledgerly.example/terms'], staging);
    assert.equal(refusedUpdate.status, 2);
    assert.match(refusedUpdate.stderr, /refused: tos_uri: /);
    const updated = json(['clients', 'update', id, '--name', 'Ledgerly Books', '--policy-uri', '', '--pkce-exception', 'true']);
    assert.equal(updated.client_name, 'Ledgerly Books');
    assert.equal(updated.policy_uri, null);
    assert.equal(updated.pkce_required, false);

    assert.equal(json(['clients', 'approve', id]).status, 'active');
    assert.equal(json(['clients', 'suspend', id]).status, 'suspended');
    const wrongState = gatehouse(database, ['clients', 'approve', id], staging);
    assert.equal(wrongState.status, 2);
    assert.match(wrongState.stderr, /refused: a suspended client is reactivated/);
    assert.equal(json(['clients', 'reactivate', id]).status, 'active');

    const rotated = json(['clients', 'rotate-secret', id, '--overlap-seconds', '3600', '--revoke-grants']);
    assert.match(rotated.client_secret, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(rotated.client_secret, client.client_secret);
    assert.equal(rotated.grants_revoked, 0);
    assert.ok(rotated.previous_secret_expires_at > Date.now() / 1000);

    const deleted = json(['clients', 'delete', id]);
    assert.equal(deleted.status, 'deleted');
    const gone = gatehouse(database, ['clients', 'show', id], staging);
    assert.equal(gone.status, 2);
    assert.match(gone.stderr, /refused: no client/);

    // SPEC decision 19: every change audited with its actor, never a secret.
    const db = new DatabaseSync(database);
    const events = db.prepare('SELECT type, actor, details FROM audit_events ORDER BY event_id').all() as { type: string; actor: string; details: string }[];
    db.close();
    assert.deepEqual(events.map((event) => event.type), ['client.registered', 'client.updated', 'client.pkce_exception_granted', 'client.approved',
      'client.suspended', 'client.reactivated', 'client.secret_rotated', 'client.deleted']);
    assert.ok(events.every((event) => event.actor === 'admin:cli'));
    const everything = JSON.stringify(events);
    assert.ok(!everything.includes(client.client_secret) && !everything.includes(rotated.client_secret));
  });

  it('clients update --require-par true|false sets require_pushed_authorization_requests (RFC 9126 §6); other values exit 2', () => {
    const database = newDatabase();
    const created = gatehouse(database, CONFIDENTIAL);
    assert.equal(created.status, 0, created.stderr);
    const id = JSON.parse(created.stdout).client_id;
    assert.equal(JSON.parse(created.stdout).require_pushed_authorization_requests, false);
    const on = gatehouse(database, ['clients', 'update', id, '--require-par', 'true', '--json']);
    assert.equal(on.status, 0, on.stderr);
    assert.equal(JSON.parse(on.stdout).require_pushed_authorization_requests, true);
    const off = gatehouse(database, ['clients', 'update', id, '--require-par', 'false', '--json']);
    assert.equal(JSON.parse(off.stdout).require_pushed_authorization_requests, false);
    const bad = gatehouse(database, ['clients', 'update', id, '--require-par', 'yes']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--require-par true\|false/);
    assert.equal(gatehouse(database, ['clients', 'show', id, '--require-par', 'true']).status, 2);
  });

  it('clients update --dpop-bound true|false sets dpop_bound_access_tokens (RFC 9449 §5.2); other values exit 2', () => {
    const database = newDatabase();
    const created = gatehouse(database, CONFIDENTIAL);
    assert.equal(created.status, 0, created.stderr);
    const id = JSON.parse(created.stdout).client_id;
    assert.equal(JSON.parse(created.stdout).dpop_bound_access_tokens, false);
    const on = gatehouse(database, ['clients', 'update', id, '--dpop-bound', 'true', '--json']);
    assert.equal(on.status, 0, on.stderr);
    assert.equal(JSON.parse(on.stdout).dpop_bound_access_tokens, true);
    const shown = gatehouse(database, ['clients', 'show', id]);
    assert.match(shown.stdout, /dpop_bound_access_tokens\s+true/);
    const off = gatehouse(database, ['clients', 'update', id, '--dpop-bound', 'false', '--json']);
    assert.equal(JSON.parse(off.stdout).dpop_bound_access_tokens, false);
    const bad = gatehouse(database, ['clients', 'update', id, '--dpop-bound', 'yes']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--dpop-bound true\|false/);
  });

  it('admins create-token prints a 256-bit token once and stores only its SHA-256; a taken name exits 2', () => {
    const database = newDatabase();
    const run = gatehouse(database, ['admins', 'create-token', '--name', 'ops-alice', '--json']);
    assert.equal(run.status, 0, run.stderr);
    const { token, name } = JSON.parse(run.stdout);
    assert.equal(name, 'ops-alice');
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    const db = new DatabaseSync(database);
    const row = db.prepare('SELECT token_digest FROM admin_credentials WHERE name = ?').get('ops-alice') as { token_digest: string };
    const everything = JSON.stringify([db.prepare('SELECT * FROM admin_credentials').all(), db.prepare('SELECT * FROM audit_events').all()]);
    db.close();
    assert.equal(row.token_digest, createHash('sha256').update(token).digest('base64url'));
    assert.ok(!everything.includes(token));
    const taken = gatehouse(database, ['admins', 'create-token', '--name', 'ops-alice']);
    assert.equal(taken.status, 2);
    assert.match(taken.stderr, /^gatehouse: refused: could not create a token named "ops-alice"/);
    assert.doesNotMatch(taken.stderr, /Usage|gatehouse clients create/, 'a refusal, not the usage text');
    assert.equal(gatehouse(database, ['admins', 'create-token']).status, 2);
  });

  it('admins list-tokens names the tokens (never a token); revoke-token deletes one, which the admin API then refuses; an unknown name exits 2', async () => {
    const database = newDatabase();
    const { token } = JSON.parse(gatehouse(database, ['admins', 'create-token', '--name', 'ops-alice', '--json']).stdout);
    assert.equal(gatehouse(database, ['admins', 'create-token', '--name', 'ops-bob']).status, 0);
    const listed = gatehouse(database, ['admins', 'list-tokens', '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout).map((credential: { name: string }) => credential.name), ['ops-alice', 'ops-bob']);
    assert.ok(!listed.stdout.includes(token));
    const storage = createSqliteStorage(database);
    try {
      assert.ok(await authenticateAdministrator(storage, `Bearer ${token}`), 'the token works before');
    } finally {
      await storage.close();
    }
    const revoked = gatehouse(database, ['admins', 'revoke-token', '--name', 'ops-alice', '--json']);
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.deepEqual(JSON.parse(revoked.stdout), { name: 'ops-alice', revoked: true });
    const afterRevoke = createSqliteStorage(database);
    try {
      assert.equal(await authenticateAdministrator(afterRevoke, `Bearer ${token}`), undefined, 'refused after');
    } finally {
      await afterRevoke.close();
    }
    const db = new DatabaseSync(database);
    const events = db.prepare("SELECT details FROM audit_events WHERE type = 'admin.token_revoked'").all() as { details: string }[];
    db.close();
    assert.deepEqual(events.map((event) => JSON.parse(event.details)), [{ name: 'ops-alice' }]);
    const again = gatehouse(database, ['admins', 'revoke-token', '--name', 'ops-alice']);
    assert.equal(again.status, 2);
    assert.match(again.stderr, /refused: no administrator token is named "ops-alice"/);
    assert.equal(gatehouse(database, ['admins', 'revoke-token']).status, 2, 'no --name');
    assert.equal(gatehouse(database, ['admins', 'create-token', '--name', 'ops-alice']).status, 0, 'the name is free again');
  });

  it('admins grant-console gives a directory user the platform-administrator role (issue 13); unknown users and a second revoke exit 2', () => {
    const database = newDatabase();
    const created = gatehouse(database, ['users', 'create', '--email', 'ops@example.com', '--name', 'Olga Ops', '--json']);
    assert.equal(created.status, 0, created.stderr);
    const userId = JSON.parse(created.stdout).id as string;
    const granted = gatehouse(database, ['admins', 'grant-console', userId.toUpperCase(), '--json']);
    assert.equal(granted.status, 0, granted.stderr);
    assert.deepEqual(JSON.parse(granted.stdout), { user_id: userId, platform_administrator: true });
    const db = new DatabaseSync(database);
    assert.equal((db.prepare('SELECT count(*) AS n FROM console_administrators WHERE user_id = ?').get(userId) as { n: number }).n, 1);
    const events = db.prepare("SELECT actor FROM audit_events WHERE type = 'console.role_granted'").all() as { actor: string }[];
    db.close();
    assert.deepEqual(events.map((event) => event.actor), ['admin:cli']);
    assert.equal(gatehouse(database, ['admins', 'grant-console', crypto.randomUUID()]).status, 2, 'an unknown user');
    assert.equal(gatehouse(database, ['admins', 'grant-console']).status, 2, 'no USER_ID');
    assert.equal(gatehouse(database, ['admins', 'revoke-console', userId]).status, 0);
    assert.equal(gatehouse(database, ['admins', 'revoke-console', userId]).status, 2, 'no longer held');
  });

  it('migrate creates and migrates a new database, then reports it up to date', () => {
    const database = newDatabase();
    const first = gatehouse(database, ['migrate', '--json']);
    assert.equal(first.status, 0, first.stderr);
    const versions = sqliteMigrations.map((migration) => migration.version);
    assert.deepEqual(JSON.parse(first.stdout), { database, applied: versions, version: versions.at(-1) });
    const again = gatehouse(database, ['migrate']);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`up to date at schema version ${versions.at(-1)}`));
  });

  it('cleanup deletes the expired rows in batches and prints what it deleted', async () => {
    const database = newDatabase();
    const storage = createSqliteStorage(database);
    await seedExpiredRows(storage);
    await storage.close();
    const run = gatehouse(database, ['cleanup', '--batch-size', '2', '--json']);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      database, batch_size: 2, deleted: 4, loginSessions: 3, authorizationCodes: 0, accessTokens: 0, refreshTokens: 0, grants: 0, loginThrottleWindows: 1, interactions: 0, rateLimitWindows: 0, knownDevices: 0, pushedRequests: 0,
      refreshTokenGrace: 0, partnerTeamInvitations: 0,
      webhookDeliveries: 0, // issue 15 §5: finished deliveries past their retention
    });
    const text = gatehouse(database, ['cleanup']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /deleted 0 expired rows \(batches of 500\)/);
    assert.match(text.stdout, /login sessions\s+0/);
    const db = new DatabaseSync(database);
    assert.equal(db.prepare('SELECT count(*) AS n FROM login_sessions').get()?.n, 1, 'the live session stays');
    db.close();
  });

  it('exits 2 with the usage for a bad --batch-size or extra arguments', () => {
    const database = newDatabase();
    for (const args of [['cleanup', '--batch-size', '0'], ['cleanup', '--batch-size', 'ten'], ['cleanup', '--batch-size', '1.5'], ['cleanup', '--batch-size', '1000001'], ['migrate', 'now'], ['cleanup', 'all']]) {
      const run = gatehouse(database, args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /Usage:/);
    }
  });
  it('GATEHOUSE_AUDIT_STREAM receives the audit events of CLI changes too: a file, and stdout as standard error (--json stays parseable)', () => {
    const database = newDatabase();
    const streamFile = join(temporaryDirectory, `${randomUUID()}.jsonl`);
    const fileStream = { GATEHOUSE_AUDIT_STREAM: `file:${streamFile}` };
    const created = gatehouse(database, CONFIDENTIAL, fileStream);
    assert.equal(created.status, 0, created.stderr);
    const { client_id: clientId, client_secret: clientSecret } = JSON.parse(created.stdout);
    assert.equal(gatehouse(database, ['clients', 'suspend', clientId, '--json'], fileStream).status, 0);
    const company = gatehouse(database, ['companies', 'create', '--name', 'Acme ApS', '--json'], fileStream);
    assert.equal(company.status, 0, company.stderr);
    const lines = readFileSync(streamFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => [line.type, line.actor]), [['client.registered', 'admin:cli'], ['client.suspended', 'admin:cli'], ['directory.company.created', 'admin:cli']]);
    assert.equal(lines[0].clientId, clientId);
    assert.ok(!readFileSync(streamFile, 'utf8').includes(clientSecret), 'no secret in the stream');

    const onStdout = gatehouse(database, ['clients', 'reactivate', clientId, '--json'], { GATEHOUSE_AUDIT_STREAM: 'stdout' });
    assert.equal(onStdout.status, 0, onStdout.stderr);
    assert.equal(JSON.parse(onStdout.stdout).status, 'active', 'the command output alone on stdout');
    assert.equal(JSON.parse(onStdout.stderr.trim()).type, 'client.reactivated');
    // Without the setting nothing is streamed anywhere.
    const quiet = gatehouse(database, ['clients', 'suspend', clientId, '--json']);
    assert.equal(quiet.stderr, '');
  });

  it('GATEHOUSE_AUDIT_STREAM naming a file that cannot be appended to: the command changes nothing and says why (exit 1); a write failing later (a full disk) is said on stderr and the committed change keeps exit 0', () => {
    const database = newDatabase();
    const missing = join(temporaryDirectory, randomUUID(), 'audit.jsonl');
    const refused = gatehouse(database, CONFIDENTIAL, { GATEHOUSE_AUDIT_STREAM: `file:${missing}` });
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /GATEHOUSE_AUDIT_STREAM: cannot append to .*audit\.jsonl \(ENOENT\); nothing was changed/);
    assert.equal(JSON.parse(refused.stdout).error, 'failed', 'with --json the failure is on stdout too');
    assert.doesNotMatch(refused.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(JSON.parse(gatehouse(database, ['clients', 'list', '--json']).stdout), [], 'no client was created');

    const full = gatehouse(database, CONFIDENTIAL, { GATEHOUSE_AUDIT_STREAM: 'file:/dev/full' });
    assert.equal(full.status, 0, full.stderr);
    assert.match(JSON.parse(full.stdout).client_secret, /^[A-Za-z0-9_-]{43}$/, 'the secret of the committed change is printed');
    assert.match(full.stderr, /the audit stream \/dev\/full could not be written \(ENOSPC\); audit events are still recorded in the database/);
    // audit export records nothing and is where to turn when the stream fails: it works whatever the stream.
    const exported = gatehouse(database, ['audit', 'export', '--since', '2020-01-01T00:00:00Z'], { GATEHOUSE_AUDIT_STREAM: `file:${missing}` });
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /"type":"client\.registered"/);
    const check = gatehouse(database, ['config', 'check'], { GATEHOUSE_AUDIT_STREAM: `file:${missing}` });
    assert.equal(check.status, 2);
    assert.match(check.stderr, /GATEHOUSE_AUDIT_STREAM: cannot append to/);
  });

});

describe('gatehouse migrate and cleanup (PostgreSQL, DATABASE_URL)', { skip: postgresSkip }, () => {
  it('migrate, clients create, and cleanup all work on the PostgreSQL database DATABASE_URL names', async () => {
    const schema = newTestSchema();
    const env = { DATABASE_URL: TEST_DATABASE_URL, GATEHOUSE_DATABASE_SCHEMA: schema };
    const unused = newDatabase(); // no SQLite file may be touched
    try {
      const migrate = gatehouse(unused, ['migrate', '--json'], env);
      assert.equal(migrate.status, 0, migrate.stderr);
      const versions = postgresMigrations.map((migration) => migration.version);
      assert.deepEqual(JSON.parse(migrate.stdout).applied, versions);
      assert.match(JSON.parse(migrate.stdout).database, new RegExp(`\\(schema ${schema}\\)$`));
      assert.deepEqual(JSON.parse(gatehouse(unused, ['migrate', '--json'], env).stdout).applied, []);

      const created = gatehouse(unused, CONFIDENTIAL, env);
      assert.equal(created.status, 0, created.stderr);
      const { client_id: clientId } = JSON.parse(created.stdout);
      assert.equal((await queryTestSchema(schema, 'SELECT client_name FROM clients WHERE client_id = $1', [clientId])).rows[0]?.client_name, 'Ledgerly Sync');

      const now = Math.floor(Date.now() / 1000);
      const userId = randomUUID();
      await queryTestSchema(schema, "INSERT INTO users (user_id, email, name, password_hash) VALUES ($1, $1 || '@example.com', 'A', 'x')", [userId]);
      await queryTestSchema(schema,
        'INSERT INTO login_sessions (session_digest, user_id, created_at, expires_at) SELECT md5(i::text), $1, 0, $2 - i FROM generate_series(1, 5) AS i',
        [userId, now]);
      const cleanup = gatehouse(unused, ['cleanup', '--batch-size', '2', '--json'], env);
      assert.equal(cleanup.status, 0, cleanup.stderr);
      assert.equal(JSON.parse(cleanup.stdout).loginSessions, 5);
      assert.equal(existsSync(unused), false);
    } finally {
      await dropTestSchema(schema);
    }
  });

  it('refuses a DATABASE_URL that is not postgres:// (exit 1, without echoing it)', () => {
    const run = gatehouse(newDatabase(), ['migrate'], { DATABASE_URL: 'mysql://root:secret-password@localhost/test' });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /DATABASE_URL must be a postgres/);
    assert.ok(!run.stderr.includes('secret-password'));
  });
});
