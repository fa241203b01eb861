import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { ClientRecord, GrantRecord, Storage, TokenRecord } from '../storage.ts';
import { contractBackend, runStorageContract } from '../contract/index.ts';
import { rateLimitsContract } from '../contract/rate-limits.ts';
import {
  createTestPostgresStorage,
  dropTestSchema,
  newTestSchema,
  postgresSkipReason,
  prewarmedTestStorages,
  queryTestSchema,
  TEST_DATABASE_URL,
} from '../../testing/postgres.ts';
import { migrations } from './migrations.ts';
import { createPostgresStorage, migratePostgres } from './postgres-storage.ts';

const skip = await postgresSkipReason();

// Each contract test gets a storage on a fresh schema of its own (dropped when the test closes it).
const storages = skip ? undefined : prewarmedTestStorages();
after(() => storages?.dispose());
// The default counters (issue 12: `shared`, flushed by the suite instead of the timer); then `database` mode's.
runStorageContract('postgres', () => storages!.next(), { skip, rateLimitCounters: 'shared' });
describe('storage contract: postgres, rate-limit counters written per request (rateLimitCounters: database)', { skip }, () => {
  rateLimitsContract(contractBackend('postgres', () => createTestPostgresStorage({ rateLimitCounters: 'database' })));
});

const NOW = 1_800_000_000;
const digest = () => randomBytes(32).toString('base64url');

function clientRecord(): ClientRecord {
  return {
    clientId: randomUUID(), kind: 'client', clientName: 'Ledgerly Sync', clientType: 'confidential', secretDigest: digest(),
    redirectUris: ['https://ledgerly.example/cb'], scopes: ['users:read'], subjectType: null, pkceRequired: true, status: 'active',
    clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: null, createdAt: NOW,
    initiationUri: null, settingsUri: null, contacts: [], ownerUserId: null, previousSecretDigest: null, previousSecretExpiresAt: null,
    brandingVerified: true,
  };
}

function newTokenPair(grant: GrantRecord, now: number): [TokenRecord, TokenRecord] {
  const base = { grantId: grant.grantId, clientId: grant.clientId, scope: grant.scope, issuedAt: now, rotatedAt: null, revokedAt: null };
  return [
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
    { ...base, tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 5_184_000 },
  ];
}

/** A client, user, company, consumed code and grant with a first token pair. */
async function grantWithRefreshToken(storage: Storage) {
  const client = clientRecord();
  const userId = randomUUID();
  const companyId = randomUUID();
  await storage.clients.create(client);
  await storage.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: 'x' });
  await storage.subjects.create({ subjectType: 'company', subjectId: companyId, name: 'Nordlys Danmark ApS', organizationId: null });
  const codeDigest = digest();
  await storage.authorizationCodes.create({
    codeDigest, clientId: client.clientId, userId, redirectUri: client.redirectUris[0]!, scope: ['users:read'], subjectType: 'company',
    subjectId: companyId, codeChallenge: null, issuedAt: NOW, expiresAt: NOW + 60,
  });
  const grant: GrantRecord = {
    grantId: randomUUID(), clientId: client.clientId, userId, subjectType: 'company', subjectId: companyId, scope: ['users:read'],
    createdAt: NOW, revokedAt: null, revocationReason: null,
  };
  return { client, userId, companyId, codeDigest, grant };
}

/** Opens `count` storages (separate connection pools: as separate instances would) on one fresh schema. */
async function instances(count: number) {
  const schema = newTestSchema();
  const storages = await Promise.all(Array.from({ length: count }, () => createPostgresStorage(TEST_DATABASE_URL, { schema, poolSize: 4 })));
  return {
    schema,
    storages,
    async close() {
      await Promise.all(storages.map((storage) => storage.close()));
      await dropTestSchema(schema);
    },
  };
}

describe('PostgreSQL storage', { skip }, () => {
  it('migrates a fresh schema once when four instances start at the same moment (advisory lock)', async () => {
    for (let round = 0; round < 3; round++) {
      const opened = await instances(4);
      try {
        const applied = await queryTestSchema(opened.schema, 'SELECT version, name FROM schema_migrations ORDER BY version');
        assert.deepEqual(applied.rows, migrations.map(({ version, name }) => ({ version, name })), `round ${round}`);
        // Every instance works on the one schema.
        const client = clientRecord();
        await opened.storages[0]!.clients.create(client);
        for (const storage of opened.storages) assert.deepEqual(await storage.clients.find(client.clientId), client);
      } finally {
        await opened.close();
      }
    }
  });

  it('reopening keeps the data and applies nothing again; `migratePostgres` reports what it applied', async () => {
    const schema = newTestSchema();
    try {
      assert.deepEqual(await migratePostgres(TEST_DATABASE_URL, { schema }), { applied: migrations.map((m) => m.version), version: migrations.at(-1)!.version });
      assert.deepEqual(await migratePostgres(TEST_DATABASE_URL, { schema }), { applied: [], version: migrations.at(-1)!.version });
      const first = await createPostgresStorage(TEST_DATABASE_URL, { schema });
      const client = clientRecord();
      await first.clients.create(client);
      await first.close();
      const second = await createPostgresStorage(TEST_DATABASE_URL, { schema });
      assert.deepEqual(await second.clients.find(client.clientId), client);
      await second.close();
      assert.equal((await queryTestSchema(schema, 'SELECT count(*)::int AS n FROM schema_migrations')).rows[0]!.n, migrations.length);
    } finally {
      await dropTestSchema(schema);
    }
  });

  it('refuses a schema name that is not a plain lowercase identifier', async () => {
    await assert.rejects(createPostgresStorage(TEST_DATABASE_URL, { schema: 'gh"; DROP TABLE x; --' }), /schema must be/);
    await assert.rejects(createPostgresStorage(TEST_DATABASE_URL, { schema: 'Upper' }), /schema must be/);
  });

  it('refuses to update, delete or truncate audit events, or to overwrite one with ON CONFLICT (SPEC decision 19: append-only)', async () => {
    const storage = await createTestPostgresStorage();
    try {
      await storage.audit.record({ type: 'consent.granted', at: NOW, actor: 'user:alice', details: { scope: 'users:read' } });
      const attempts = [
        "UPDATE audit_events SET actor = 'someone else'",
        'DELETE FROM audit_events',
        'TRUNCATE audit_events',
        "INSERT INTO audit_events (event_id, type, at, actor, details) SELECT event_id, 'x', 0, 'x', '{}' FROM audit_events ON CONFLICT (event_id) DO UPDATE SET type = 'rewritten'",
      ];
      for (const sql of attempts) await assert.rejects(queryTestSchema(storage.schema, sql), /append-only/, sql);
      const rows = await queryTestSchema(storage.schema, 'SELECT type, actor, details FROM audit_events');
      assert.deepEqual(rows.rows, [{ type: 'consent.granted', actor: 'user:alice', details: { scope: 'users:read' } }]);
    } finally {
      await storage.close();
    }
  });

  it('of two instances rotating the same refresh token at once exactly one succeeds, 20 times over (SPEC decision 8)', async () => {
    const opened = await instances(2);
    try {
      const [a, b] = opened.storages as [Storage, Storage];
      for (let round = 0; round < 20; round++) {
        const { grant, codeDigest } = await grantWithRefreshToken(a);
        assert.equal((await a.authorizationCodes.consume(codeDigest, NOW)).outcome, 'consumed');
        const first = newTokenPair(grant, NOW);
        assert.equal(await b.grants.issueForCode(codeDigest, grant, first), 'issued');
        const pairA = newTokenPair(grant, NOW + 10);
        const pairB = newTokenPair(grant, NOW + 10);
        const results = await Promise.all([
          a.tokens.rotateRefreshToken(first[1].tokenDigest, NOW + 10, pairA),
          b.tokens.rotateRefreshToken(first[1].tokenDigest, NOW + 10, pairB),
        ]);
        assert.deepEqual([...results].sort(), ['not_current', 'rotated'], `round ${round}`);
        const [winner, loser] = results[0] === 'rotated' ? [pairA, pairB] : [pairB, pairA];
        for (const token of winner) assert.ok(await a.tokens.findByDigest(token.tokenDigest));
        for (const token of loser) assert.equal(await b.tokens.findByDigest(token.tokenDigest), undefined);
      }
    } finally {
      await opened.close();
    }
  });

  it('a rotation racing a grant revocation on another instance leaves no unrevoked token behind (lock order: grant first), and the revocation\'s audit event is recorded once', async () => {
    const opened = await instances(2);
    try {
      const [a, b] = opened.storages as [Storage, Storage];
      for (let round = 0; round < 20; round++) {
        const { grant, codeDigest } = await grantWithRefreshToken(a);
        await a.authorizationCodes.consume(codeDigest, NOW);
        const first = newTokenPair(grant, NOW);
        await a.grants.issueForCode(codeDigest, grant, first);
        const next = newTokenPair(grant, NOW + 10);
        // Odd rounds as the revocation endpoint revokes (one statement, gatehouse_revoke_grant, migration 42).
        const auditEvent = { type: 'grant.revoked', at: NOW + 10, actor: `client:${grant.clientId}`, clientId: grant.clientId, grantId: grant.grantId, details: { round } };
        await Promise.all([
          a.tokens.rotateRefreshToken(first[1].tokenDigest, NOW + 10, next),
          b.grants.revoke(grant.grantId, NOW + 10, 'user_revoked', round % 2 === 1 ? { auditEvent } : undefined),
        ]);
        const left = await queryTestSchema(opened.schema, 'SELECT count(*)::int AS n FROM tokens WHERE grant_id = $1 AND revoked_at IS NULL', [grant.grantId]);
        assert.equal(left.rows[0]!.n, 0, `round ${round}: every token of a revoked grant is revoked`);
        const audited = await queryTestSchema(opened.schema, "SELECT count(*)::int AS n FROM audit_events WHERE grant_id = $1 AND type = 'grant.revoked'", [grant.grantId]);
        assert.equal(audited.rows[0]!.n, round % 2, `round ${round}: the audit event with the revocation, once`);
      }
    } finally {
      await opened.close();
    }
  });

  it('of two instances redeeming one code at once exactly one consumes it, and a racing issueForCode after a replay stores nothing (RFC 6749 §4.1.2)', async () => {
    const opened = await instances(2);
    try {
      const [a, b] = opened.storages as [Storage, Storage];
      for (let round = 0; round < 20; round++) {
        const { grant, codeDigest } = await grantWithRefreshToken(a);
        const outcomes = await Promise.all([a.authorizationCodes.consume(codeDigest, NOW), b.authorizationCodes.consume(codeDigest, NOW)]);
        assert.deepEqual(outcomes.map((outcome) => outcome.outcome).sort(), ['consumed', 'replayed']);
        // The winner's issueForCode now finds the code replayed: nothing is stored.
        assert.equal(await a.grants.issueForCode(codeDigest, grant, newTokenPair(grant, NOW)), 'code_replayed');
        assert.equal(await b.grants.find(grant.grantId), undefined);
      }
    } finally {
      await opened.close();
    }
  });

  it('what an instance remembers it wrote (written-rows.ts) is re-checked by its write: another instance\'s redemption, rotation or revocation wins; introspection reads fresh', async () => {
    const opened = await instances(2);
    try {
      const [a, b] = opened.storages as [Storage, Storage];
      // A code A wrote reads unused on A (no round trip) after B redeemed it: A's redemption answers replayed.
      const { grant, codeDigest, client } = await grantWithRefreshToken(a);
      const first = newTokenPair(grant, NOW);
      assert.equal((await b.grants.exchangeCode(codeDigest, client.clientId, NOW, grant, first)).outcome, 'issued');
      assert.equal((await a.authorizationCodes.find(codeDigest, client.clientId, { forRedemption: true }))?.used, false, 'as A wrote it');
      assert.equal((await a.authorizationCodes.find(codeDigest, client.clientId))?.used, true, 'without forRedemption: as stored now');
      const other = { ...grant, grantId: randomUUID() };
      assert.deepEqual(await a.grants.exchangeCode(codeDigest, client.clientId, NOW, other, newTokenPair(other, NOW)), { outcome: 'replayed', grantId: grant.grantId });
      // Redeemed on A: forgotten there, so the next lookup reads the row (used).
      assert.equal((await a.authorizationCodes.find(codeDigest, client.clientId))?.used, true);

      // A rotates (and so remembers the successor); B rotates the successor: A's remembered one is not current.
      assert.ok(await a.tokens.findByDigest(first[1].tokenDigest, { forRotation: true }));
      const second = newTokenPair(grant, NOW + 10);
      assert.equal(await a.tokens.rotateRefreshToken(first[1].tokenDigest, NOW + 10, second), 'rotated');
      assert.equal(await b.tokens.rotateRefreshToken(second[1].tokenDigest, NOW + 20, newTokenPair(grant, NOW + 20)), 'rotated');
      assert.equal((await a.tokens.findByDigest(second[1].tokenDigest, { forRotation: true }))?.token.rotatedAt, null, 'as A wrote it');
      assert.equal((await a.tokens.findByDigest(second[1].tokenDigest))?.token.rotatedAt, NOW + 20, 'introspection: as stored now');
      assert.equal(await a.tokens.rotateRefreshToken(second[1].tokenDigest, NOW + 30, newTokenPair(grant, NOW + 30)), 'not_current');

      // A grant revoked on B: A's remembered refresh token does not rotate, and A's revocation finds it revoked.
      const fresh = await grantWithRefreshToken(a);
      const pair = newTokenPair(fresh.grant, NOW);
      assert.equal((await a.grants.exchangeCode(fresh.codeDigest, fresh.client.clientId, NOW, fresh.grant, pair)).outcome, 'issued');
      assert.equal(await b.grants.revoke(fresh.grant.grantId, NOW + 5, 'user_revoked'), true);
      assert.equal((await a.tokens.findByDigest(pair[1].tokenDigest, { forRotation: true }))?.grant.revokedAt, null, 'as A wrote it');
      assert.equal(await a.tokens.rotateRefreshToken(pair[1].tokenDigest, NOW + 10, newTokenPair(fresh.grant, NOW + 10)), 'not_current');
      assert.equal(await a.grants.revoke(fresh.grant.grantId, NOW + 10, 'refresh_token_reuse'), false);
      // Revoked on A itself: forgotten, so the lookup for rotation is fresh.
      const own = await grantWithRefreshToken(a);
      const ownPair = newTokenPair(own.grant, NOW);
      await a.grants.exchangeCode(own.codeDigest, own.client.clientId, NOW, own.grant, ownPair);
      await a.grants.revoke(own.grant.grantId, NOW + 5, 'user_revoked');
      assert.equal((await a.tokens.findByDigest(ownPair[1].tokenDigest, { forRotation: true }))?.grant.revokedAt, NOW + 5);
    } finally {
      await opened.close();
    }
  });

  it('two concurrent consents for one client and subject on two instances leave exactly one active grant (SPEC decisions 6 and 11)', async () => {
    const opened = await instances(2);
    try {
      const [a, b] = opened.storages as [Storage, Storage];
      const { client, userId, companyId } = await grantWithRefreshToken(a);
      for (let round = 0; round < 10; round++) {
        const stored = async (storage: Storage) => {
          const codeDigest = digest();
          await storage.authorizationCodes.create({
            codeDigest, clientId: client.clientId, userId, redirectUri: client.redirectUris[0]!, scope: ['users:read'], subjectType: 'company',
            subjectId: companyId, codeChallenge: null, issuedAt: NOW + round, expiresAt: NOW + round + 60,
          });
          return codeDigest;
        };
        const redeem = async (storage: Storage, codeDigest: string) => {
          await storage.authorizationCodes.consume(codeDigest, NOW + round);
          const grant: GrantRecord = {
            grantId: randomUUID(), clientId: client.clientId, userId, subjectType: 'company', subjectId: companyId, scope: ['users:read'],
            createdAt: NOW + round, revokedAt: null, revocationReason: null,
          };
          return storage.grants.issueForCode(codeDigest, grant, newTokenPair(grant, NOW + round));
        };
        // Both codes are issued before either is redeemed: whichever redemption takes the (client, subject) second
        // finds a newer grant than the one its code saw (SPEC decision 6, migration 48) and creates nothing.
        const codes = [await stored(a), await stored(b)];
        assert.deepEqual((await Promise.all([redeem(a, codes[0]!), redeem(b, codes[1]!)])).sort(), ['code_outdated', 'issued']);
        const active = await queryTestSchema(opened.schema, 'SELECT grant_id FROM grants WHERE client_id = $1 AND revoked_at IS NULL', [client.clientId]);
        assert.equal(active.rows.length, 1, `round ${round}`);
        const live = await queryTestSchema(opened.schema, 'SELECT count(*)::int AS n FROM tokens t JOIN grants g USING (grant_id) WHERE g.client_id = $1 AND t.revoked_at IS NULL', [client.clientId]);
        assert.equal(live.rows[0]!.n, 2, 'only the active grant has unrevoked tokens');
      }
    } finally {
      await opened.close();
    }
  });

  it('cleanup on two instances at once deletes every expired row exactly once (FOR UPDATE SKIP LOCKED)', async () => {
    const opened = await instances(2);
    try {
      const [a, b] = opened.storages as [Storage, Storage];
      const userId = randomUUID();
      await a.users.create({ userId, email: `${userId}@example.com`, name: 'Alice', passwordHash: 'x' });
      await queryTestSchema(opened.schema,
        'INSERT INTO login_sessions (session_digest, user_id, created_at, expires_at) SELECT md5(i::text), $1, 0, $2 FROM generate_series(1, 500) AS i',
        [userId, NOW - 1]);
      const [first, second] = await Promise.all([a.cleanup.deleteExpired(NOW, 7), b.cleanup.deleteExpired(NOW, 7)]);
      assert.equal(first!.loginSessions + second!.loginSessions, 500);
      assert.equal((await queryTestSchema(opened.schema, 'SELECT count(*)::int AS n FROM login_sessions')).rows[0]!.n, 0);
    } finally {
      await opened.close();
    }
  });

  it('finds users by e-mail case-insensitively beyond ASCII (lower() with the database\'s UTF-8 LC_CTYPE; SQLite folds ASCII only)', async () => {
    const storage = await createTestPostgresStorage();
    try {
      const user = { userId: randomUUID(), email: 'Élodie@Example.com', name: 'Élodie', passwordHash: 'x' };
      await storage.users.create(user);
      assert.deepEqual(await storage.users.findByEmail('ÉLODIE@example.COM'), user);
      // Beyond ASCII only where the database's LC_CTYPE knows the letters (C.UTF-8 and any UTF-8 locale do).
      const folds = (await queryTestSchema(storage.schema, "SELECT lower('É') = 'é' AS folds")).rows[0]!.folds as boolean;
      if (folds) {
        assert.deepEqual(await storage.users.findByEmail('élodie@example.com'), user);
        await assert.rejects(storage.users.create({ ...user, userId: randomUUID(), email: 'élodie@EXAMPLE.COM' }));
      }
    } finally {
      await storage.close();
    }
  });
});
