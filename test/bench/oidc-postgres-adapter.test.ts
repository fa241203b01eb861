/**
 * bench/oidc-postgres-adapter.ts against PostgreSQL (the database the benchmark's durable peer row uses):
 * oidc-provider's adapter contract, each write visible from another connection (committed), expiry and
 * consumption, the per-model grant revocation, and the schema-name guard. Each test file run uses a fresh
 * `bench_test_<random>` schema and drops it; skipped with the reason when PostgreSQL is unreachable.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createOidcPostgresAdapter, createOidcPostgresSchema, dropOidcPostgresSchema } from '../../bench/oidc-postgres-adapter.ts';
import { postgresSkipReason, TEST_DATABASE_URL } from '../../packages/authorization-server/src/testing/postgres.ts';

const skip = await postgresSkipReason();

describe('oidc-provider PostgreSQL adapter (benchmark peer)', { skip }, () => {
  const schema = `bench_test_${randomBytes(6).toString('hex')}`;
  let pool: pg.Pool;
  let other: pg.Pool;
  let adapter: ReturnType<typeof createOidcPostgresAdapter>;

  before(async () => {
    pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
    other = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    await createOidcPostgresSchema(pool, schema);
    adapter = createOidcPostgresAdapter(pool, schema);
  });

  after(async () => {
    await dropOidcPostgresSchema(pool, schema);
    await pool.end();
    await other.end();
  });

  test('upsert then find returns the payload; another connection sees it (committed); an unknown id is undefined', async () => {
    const codes = adapter('AuthorizationCode');
    const payload = { jti: 'code-1', kind: 'AuthorizationCode', grantId: 'grant-1', scope: 'offline_access users:read', exp: 2_000_000_000 };
    await codes.upsert('code-1', payload, 600);
    assert.deepEqual(await codes.find('code-1'), payload);
    assert.equal(await codes.find('code-2'), undefined);
    // The same id under another model is another row.
    assert.equal(await adapter('AccessToken').find('code-1'), undefined);
    const seenElsewhere = await createOidcPostgresAdapter(other, schema)('AuthorizationCode').find('code-1');
    assert.deepEqual(seenElsewhere, payload);
  });

  test('upsert replaces the payload and its lookup columns', async () => {
    const tokens = adapter('RefreshToken');
    await tokens.upsert('rt-replace', { jti: 'rt-replace', grantId: 'grant-old', rotations: 0 }, 60);
    await tokens.upsert('rt-replace', { jti: 'rt-replace', grantId: 'grant-new', rotations: 1 }, 60);
    assert.deepEqual(await tokens.find('rt-replace'), { jti: 'rt-replace', grantId: 'grant-new', rotations: 1 });
    await tokens.revokeByGrantId('grant-old');
    assert.ok(await tokens.find('rt-replace'), 'the old grant id no longer reaches the row');
    await tokens.revokeByGrantId('grant-new');
    assert.equal(await tokens.find('rt-replace'), undefined);
  });

  test('consume marks the row consumed (epoch seconds, database clock) without removing it; a re-save starts unconsumed', async () => {
    const tokens = adapter('RefreshToken');
    await tokens.upsert('rt-consume', { jti: 'rt-consume', grantId: 'grant-c' }, 60);
    assert.equal((await tokens.find('rt-consume'))?.consumed, undefined);
    const before = Math.floor(Date.now() / 1000);
    await tokens.consume('rt-consume');
    const consumed = (await tokens.find('rt-consume'))?.consumed;
    assert.equal(typeof consumed, 'number');
    // Database and test clocks are the same machine's; a generous window, not a timing assertion.
    assert.ok(Math.abs((consumed as number) - before) < 300, `consumed ${consumed} near ${before}`);
    await tokens.upsert('rt-consume', { jti: 'rt-consume', grantId: 'grant-c' }, 60);
    assert.equal((await tokens.find('rt-consume'))?.consumed, undefined);
  });

  test('an expired row is not found by any lookup; a row without expiresIn never expires', async () => {
    const sessions = adapter('Session');
    await sessions.upsert('session-expired', { jti: 'session-expired', uid: 'uid-expired' }, -1);
    assert.equal(await sessions.find('session-expired'), undefined);
    assert.equal(await sessions.findByUid('uid-expired'), undefined);
    const clients = adapter('Client');
    await clients.upsert('client-forever', { client_id: 'client-forever' });
    assert.deepEqual(await clients.find('client-forever'), { client_id: 'client-forever' });
  });

  test('findByUid finds a session by its uid, findByUserCode a device code by its user code, each within its model', async () => {
    await adapter('Session').upsert('session-jti-1', { jti: 'session-jti-1', uid: 'uid-1', accountId: 'a' }, 60);
    assert.deepEqual(await adapter('Session').findByUid('uid-1'), { jti: 'session-jti-1', uid: 'uid-1', accountId: 'a' });
    assert.equal(await adapter('Interaction').findByUid('uid-1'), undefined);
    assert.equal(await adapter('Session').findByUid('uid-unknown'), undefined);
    await adapter('DeviceCode').upsert('device-1', { jti: 'device-1', userCode: 'ABCD-EFGH', grantId: 'grant-d' }, 60);
    assert.deepEqual(await adapter('DeviceCode').findByUserCode('ABCD-EFGH'), { jti: 'device-1', userCode: 'ABCD-EFGH', grantId: 'grant-d' });
    assert.equal(await adapter('DeviceCode').findByUserCode('ZZZZ-ZZZZ'), undefined);
  });

  test('destroy removes exactly that row', async () => {
    const tokens = adapter('AccessToken');
    await tokens.upsert('at-keep', { jti: 'at-keep', grantId: 'grant-x' }, 60);
    await tokens.upsert('at-drop', { jti: 'at-drop', grantId: 'grant-x' }, 60);
    await tokens.destroy('at-drop');
    assert.equal(await tokens.find('at-drop'), undefined);
    assert.ok(await tokens.find('at-keep'));
    await tokens.destroy('at-never-stored'); // no error
  });

  test("revokeByGrantId removes this model's rows of the grant only: other grants and other models stay", async () => {
    await adapter('AccessToken').upsert('at-g1', { jti: 'at-g1', grantId: 'grant-r' }, 60);
    await adapter('AccessToken').upsert('at-g2', { jti: 'at-g2', grantId: 'grant-other' }, 60);
    await adapter('RefreshToken').upsert('rt-g1', { jti: 'rt-g1', grantId: 'grant-r' }, 60);
    await adapter('AccessToken').revokeByGrantId('grant-r');
    assert.equal(await adapter('AccessToken').find('at-g1'), undefined);
    assert.ok(await adapter('AccessToken').find('at-g2'));
    assert.ok(await adapter('RefreshToken').find('rt-g1'), 'oidc-provider revokes each grantable model in its own call');
    await adapter('RefreshToken').revokeByGrantId('grant-r');
    assert.equal(await adapter('RefreshToken').find('rt-g1'), undefined);
  });

  test('upsertMany writes many rows in one statement, with the same lookup columns as upsert', async () => {
    await adapter.upsertMany([
      { model: 'Grant', id: 'grant-m', payload: { jti: 'grant-m', accountId: 'a' }, expiresIn: 60 },
      { model: 'AuthorizationCode', id: 'code-m', payload: { jti: 'code-m', grantId: 'grant-m' }, expiresIn: 60 },
      { model: 'AuthorizationCode', id: 'code-m-expired', payload: { jti: 'code-m-expired', grantId: 'grant-m' }, expiresIn: -1 },
    ]);
    assert.deepEqual(await adapter('Grant').find('grant-m'), { jti: 'grant-m', accountId: 'a' });
    assert.deepEqual(await adapter('AuthorizationCode').find('code-m'), { jti: 'code-m', grantId: 'grant-m' });
    assert.equal(await adapter('AuthorizationCode').find('code-m-expired'), undefined);
    await adapter('AuthorizationCode').revokeByGrantId('grant-m');
    assert.equal(await adapter('AuthorizationCode').find('code-m'), undefined);
  });

  test('a schema name outside bench_[a-z0-9_]+ is refused before any SQL runs', async () => {
    assert.throws(() => createOidcPostgresAdapter(pool, 'public; DROP TABLE x'), /refusing schema name/);
    await assert.rejects(createOidcPostgresSchema(pool, 'gatehouse'), /refusing schema name/);
    await assert.rejects(dropOidcPostgresSchema(pool, 'public'), /refusing schema name/);
  });
});
