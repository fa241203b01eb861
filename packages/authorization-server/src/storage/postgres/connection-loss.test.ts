/**
 * Issue 11 item 2: nothing a database does may crash the server. A backend terminated while its client is
 * checked out of the pool (pg_terminate_backend, as a restart or failover does) must fail the one operation
 * with StorageUnavailableError, leave the process running, and the next operation must work.
 *
 * Only this file's own backends are terminated: its storages connect with a random `application_name`
 * and every pg_terminate_backend filters on exactly that name (the database is shared).
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import type { GrantRecord, Storage, TokenRecord } from '../storage.ts';
import { StorageUnavailableError } from '../storage-unavailable.ts';
import { quoteIdentifier } from './migrations.ts';
import { createPostgresStorage } from './postgres-storage.ts';

const skip = await postgresSkipReason();
/** The application_name of this file's storage connections: the only backends it ever terminates. */
const APPLICATION_NAME = `gh_test_h2_${randomBytes(6).toString('hex')}`;
const NOW = 1_800_000_000;
const digest = () => randomBytes(32).toString('base64url');
const LIMIT = { maxFailures: 1_000, windowSeconds: 60 };

function withApplicationName(databaseUrl: string, applicationName: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('application_name', applicationName);
  return url.href;
}

/** A connection of its own (another application_name, so never terminated) for locking and terminating. */
async function sideConnection(schema: string, role: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: withApplicationName(TEST_DATABASE_URL, `${APPLICATION_NAME}_${role}`), options: `-c search_path=${schema}` });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Terminates every backend of this file's storages; returns how many. */
async function terminateOurBackends(admin: pg.Client): Promise<number> {
  const result = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [APPLICATION_NAME]);
  for (const { pid } of result.rows) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  return result.rowCount ?? 0;
}

/**
 * Waits (bounded, not timed) until one of our backends is blocked by `blocker`'s lock, then terminates
 * exactly that one (pg_blocking_pids: a backend merely seen in some other wait is left alone).
 */
async function terminateTheBlockedBackend(admin: pg.Client, blocker: pg.Client): Promise<void> {
  const blockerPid = (await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const blocked = await admin.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND $2::int = ANY (pg_blocking_pids(pid))', [APPLICATION_NAME, blockerPid]);
    for (const { pid } of blocked.rows) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    if (blocked.rows.length > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no backend of ours was ever blocked by the lock');
}

function newTokenPair(grant: GrantRecord, now: number): [TokenRecord, TokenRecord] {
  const base = { grantId: grant.grantId, clientId: grant.clientId, scope: grant.scope, issuedAt: now, rotatedAt: null, revokedAt: null };
  return [
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 5_184_000 },
  ];
}

/** A client, user and company, and a stored, consumed code ready for issueForCode. */
async function consumedCode(storage: Storage) {
  const clientId = randomUUID();
  const userId = randomUUID();
  const companyId = randomUUID();
  await storage.clients.create({
    clientId, kind: 'client', clientName: 'Ledgerly Sync', clientType: 'confidential', secretDigest: digest(),
    redirectUris: ['https://ledgerly.example/cb'], scopes: ['users:read'], subjectType: null, pkceRequired: true, status: 'active',
    clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: null, createdAt: NOW,
    initiationUri: null, settingsUri: null, contacts: [], ownerUserId: null, previousSecretDigest: null, previousSecretExpiresAt: null,
    brandingVerified: true,
  });
  await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: 'x' });
  await storage.subjects.create({ subjectType: 'company', subjectId: companyId, name: 'Nordlys Danmark ApS', organizationId: null });
  const codeDigest = digest();
  await storage.authorizationCodes.create({
    codeDigest, clientId, userId, redirectUri: 'https://ledgerly.example/cb', scope: ['users:read'], subjectType: 'company',
    subjectId: companyId, codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60,
  });
  assert.equal((await storage.authorizationCodes.consume(codeDigest, NOW)).outcome, 'consumed');
  const grant: GrantRecord = {
    grantId: randomUUID(), clientId, userId, subjectType: 'company', subjectId: companyId, scope: ['users:read'],
    createdAt: NOW, revokedAt: null, revocationReason: null,
  };
  return { codeDigest, grant, tokens: newTokenPair(grant, NOW) };
}

/** A client, user and company, and a stored, unused code ready for exchangeCode (issue 12). */
async function unusedCode(storage: Storage) {
  const consumed = await consumedCode(storage);
  const codeDigest = digest();
  await storage.authorizationCodes.create({
    codeDigest, clientId: consumed.grant.clientId, userId: consumed.grant.userId, redirectUri: 'https://ledgerly.example/cb', scope: ['users:read'],
    subjectType: 'company', subjectId: consumed.grant.subjectId, codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60,
  });
  return { ...consumed, codeDigest };
}

/** A grant with a current refresh token. */
async function issuedGrant(storage: Storage) {
  const issued = await consumedCode(storage);
  assert.equal(await storage.grants.issueForCode(issued.codeDigest, issued.grant, issued.tokens), 'issued');
  return { ...issued, refresh: issued.tokens[1] };
}

/**
 * Every storage operation that holds a pooled client across statements (a transaction) or takes row locks,
 * with the table to lock so that it blocks while checked out, and what it answers once it can run.
 */
const OPERATIONS: { name: string; lockTable: string; prepare(storage: Storage): Promise<() => Promise<unknown>>; expected: unknown }[] = [
  {
    name: 'grants.issueForCode', lockTable: 'authorization_codes', expected: 'issued',
    async prepare(storage) {
      const { codeDigest, grant, tokens } = await consumedCode(storage);
      return () => storage.grants.issueForCode(codeDigest, grant, tokens);
    },
  },
  {
    name: 'grants.exchangeCode', lockTable: 'authorization_codes', expected: { outcome: 'issued' },
    async prepare(storage) {
      const { codeDigest, grant, tokens } = await unusedCode(storage);
      return () => storage.grants.exchangeCode(codeDigest, grant.clientId, NOW, grant, tokens);
    },
  },
  {
    name: 'grants.exchangeReadyCode', lockTable: 'authorization_codes', expected: 'issued',
    async prepare(storage) {
      const { codeDigest, grant, tokens } = await unusedCode(storage);
      const conditions = { redirectUri: 'https://ledgerly.example/cb', codeChallenge: null, dpopJkt: null, defaultResourceScopes: ['users:read'] };
      return async () => (await storage.grants.exchangeReadyCode(codeDigest, grant.clientId, NOW, conditions, grant.grantId,
        tokens.map(({ tokenDigest, tokenId, kind, expiresAt }) => ({ tokenDigest, tokenId, kind, expiresAt })))).outcome;
    },
  },
  {
    name: 'tokens.rotateRefreshToken', lockTable: 'grants', expected: 'rotated',
    async prepare(storage) {
      const { grant, refresh } = await issuedGrant(storage);
      const successors = newTokenPair(grant, NOW + 1);
      return () => storage.tokens.rotateRefreshToken(refresh.tokenDigest, NOW + 1, successors);
    },
  },
  {
    name: 'grants.revoke', lockTable: 'grants', expected: true,
    async prepare(storage) {
      const { grant } = await issuedGrant(storage);
      return () => storage.grants.revoke(grant.grantId, NOW + 1, 'revoked');
    },
  },
  {
    name: 'grants.revokeAllOfClient', lockTable: 'grants', expected: 1,
    async prepare(storage) {
      const { grant } = await issuedGrant(storage);
      return () => storage.grants.revokeAllOfClient(grant.clientId, NOW + 1, 'client_deleted');
    },
  },
  {
    name: 'loginThrottle.recordFailure', lockTable: 'login_throttle', expected: { retryAfterSeconds: 0, failures: [1, 1] },
    async prepare(storage) {
      const keys = [`account:${digest()}`, `address:${digest()}`];
      return () => storage.loginThrottle.recordFailure(keys, NOW, LIMIT);
    },
  },
  {
    name: 'loginThrottle.retract', lockTable: 'login_throttle', expected: undefined,
    async prepare(storage) {
      const keys = [`account:${digest()}`];
      await storage.loginThrottle.recordFailure(keys, NOW, LIMIT);
      return () => storage.loginThrottle.retract(keys, NOW);
    },
  },
  {
    // A transaction that locks the table first (the scope claim, issue 15 §4).
    name: 'resources.create', lockTable: 'resources', expected: 'created',
    async prepare(storage) {
      const id = randomUUID();
      return () => storage.resources.create({ resource: `https://api.example/${id}`, name: 'API', scopes: [`api-${id}:read`], createdAt: NOW });
    },
  },
  {
    name: 'cleanup.deleteExpired', lockTable: 'tokens', expected: undefined,
    async prepare(storage) {
      return async () => {
        await storage.cleanup.deleteExpired(NOW, 100);
      };
    },
  },
];

describe('PostgreSQL storage: a backend terminated mid-operation (issue 11 item 2)', { skip }, () => {
  const schema = newTestSchema();
  let storage: Storage;
  let admin: pg.Client;
  before(async () => {
    storage = await createPostgresStorage(withApplicationName(TEST_DATABASE_URL, APPLICATION_NAME), { schema, poolSize: 4, onConnectionError: () => {} });
    admin = await sideConnection(schema, 'admin');
  });
  after(async () => {
    await admin?.end();
    await storage?.close();
    await dropTestSchema(schema);
  });

  for (const operation of OPERATIONS) {
    it(`${operation.name}: a backend terminated while its client is checked out fails that call with StorageUnavailableError, the process survives, and the next call works`, async () => {
      const run = await operation.prepare(storage);
      const blocker = await sideConnection(schema, 'blocker');
      try {
        // The operation's client is checked out and its statement queued behind this lock when the backend dies.
        await blocker.query('BEGIN');
        await blocker.query(`LOCK TABLE ${quoteIdentifier(operation.lockTable)} IN ACCESS EXCLUSIVE MODE`);
        // The expectation is attached at once: the call may fail before the terminating query returns.
        const refused = assert.rejects(run(), (error) => error instanceof StorageUnavailableError);
        await terminateTheBlockedBackend(admin, blocker);
        await refused;
        await blocker.query('ROLLBACK');
      } finally {
        await blocker.end();
      }
      // Nothing was committed by the terminated call, so the same call now does its work.
      const outcome = await run();
      if (operation.expected !== undefined) assert.deepEqual(outcome, operation.expected);
    });
  }

  it('every operation under load while all its backends are terminated again and again either works or fails with StorageUnavailableError, then all work again', async (t) => {
    const failures: unknown[] = [];
    let unavailable = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        for (const operation of OPERATIONS) {
          try {
            const run = await operation.prepare(storage);
            await run();
          } catch (error) {
            if (error instanceof StorageUnavailableError) unavailable++;
            else failures.push(error);
          }
        }
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    let terminated = 0;
    for (let round = 0; round < 40; round++) {
      terminated += await terminateOurBackends(admin);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    stop = true;
    await Promise.all(workers);
    assert.deepEqual(failures, [], 'only StorageUnavailableError, never another error');
    assert.ok(terminated > 0, 'backends were terminated');
    // Recovery without a restart: every operation works again at once.
    for (const operation of OPERATIONS) {
      const outcome = await (await operation.prepare(storage))();
      if (operation.expected !== undefined) assert.deepEqual(outcome, operation.expected, operation.name);
    }
    t.diagnostic(`${terminated} backends terminated; ${unavailable} calls failed with StorageUnavailableError`);
  });
});

describe('PostgreSQL storage: a backend terminated at each point of a code exchange (issue 12)', { skip }, () => {
  const schema = newTestSchema();
  let storage: Storage;
  let admin: pg.Client;
  before(async () => {
    storage = await createPostgresStorage(withApplicationName(TEST_DATABASE_URL, APPLICATION_NAME), { schema, poolSize: 4, onConnectionError: () => {} });
    admin = await sideConnection(schema, 'admin');
  });
  after(async () => {
    await admin?.end();
    await storage?.close();
    await dropTestSchema(schema);
  });

  /** A previous grant of a (client, subject), a newer unused code for the same pair, and its exchange. */
  async function exchangeOverPreviousGrant(operation: 'exchangeCode' | 'exchangeReadyCode') {
    const previous = await issuedGrant(storage);
    const codeDigest = digest();
    await storage.authorizationCodes.create({
      codeDigest, clientId: previous.grant.clientId, userId: previous.grant.userId, redirectUri: 'https://ledgerly.example/cb', scope: ['users:read'],
      subjectType: 'company', subjectId: previous.grant.subjectId, codeChallenge: null, issuedAt: NOW + 10, expiresAt: NOW + 70,
    });
    const grant: GrantRecord = { ...previous.grant, grantId: randomUUID(), createdAt: NOW + 11 };
    const tokens = newTokenPair(grant, NOW + 11);
    const event = { type: 'token.issued', at: NOW + 11, actor: `client:${grant.clientId}`, clientId: grant.clientId, grantId: grant.grantId };
    // The two ways an exchange redeems: after the endpoint read the code, or reading it in the same statement.
    const exchange = operation === 'exchangeCode'
      ? async () => (await storage.grants.exchangeCode(codeDigest, grant.clientId, NOW + 11, grant, tokens, event)).outcome
      : async () => (await storage.grants.exchangeReadyCode(codeDigest, grant.clientId, NOW + 11, {
        redirectUri: 'https://ledgerly.example/cb', codeChallenge: null, dpopJkt: null, defaultResourceScopes: ['users:read'],
      }, grant.grantId, tokens.map(({ tokenDigest, tokenId, kind, expiresAt }) => ({ tokenDigest, tokenId, kind, expiresAt })), event)).outcome;
    return { previous, codeDigest, grant, tokens, exchange };
  }
  type Exchange = Awaited<ReturnType<typeof exchangeOverPreviousGrant>>;

  /** Where the exchange is made to wait (a lock the blocker holds) when its backend is terminated, in the order it gets there. */
  const POINTS: { name: string; block(blocker: pg.Client, exchange: Exchange): Promise<unknown> }[] = [
    { name: 'the statement\'s start (a table lock)', block: (blocker) => blocker.query('LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE') },
    {
      name: 'the (client, subject) advisory lock',
      block: (blocker, { grant }) => blocker.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`gatehouse.grant:${grant.clientId}:company:${grant.subjectId}`]),
    },
    { name: 'the code row', block: (blocker, { codeDigest }) => blocker.query('SELECT 1 FROM authorization_codes WHERE code_digest = $1 FOR UPDATE', [codeDigest]) },
    { name: 'the previous grant row (supersede)', block: (blocker, { previous }) => blocker.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE', [previous.grant.grantId]) },
    { name: 'the previous grant\'s tokens (supersede)', block: (blocker, { previous }) => blocker.query('SELECT 1 FROM tokens WHERE token_digest = $1 FOR UPDATE', [previous.refresh.tokenDigest]) },
    {
      name: 'inserting the grant',
      // An uncommitted row with the new grant's id: the insert waits to learn whether it conflicts.
      block: (blocker, { grant }) => blocker.query(
        `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at) VALUES ($1, $2, $3, 'company', $4, 'users:read', $5)`,
        [grant.grantId, grant.clientId, grant.userId, randomUUID(), NOW]),
    },
    {
      name: 'inserting the tokens',
      block: (blocker, { previous, tokens }) => blocker.query(
        `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at) VALUES ($1, $2, 'access', $3, $4, 'users:read', $5, $6)`,
        [tokens[0].tokenDigest, randomUUID(), previous.grant.grantId, previous.grant.clientId, NOW, NOW + 900]),
    },
  ];

  for (const point of POINTS) for (const operation of ['exchangeCode', 'exchangeReadyCode'] as const) {
    it(`${operation} waiting on ${point.name}: fails with StorageUnavailableError, leaves the code unused, the previous grant active and nothing written; the retry issues`, async () => {
      const exchange = await exchangeOverPreviousGrant(operation);
      const blocker = await sideConnection(schema, 'blocker');
      try {
        await blocker.query('BEGIN');
        await point.block(blocker, exchange);
        const refused = assert.rejects(exchange.exchange(), (error) => error instanceof StorageUnavailableError);
        await terminateTheBlockedBackend(admin, blocker);
        await refused;
        await blocker.query('ROLLBACK');
      } finally {
        await blocker.end();
      }
      const { previous, codeDigest, grant, tokens } = exchange;
      assert.equal((await storage.authorizationCodes.find(codeDigest, grant.clientId))?.used, false, 'the code is still unused');
      assert.equal(await storage.grants.find(grant.grantId), undefined, 'no grant');
      for (const token of tokens) assert.equal(await storage.tokens.findByDigest(token.tokenDigest), undefined, 'no token');
      assert.equal((await storage.grants.find(previous.grant.grantId))?.revokedAt, null, 'the previous grant is not superseded');
      assert.equal((await storage.tokens.findByDigest(previous.refresh.tokenDigest))?.token.revokedAt, null, 'nor its tokens');
      assert.equal((await storage.audit.list()).some((event) => event.grantId === grant.grantId), false, 'no audit event');

      assert.equal(await exchange.exchange(), 'issued');
      assert.equal((await storage.grants.find(previous.grant.grantId))?.revocationReason, 'superseded');
      assert.equal((await storage.grants.findActive(grant.clientId, 'company', grant.subjectId))?.grantId, grant.grantId);
    });
  }
});
