/**
 * The client-record cache (issue 12): a changed client is never served from the cache, whether the change
 * was made by the same storage, by another instance on PostgreSQL (LISTEN/NOTIFY, migrations 26 and 31) or by
 * another process on SQLite (`PRAGMA data_version`), and a lost listener bypasses the cache until it
 * listens again.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createPostgresStorage } from './postgres/postgres-storage.ts';
import { createSqliteStorage } from './sqlite/sqlite-storage.ts';
import { cacheClients, clientChangeChannel, listenForChanges, type ClientStore, type ListenerConnection } from './client-cache.ts';
import type { ClientRecord, ClientStatusChange, Storage } from './storage.ts';
import { clientServedFromCache, createTestPostgresStorage, eventually, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from '../testing/postgres.ts';

const NOW = 1_800_000_000;
const skipPostgres = await postgresSkipReason();
const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-client-cache-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

function clientRecord(overrides: Partial<ClientRecord> = {}): ClientRecord {
  return {
    clientId: randomUUID(), kind: 'client', clientName: 'Ledgerly Sync', clientType: 'confidential', secretDigest: randomBytes(32).toString('base64url'),
    redirectUris: ['https://ledgerly.example/oauth/callback'], scopes: ['users:read', 'vendors:write'], subjectType: 'company',
    pkceRequired: true, status: 'active', clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: null, createdAt: NOW,
    initiationUri: null, settingsUri: null, contacts: ['dev@ledgerly.example'], ownerUserId: null, previousSecretDigest: null,
    previousSecretExpiresAt: null, brandingVerified: false, ...overrides,
  };
}

/** An in-memory client store that counts its lookups. */
function countingStore(): ClientStore & { finds: number; rows: Map<string, ClientRecord> } {
  const rows = new Map<string, ClientRecord>();
  const store = {
    finds: 0,
    rows,
    async find(clientId: string) {
      store.finds += 1;
      const row = rows.get(clientId);
      return row && structuredClone(row);
    },
    async create(client: ClientRecord) {
      rows.set(client.clientId, structuredClone(client));
    },
    async update(clientId: string, patch: Partial<ClientRecord>) {
      const row = rows.get(clientId);
      if (!row) return undefined;
      Object.assign(row, patch);
      return structuredClone(row);
    },
    async changeStatus(clientId: string, change: ClientStatusChange) {
      const row = rows.get(clientId);
      if (!row) return { outcome: 'not_found' } as const;
      const previousStatus = row.status;
      row.status = change.status;
      return { outcome: 'changed', client: structuredClone(row), auditEvent: undefined, previousStatus, grantsRevoked: 0, accessTokensRevoked: 0 } as const;
    },
    async list() {
      return [...rows.values()];
    },
    async listByOwner() {
      return [];
    },
  };
  return store;
}

describe('client-record cache', () => {
  it('answers a repeated lookup from memory, and an unknown client from the store every time', async () => {
    const store = countingStore();
    const { clients } = cacheClients(store);
    const client = clientRecord();
    await clients.create(client);
    assert.deepEqual(await clients.find(client.clientId), client);
    assert.deepEqual(await clients.find(client.clientId), client);
    assert.equal(store.finds, 1);
    assert.equal(await clients.find('unknown'), undefined);
    assert.equal(await clients.find('unknown'), undefined);
    assert.equal(store.finds, 3);
  });

  it('a returned record cannot change the cache nor the next answer: the store\'s own copy on a miss, a frozen record (arrays too) on a hit', async () => {
    const store = countingStore();
    const { clients } = cacheClients(store);
    const client = clientRecord();
    await clients.create(client);
    const first = (await clients.find(client.clientId))!;
    first.status = 'suspended';
    first.scopes.push('admin');
    first.redirectUris[0] = 'https://attacker.example/';
    const cached = (await clients.find(client.clientId))!;
    assert.ok(Object.isFrozen(cached) && Object.isFrozen(cached.redirectUris) && Object.isFrozen(cached.scopes) && Object.isFrozen(cached.contacts));
    assert.throws(() => { cached.status = 'suspended'; }, TypeError);
    assert.throws(() => { cached.scopes.push('admin'); }, TypeError);
    assert.throws(() => { cached.contacts.length = 0; }, TypeError);
    assert.deepEqual(await clients.find(client.clientId), client);
    assert.equal(store.finds, 1);
  });

  it('keeps at most maxEntries records, dropping the least recently used', async () => {
    const store = countingStore();
    const cache = cacheClients(store, { maxEntries: 2 });
    const [a, b, c] = [clientRecord(), clientRecord(), clientRecord()];
    for (const client of [a, b, c]) await store.create(client);
    await cache.clients.find(a.clientId);
    await cache.clients.find(b.clientId);
    await cache.clients.find(a.clientId); // a is now the most recently used
    await cache.clients.find(c.clientId); // drops b
    assert.equal(cache.size, 2);
    const before = store.finds;
    await cache.clients.find(a.clientId);
    await cache.clients.find(c.clientId);
    assert.equal(store.finds, before);
    await cache.clients.find(b.clientId);
    assert.equal(store.finds, before + 1);
  });

  it('does not store a record read before a concurrent change was invalidated', async () => {
    const store = countingStore();
    const cache = cacheClients(store);
    const client = clientRecord();
    await store.create(client);
    // The lookup reads the old row; the change commits and is invalidated before the lookup returns.
    const lookup = cache.clients.find(client.clientId);
    store.rows.get(client.clientId)!.status = 'suspended';
    cache.invalidate(client.clientId);
    assert.equal((await lookup)!.status, 'active');
    assert.equal((await cache.clients.find(client.clientId))!.status, 'suspended');
  });

  it('bypasses the cache while inactive, and starts empty when active again', async () => {
    const store = countingStore();
    const cache = cacheClients(store, { active: false });
    const client = clientRecord();
    await store.create(client);
    await cache.clients.find(client.clientId);
    await cache.clients.find(client.clientId);
    assert.equal(store.finds, 2);
    assert.equal(cache.size, 0);
    cache.setActive(true);
    await cache.clients.find(client.clientId);
    await cache.clients.find(client.clientId);
    assert.equal(store.finds, 3);
    cache.setActive(false);
    assert.equal(cache.size, 0);
  });

  it('with maxEntries 0 reads every lookup from the store', async () => {
    const store = countingStore();
    const cache = cacheClients(store, { maxEntries: 0 });
    const client = clientRecord();
    await store.create(client);
    cache.setActive(true);
    await cache.clients.find(client.clientId);
    await cache.clients.find(client.clientId);
    assert.equal(store.finds, 2);
    assert.equal(cache.size, 0);
  });

  it('invalidates after a failed write too (it may have committed before the error)', async () => {
    const store = countingStore();
    const cache = cacheClients({ ...store, find: store.find, update: async () => { throw new Error('connection lost during COMMIT'); } });
    const client = clientRecord();
    await store.create(client);
    await cache.clients.find(client.clientId);
    assert.equal(cache.size, 1);
    await assert.rejects(cache.clients.update(client.clientId, { status: 'suspended' }), /connection lost/);
    assert.equal(cache.size, 0);
  });

  it('a status change (suspension, deletion) invalidates the client, succeeded or failed', async () => {
    const store = countingStore();
    const cache = cacheClients(store);
    const client = clientRecord();
    await store.create(client);
    await cache.clients.find(client.clientId);
    const change = { status: 'suspended', now: NOW, auditEvent: () => ({ type: 'client.suspended', at: NOW, actor: 'admin:ops', details: {} }) } as const;
    await cache.clients.changeStatus(client.clientId, change);
    assert.equal((await cache.clients.find(client.clientId))!.status, 'suspended', 'read again from the store');
    const failing = cacheClients({ ...store, find: store.find, changeStatus: async () => { throw new Error('connection lost during COMMIT'); } });
    await failing.clients.find(client.clientId);
    assert.equal(failing.size, 1);
    await assert.rejects(failing.clients.changeStatus(client.clientId, { ...change, status: 'deleted' }), /connection lost/);
    assert.equal(failing.size, 0);
  });
});

describe('client-change listener', () => {
  it('keeps the cache off when its connection does not receive notifications (a pooler in transaction mode)', async () => {
    const store = countingStore();
    const cache = cacheClients(store, { active: false });
    const states: Array<{ listening: boolean; error?: Error }> = [];
    // Connects and answers every statement, but never delivers a notification.
    const deaf: ListenerConnection = { connect: async () => {}, query: async () => {}, end: async () => {}, on: () => deaf, processID: 1 };
    const listener = await listenForChanges([clientChangeChannel(cache, 'public')], { newConnection: () => deaf, probeTimeoutMillis: 50, reconnectInitialMillis: 60_000, onStateChange: (state) => states.push(state) });
    try {
      assert.deepEqual(states.map((state) => state.listening), [false]);
      assert.match(String(states[0]!.error?.message), /does not receive notifications/);
      const client = clientRecord();
      await store.create(client);
      await cache.clients.find(client.clientId);
      await cache.clients.find(client.clientId);
      assert.equal(store.finds, 2);
    } finally {
      await listener.close();
    }
  });
});

/** What every backend must show: a change through the same storage is seen by its very next lookup. */
function sameInstanceChanges(open: () => Promise<Storage>) {
  it('a suspended, rotated or renamed client is seen at once by the same storage', async () => {
    const storage = await open();
    try {
      const client = clientRecord();
      await storage.clients.create(client);
      assert.equal((await storage.clients.find(client.clientId))!.status, 'active');
      await storage.clients.update(client.clientId, { status: 'suspended' });
      assert.equal((await storage.clients.find(client.clientId))!.status, 'suspended');
      // SPEC decision 10: a rotation moves the old digest to previousSecretDigest.
      const rotated = randomBytes(32).toString('base64url');
      await storage.clients.update(client.clientId, { secretDigest: rotated, previousSecretDigest: client.secretDigest, previousSecretExpiresAt: NOW + 3_600 });
      const afterRotation = (await storage.clients.find(client.clientId))!;
      assert.equal(afterRotation.secretDigest, rotated);
      assert.equal(afterRotation.previousSecretDigest, client.secretDigest);
      await storage.clients.update(client.clientId, { clientName: 'Ledgerly', brandingVerified: true, pkceRequired: false, dpopBoundAccessTokens: true });
      const renamed = (await storage.clients.find(client.clientId))!;
      assert.deepEqual([renamed.clientName, renamed.brandingVerified, renamed.pkceRequired, renamed.dpopBoundAccessTokens], ['Ledgerly', true, false, true]);
      await storage.clients.changeStatus(client.clientId, { status: 'deleted', now: NOW, auditEvent: () => ({ type: 'client.deleted', at: NOW, actor: 'admin:ops', details: {} }) });
      assert.equal((await storage.clients.find(client.clientId))!.status, 'deleted');
    } finally {
      await storage.close();
    }
  });
}

describe('client-record cache on SQLite', () => {
  sameInstanceChanges(async () => createSqliteStorage(join(temporaryDirectory, `${randomUUID()}.db`)));

  it('a client suspended through another connection to the same file (the CLI) is seen at once (PRAGMA data_version)', async () => {
    const path = join(temporaryDirectory, `${randomUUID()}.db`);
    const server = createSqliteStorage(path);
    const cli = createSqliteStorage(path);
    try {
      const client = clientRecord();
      await server.clients.create(client);
      assert.equal((await server.clients.find(client.clientId))!.status, 'active');
      assert.equal((await server.clients.find(client.clientId))!.status, 'active');
      await cli.clients.update(client.clientId, { status: 'suspended' });
      assert.equal((await server.clients.find(client.clientId))!.status, 'suspended');
      await cli.clients.update(client.clientId, { secretDigest: 'rotated-digest' });
      assert.equal((await server.clients.find(client.clientId))!.secretDigest, 'rotated-digest');
    } finally {
      await cli.close();
      await server.close();
    }
  });
});

describe('client-record cache on PostgreSQL', { skip: skipPostgres }, () => {
  sameInstanceChanges(() => createTestPostgresStorage());

  it('a change through another instance on the same schema is seen within a short, bounded wait (LISTEN/NOTIFY)', async () => {
    const a = await createTestPostgresStorage();
    const b = await createPostgresStorage(TEST_DATABASE_URL, { schema: a.schema, poolSize: 2 });
    try {
      const client = clientRecord();
      await b.clients.create(client);
      await eventually('A caches the client', () => clientServedFromCache(a, a.schema, client.clientId));
      await b.clients.update(client.clientId, { status: 'suspended' });
      await eventually('A sees the suspension made through B', async () => (await a.clients.find(client.clientId))!.status === 'suspended', 2_000);
      // A change by anything else that writes the row (an operator's SQL) is notified too (the trigger).
      await queryTestSchema(a.schema, "UPDATE clients SET client_name = 'Renamed by SQL' WHERE client_id = $1", [client.clientId]);
      await eventually('A sees the change made in SQL', async () => (await a.clients.find(client.clientId))!.clientName === 'Renamed by SQL', 2_000);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('with its listening connection terminated, an instance bypasses the cache until it listens again and never serves the old record', async () => {
    const states: Array<{ listening: boolean; processId?: number | null }> = [];
    // A long first reconnection delay: the change below surely lands while A is not listening.
    const reported: Error[] = [];
    const a = await createTestPostgresStorage({
      clientChangeListener: { reconnectInitialMillis: 1_500, onStateChange: (state) => states.push(state) }, onConnectionError: (error) => reported.push(error),
    });
    const b = await createPostgresStorage(TEST_DATABASE_URL, { schema: a.schema, poolSize: 2 });
    try {
      const listenerPid = states.at(-1)?.processId;
      assert.equal(states.at(-1)?.listening, true);
      assert.ok(typeof listenerPid === 'number');
      const client = clientRecord();
      await b.clients.create(client);
      await eventually('A caches the client', () => clientServedFromCache(a, a.schema, client.clientId));

      // Only A's own listening backend (its pid came from A), nothing else on the shared server.
      await queryTestSchema(a.schema, 'SELECT pg_terminate_backend($1)', [listenerPid]);
      await eventually('A notices its listener is gone', () => states.at(-1)?.listening === false);
      assert.match(reported.map((error) => error.message).join('\n'), /client-cache listener: .*read from the database until it listens again/);
      await b.clients.update(client.clientId, { status: 'suspended' }); // its notification reaches nobody in A
      assert.equal((await a.clients.find(client.clientId))!.status, 'suspended');
      assert.equal((await a.clients.find(client.clientId))!.status, 'suspended');

      await eventually('A listens again', () => states.at(-1)?.listening === true, 10_000);
      assert.notEqual(states.at(-1)?.processId, listenerPid);
      assert.equal((await a.clients.find(client.clientId))!.status, 'suspended');
      // Notifications work again after the reconnection.
      await b.clients.update(client.clientId, { status: 'active' });
      await eventually('A sees the reactivation made through B', async () => (await a.clients.find(client.clientId))!.status === 'active', 2_000);
    } finally {
      await b.close();
      await a.close();
    }
  });
});
