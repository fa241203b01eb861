/**
 * The token store's lookups (stores/tokens.ts) on both backends, beyond the storage contract: the client
 * they return is never staler than the client-record cache allows (storage/client-cache.ts). Both take it
 * from that cache (no SELECT of its own); PostgreSQL reads the client's status in the token's statement and
 * reads a record whose status differs again. Either way a suspended client is refused by the very next
 * introspection or refresh (SPEC decision 13).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixture, issueGrant } from '../contract/fixtures.ts';
import { storeBackends } from '../../testing/store-backends.ts';
import { recordSqliteStatements } from '../../testing/sqlite-statements.ts';
import { clientServedFromCache, createTestPostgresStorage, eventually, postgresSkipReason, queryTestSchema } from '../../testing/postgres.ts';


for (const backend of await storeBackends()) {
  describe(`tokens lookups and the client-record cache (${backend.name})`, { skip: backend.skip }, () => {
    it('a client suspended by clients.update is seen by the very next findByDigest of the same storage', backend.with(async ({ storage }) => {
      const f = await fixture(storage);
      const { access, refresh } = await issueGrant(storage, f);
      // Warm: the client is now cached (SQLite) or the statement prepared (PostgreSQL).
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))!.client.status, 'active');
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))!.client.status, 'active');

      await storage.clients.update(f.client.clientId, { status: 'suspended' });
      assert.equal((await storage.tokens.findByDigest(refresh.tokenDigest))!.client.status, 'suspended');
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))!.client.status, 'suspended');

      await storage.clients.update(f.client.clientId, { status: 'active', secretDigest: 'rotated-digest' });
      const reactivated = (await storage.tokens.findByDigest(access.tokenDigest))!.client;
      assert.deepEqual([reactivated.status, reactivated.secretDigest], ['active', 'rotated-digest']);
    }));

    it('hands out copies: changing a returned client changes neither the next lookup nor clients.find', backend.with(async ({ storage }) => {
      const f = await fixture(storage);
      const { access } = await issueGrant(storage, f);
      const first = (await storage.tokens.findByDigest(access.tokenDigest))!;
      first.client.status = 'suspended';
      first.client.redirectUris.push('https://attacker.example/callback');
      assert.deepEqual((await storage.tokens.findByDigest(access.tokenDigest))!.client, f.client);
      assert.deepEqual(await storage.clients.find(f.client.clientId), f.client);
    }));

    if (backend.name === 'sqlite') {
      it('with the client cached, findByDigest is ONE statement (token ⋈ grant): the client row is not read again', backend.with(async ({ storage }) => {
        const f = await fixture(storage);
        const { access } = await issueGrant(storage, f);
        await storage.clients.find(f.client.clientId);
        await new Promise((resolve) => setImmediate(resolve)); // a turn of its own
        const executed = await recordSqliteStatements(() => storage.tokens.findByDigest(access.tokenDigest), { exec: false });
        // BEGIN: the turn's read transaction (sqlite/group-commit.ts), ended with the turn. PRAGMA data_version:
        // the cache's check for another connection's commit (the CLI), once per event-loop turn.
        assert.deepEqual(executed.map((sql) => sql.split(' ').slice(0, 2).join(' ')), ['BEGIN', 'SELECT t.token_digest,', 'PRAGMA data_version'], executed.join(' | '));
        const again = await recordSqliteStatements(() => Promise.all([
          storage.tokens.findByDigest(access.tokenDigest), storage.clients.find(f.client.clientId), storage.tokens.findByDigest(access.tokenDigest),
        ]), { exec: false });
        assert.ok(again.filter((sql) => sql.startsWith('PRAGMA')).length <= 1, `three lookups in one turn read it once at most: ${again.join(' | ')}`);
      }));
    }
  });
}

for (const backend of await storeBackends()) {
  describe(`tokens lookups on two instances (${backend.name})`, { skip: backend.skip }, () => {
    it('a client suspended through another instance (SQLite: another connection, the CLI) is seen by the next findByDigest', backend.withTwo(async ({ a, b }) => {
      const f = await fixture(a);
      const { access } = await issueGrant(a, f);
      assert.equal((await a.tokens.findByDigest(access.tokenDigest))!.client.status, 'active');
      assert.equal((await a.tokens.findByDigest(access.tokenDigest))!.client.status, 'active');
      await b.clients.update(f.client.clientId, { status: 'suspended' });
      assert.equal((await a.tokens.findByDigest(access.tokenDigest))!.client.status, 'suspended');
    }));
  });
}

describe('tokens lookups on PostgreSQL: the status read with the token, not only the cache', { skip: await postgresSkipReason() }, () => {
  it('a suspension not (yet) notified to the cache is seen by the next findByDigest, which then refreshes the cached record', async () => {
    const storage = await createTestPostgresStorage();
    try {
      const f = await fixture(storage);
      const { access } = await issueGrant(storage, f);
      // Until the listener listens, the cache is bypassed.
      await eventually('the client is served from the cache', () => clientServedFromCache(storage, storage.schema, f.client.clientId));
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))!.client.status, 'active');

      // Triggers off: no notification, as when another instance's change has not reached this one yet.
      const silently = (sql: string) => queryTestSchema(storage.schema, `SET session_replication_role = replica; ${sql}`);
      await silently(`UPDATE clients SET status = 'suspended', client_name = 'Renamed' WHERE client_id = '${f.client.clientId}'`);
      assert.equal((await storage.clients.find(f.client.clientId))!.status, 'active', 'the cache alone does not know yet');
      const found = (await storage.tokens.findByDigest(access.tokenDigest))!;
      assert.equal(found.client.status, 'suspended');
      assert.equal(found.client.clientName, 'Renamed', 'the whole record read again, not only its status');
      assert.equal((await storage.clients.find(f.client.clientId))!.status, 'suspended', 'the cached record was replaced');

      await silently(`UPDATE clients SET status = 'active' WHERE client_id = '${f.client.clientId}'`);
      assert.equal((await storage.tokens.findByDigest(access.tokenDigest))!.client.status, 'active', 'reactivated, unnotified, seen too');
    } finally {
      await storage.close();
    }
  });
});
