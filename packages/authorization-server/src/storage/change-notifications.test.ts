/**
 * Change notifications scoped to the storage's schema (issue 12, migration 31). NOTIFY channels are
 * database-wide: two deployments in two schemas of one database (and every test schema in CI) hear each
 * other's changes. The triggers name their schema in the payload, and a listener drops a cached client or
 * catalogue only for its own schema's changes, or for a payload that names no schema (the safe side). The
 * old channels still carry the old payloads, for instances older than 31 during a rolling upgrade.
 *
 * "Served without a read" is shown as in client-cache.test.ts: the row is changed with triggers off
 * (`session_replication_role = replica`: no notification), so only a read of the database can see it.
 * "B has handled A's notification" is shown by a later notification of B's own schema, on B's same
 * listening connection: PostgreSQL delivers a session's notifications in commit order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresStorage } from './postgres/postgres-storage.ts';
import { CLIENT_CHANGES_CHANNEL, cacheClients, clientChangeChannel, type ClientStore, listenForChanges, type ListenerConnection, readChangeNotification } from './client-cache.ts';
import { cacheResources, RESOURCE_CHANGES_CHANNEL, resourceChangeChannel } from './resource-cache.ts';
import type { ResourceRecord, Storage } from './storage.ts';
import { clientRecord, NOW } from './contract/fixtures.ts';
import { createTestPostgresStorage, eventually, postgresSkipReason, queryTestSchema, TEST_DATABASE_URL } from '../testing/postgres.ts';

const skipPostgres = await postgresSkipReason();

const exportApi = (): ResourceRecord => ({ resource: 'https://export.api.example', name: 'Export API', scopes: ['export-jobs:read'], createdAt: NOW });

/** Runs `sql` in `schema` with triggers off: the change is notified to nobody. */
const silently = (schema: string, sql: string, params: unknown[] = []) => queryTestSchema(schema, `SET session_replication_role = replica; ${sql}`, params);

/** Renames a client in `schema` without a notification; only a read of the database sees the new name. */
const renameClientSilently = (schema: string, clientId: string, name: string) =>
  silently(schema, `UPDATE clients SET client_name = '${name}' WHERE client_id = '${clientId}'`);

/**
 * Returns once `storage` (on `schema`) has handled every notification committed before the call: a marker
 * client of its own is cached (seen when a silent rename does not show), then renamed through the trigger,
 * until the storage serves the new name. Once cached, only a notification committed after the call (its
 * create's, or the rename's) can drop it.
 */
async function drainNotifications(storage: Storage, schema: string): Promise<void> {
  const marker = clientRecord();
  await storage.clients.create(marker);
  let silentRenames = 0;
  await eventually('the storage caches the marker', async () => {
    const before = (await storage.clients.find(marker.clientId))!.clientName;
    await renameClientSilently(schema, marker.clientId, `Marker ${++silentRenames}`);
    return (await storage.clients.find(marker.clientId))!.clientName === before;
  });
  await queryTestSchema(schema, "UPDATE clients SET client_name = 'Marker (notified)' WHERE client_id = $1", [marker.clientId]);
  await eventually('the storage handles its own schema\'s later notification', async () => (await storage.clients.find(marker.clientId))!.clientName === 'Marker (notified)');
}

describe('change payloads (migration 31)', () => {
  it('reads the schema a payload names; a payload naming none is undefined (the caller drops, the safe side)', () => {
    assert.deepEqual(readChangeNotification('{"schema" : "gh_a", "client_id" : "c1"}', 'gh_a'), { schema: 'gh_a', client_id: 'c1' });
    assert.equal(readChangeNotification('{"schema" : "gh_b", "client_id" : "c1"}', 'gh_a'), 'elsewhere');
    // A schema name with a colon or a quote (a quoted identifier) reads back exactly: JSON, not "schema:id".
    assert.equal(readChangeNotification(JSON.stringify({ schema: 'gh_a:x', client_id: 'y' }), 'gh_a'), 'elsewhere');
    for (const schemaless of ['c1', '123', 'null', '{"client_id": "c1"}', '{"schema": 1}', '', '{']) assert.equal(readChangeNotification(schemaless, 'gh_a'), undefined, schemaless);
  });

  it('a client cache drops the client of its own schema\'s payload, and of a payload naming no schema, never another schema\'s', async () => {
    const client = clientRecord();
    const finds: string[] = [];
    const store: ClientStore = {
      find: async (clientId) => (finds.push(clientId), clientId === client.clientId ? structuredClone(client) : undefined),
      create: async () => {}, update: async () => undefined, changeStatus: async () => ({ outcome: 'not_found' }), list: async () => [], listByOwner: async () => [],
    };
    const cache = cacheClients(store);
    const channel = clientChangeChannel(cache, 'gh_a');
    assert.equal(channel.channel, CLIENT_CHANGES_CHANNEL);
    await cache.clients.find(client.clientId);
    channel.changed(JSON.stringify({ schema: 'gh_b', client_id: client.clientId }));
    await cache.clients.find(client.clientId);
    assert.equal(finds.length, 1, 'another schema\'s change: served from the cache');
    channel.changed(JSON.stringify({ schema: 'gh_a', client_id: client.clientId }));
    await cache.clients.find(client.clientId);
    assert.equal(finds.length, 2, 'its own schema\'s change: read again');
    channel.changed(client.clientId); // migration 26's payload: the bare client_id
    await cache.clients.find(client.clientId);
    assert.equal(finds.length, 3, 'no schema named: read again');
  });

  it('a resource cache drops its catalogue for its own schema\'s payload and one naming no schema, never another schema\'s', async () => {
    let reads = 0;
    const cache = cacheResources({ list: async () => (reads++, [exportApi()]), find: async () => undefined, create: async () => 'created', delete: async () => false });
    const channel = resourceChangeChannel(cache, 'gh_a');
    assert.equal(channel.channel, RESOURCE_CHANGES_CHANNEL);
    await cache.resources.list();
    channel.changed(JSON.stringify({ schema: 'gh_b', operation: 'INSERT' }));
    assert.equal(cache.cached, true, 'another schema\'s change');
    channel.changed(JSON.stringify({ schema: 'gh_a', operation: 'DELETE' }));
    assert.equal(cache.cached, false, 'its own schema\'s change');
    await cache.resources.list();
    channel.changed('TRUNCATE'); // migration 28's payload
    assert.equal(cache.cached, false, 'no schema named');
    assert.equal(reads, 2);
  });
});

describe('probes on a shared channel', () => {
  it('another instance\'s probe is no change: the catalogue stays cached (every listener on a channel hears every probe)', async () => {
    let deliver: ((message: { channel: string; payload?: string }) => void) | undefined;
    // Echoes this listener's own probes, as PostgreSQL does.
    const connection: ListenerConnection = {
      connect: async () => {},
      end: async () => {},
      processID: 1,
      async query(text, values) {
        if (!text.includes('pg_notify')) return;
        const [channels, payload] = values as [string[], string];
        for (const channel of channels) queueMicrotask(() => deliver?.({ channel, payload }));
      },
      on(event: string, listener: unknown) {
        if (event === 'notification') deliver = listener as typeof deliver;
        return connection;
      },
    };
    let reads = 0;
    const cache = cacheResources({ list: async () => (reads++, [exportApi()]), find: async () => undefined, create: async () => 'created', delete: async () => false }, { active: false });
    const listener = await listenForChanges([resourceChangeChannel(cache, 'gh_a')], { newConnection: () => connection, reconnectInitialMillis: 60_000 });
    try {
      await cache.resources.list();
      deliver!({ channel: RESOURCE_CHANGES_CHANNEL, payload: `probe ${randomUUID()}` });
      assert.equal(cache.cached, true);
      deliver!({ channel: RESOURCE_CHANGES_CHANNEL, payload: JSON.stringify({ schema: 'gh_a', operation: 'INSERT' }) });
      assert.equal(cache.cached, false, 'a change of its schema still drops it');
      assert.equal(reads, 1);
    } finally {
      await listener.close();
    }
  });
});

describe('change notifications on PostgreSQL: two schemas in one database', { skip: skipPostgres }, () => {
  it('a client update in schema A drops A\'s cached client (through a second instance on A), never B\'s', async () => {
    const a = await createTestPostgresStorage();
    const b = await createTestPostgresStorage();
    const secondA = await createPostgresStorage(TEST_DATABASE_URL, { schema: a.schema, poolSize: 2 });
    try {
      // The same client_id in both schemas: only the schema tells the two changes apart.
      const client = clientRecord();
      await a.clients.create(client);
      await b.clients.create(client);
      await drainNotifications(a, a.schema); // the creates' own notifications, before caching
      await drainNotifications(b, b.schema);
      await a.clients.find(client.clientId);
      await b.clients.find(client.clientId);
      await renameClientSilently(b.schema, client.clientId, 'Unnotified rename in B');
      assert.equal((await b.clients.find(client.clientId))!.clientName, 'Ledgerly Sync', 'B has the client cached');

      await secondA.clients.update(client.clientId, { status: 'suspended' });
      await eventually('A sees the suspension made through its second instance', async () => (await a.clients.find(client.clientId))!.status === 'suspended');
      await drainNotifications(b, b.schema);
      const inB = (await b.clients.find(client.clientId))!;
      assert.equal(inB.clientName, 'Ledgerly Sync', 'B serves its cached record without a read');
      assert.equal(inB.status, 'active');
    } finally {
      await secondA.close();
      await b.close();
      await a.close();
    }
  });

  it('a resource registered in schema A drops A\'s cached catalogue (through a second instance on A), never B\'s', async () => {
    const a = await createTestPostgresStorage();
    const b = await createTestPostgresStorage();
    const secondA = await createPostgresStorage(TEST_DATABASE_URL, { schema: a.schema, poolSize: 2 });
    try {
      await a.resources.create(exportApi());
      await b.resources.create(exportApi());
      await drainNotifications(a, a.schema);
      await drainNotifications(b, b.schema);
      assert.equal((await a.resources.list()).length, 1);
      assert.equal((await b.resources.list()).length, 1);
      await silently(b.schema, "UPDATE resources SET name = 'Unnotified rename in B'");
      assert.deepEqual(await b.resources.list(), [exportApi()], 'B has the catalogue cached');

      await secondA.resources.create({ resource: 'https://vendors.api.example', name: 'Vendors API', scopes: ['vendors:read'], createdAt: NOW });
      await eventually('A lists the resource registered through its second instance', async () => (await a.resources.list()).length === 2);
      await drainNotifications(b, b.schema);
      assert.deepEqual(await b.resources.list(), [exportApi()], 'B serves its cached catalogue without a read');
    } finally {
      await secondA.close();
      await b.close();
      await a.close();
    }
  });

  it('a notification naming no schema (the format before migration 31) drops the client it names, and the catalogue', async () => {
    const a = await createTestPostgresStorage();
    try {
      const client = clientRecord();
      await a.clients.create(client);
      await a.resources.create(exportApi());
      await drainNotifications(a, a.schema);
      await a.clients.find(client.clientId);
      await a.resources.list();
      await renameClientSilently(a.schema, client.clientId, 'Unnotified rename');
      await silently(a.schema, "UPDATE resources SET name = 'Unnotified rename'");
      assert.equal((await a.clients.find(client.clientId))!.clientName, 'Ledgerly Sync', 'cached');
      assert.equal((await a.resources.list())[0]!.name, 'Export API', 'cached');

      await queryTestSchema(a.schema, `SELECT pg_notify('${CLIENT_CHANGES_CHANNEL}', $1), pg_notify('${RESOURCE_CHANGES_CHANNEL}', 'UPDATE')`, [client.clientId]);
      await eventually('A drops the client named without a schema', async () => (await a.clients.find(client.clientId))!.clientName === 'Unnotified rename');
      await eventually('A drops the catalogue', async () => (await a.resources.list())[0]!.name === 'Unnotified rename');
    } finally {
      await a.close();
    }
  });

  it('still notifies the old channels with the old payloads, for instances older than 31 during a rolling upgrade', async () => {
    const a = await createTestPostgresStorage();
    const listener = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await listener.connect();
    try {
      const heard: Array<{ channel: string; payload?: string }> = [];
      listener.on('notification', (message) => heard.push(message));
      await listener.query('LISTEN gatehouse_clients; LISTEN gatehouse_resources');
      const client = clientRecord();
      await a.clients.create(client);
      await a.clients.update(client.clientId, { status: 'suspended' });
      // Other schemas' changes arrive on these channels too (they name none): only this client's are counted.
      await eventually('the old client channel carries the bare client_id', () => heard.filter((message) => message.channel === 'gatehouse_clients' && message.payload === client.clientId).length === 2);
      await a.resources.create(exportApi());
      await eventually('the old resource channel carries the operation', () => heard.some((message) => message.channel === 'gatehouse_resources' && message.payload === 'INSERT'));
    } finally {
      await listener.end();
      await a.close();
    }
  });
});
