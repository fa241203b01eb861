/**
 * The resource-catalogue cache (issue 12): a changed catalogue is never served from the cache, whether the
 * change was made by the same storage, by another instance on PostgreSQL (LISTEN/NOTIFY, migrations 28 and 31, on
 * the client cache's one listening connection) or by another process on SQLite (`PRAGMA data_version`),
 * and a lost listener bypasses the cache until it listens again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatementSync } from 'node:sqlite';
import { createPostgresStorage } from './postgres/postgres-storage.ts';
import { CLIENT_CHANGES_CHANNEL, cacheClients, clientChangeChannel, externalWriteCheck, listenForChanges, type ClientStore, type ListenerConnection } from './client-cache.ts';
import { cacheResources, RESOURCE_CHANGES_CHANNEL, resourceChangeChannel } from './resource-cache.ts';
import type { ResourceRecord, ResourceStore } from './storage.ts';
import { storeBackends } from '../testing/store-backends.ts';
import { createTestPostgresStorage, eventually, postgresSkipReason, queryTestSchema, resourceServedFromCache, TEST_DATABASE_URL } from '../testing/postgres.ts';

const NOW = 1_800_000_000;
const skipPostgres = await postgresSkipReason();
/** pg.Client's application_name for the listening connection (postgres-storage.ts createListenerConnection). */
const LISTENER_APPLICATION_NAME = 'gatehouse client-cache listener';

const exportApi = (): ResourceRecord => ({ resource: 'https://export.api.example', name: 'Export API', scopes: ['export-jobs:read', 'export-items:read'], createdAt: NOW });
const vendorApi = (): ResourceRecord => ({ resource: 'https://vendors.api.example', name: 'Vendor API', scopes: ['vendors:write'], createdAt: NOW + 1 });

/** An in-memory resource store that counts its reads. */
function countingStore(): ResourceStore & { reads: number; rows: Map<string, ResourceRecord> } {
  const rows = new Map<string, ResourceRecord>();
  const store = {
    reads: 0,
    rows,
    async create(resource: ResourceRecord) {
      if (rows.has(resource.resource)) return 'duplicate' as const;
      rows.set(resource.resource, structuredClone(resource));
      return 'created' as const;
    },
    async find(resource: string) {
      store.reads += 1;
      const row = rows.get(resource);
      return row && structuredClone(row);
    },
    async list() {
      store.reads += 1;
      return [...rows.values()].map((row) => structuredClone(row));
    },
    async delete(resource: string) {
      return rows.delete(resource);
    },
  };
  return store;
}

describe('resource-catalogue cache', () => {
  it('answers list and find (known and unknown indicators) from one read of the catalogue', async () => {
    const store = countingStore();
    const { resources } = cacheResources(store);
    await resources.create(exportApi());
    await resources.create(vendorApi());
    assert.deepEqual(await resources.list(), [exportApi(), vendorApi()]);
    assert.deepEqual(await resources.list(), [exportApi(), vendorApi()]);
    assert.deepEqual(await resources.find(vendorApi().resource), vendorApi());
    assert.equal(await resources.find(`${vendorApi().resource}/`), undefined, 'indicators are compared exactly (RFC 8707 §2)');
    assert.equal(store.reads, 1);
  });

  it('hands out copies: changing what it returned changes neither the cache nor the next answer', async () => {
    const store = countingStore();
    const { resources } = cacheResources(store);
    await store.create(exportApi());
    const listed = await resources.list();
    listed[0]!.scopes.push('admin:write');
    listed[0]!.name = 'Changed';
    listed.pop();
    (await resources.find(exportApi().resource))!.scopes.length = 0;
    assert.deepEqual(await resources.list(), [exportApi()]);
    assert.equal(store.reads, 1);
  });

  it('drops the catalogue after each of its own writes, failed ones too (they may have committed)', async () => {
    const store = countingStore();
    const cache = cacheResources({ ...store, list: store.list, find: store.find, delete: async () => { throw new Error('connection lost during COMMIT'); } });
    await cache.resources.create(exportApi());
    assert.deepEqual(await cache.resources.list(), [exportApi()]);
    await cache.resources.create(vendorApi());
    assert.equal(cache.cached, false);
    assert.deepEqual(await cache.resources.list(), [exportApi(), vendorApi()]);
    assert.equal(cache.cached, true);
    await assert.rejects(cache.resources.delete(vendorApi().resource), /connection lost/);
    assert.equal(cache.cached, false);
  });

  it('does not keep a catalogue read before a concurrent change was invalidated', async () => {
    const store = countingStore();
    const cache = cacheResources(store);
    await store.create(exportApi());
    // The read sees the old table; the change commits and is notified before the read returns.
    const read = cache.resources.list();
    await store.create(vendorApi());
    cache.clear();
    assert.deepEqual(await read, [exportApi()]);
    assert.equal(cache.cached, false);
    assert.deepEqual(await cache.resources.list(), [exportApi(), vendorApi()]);
  });

  it('bypasses the cache while inactive, and starts empty when active again', async () => {
    const store = countingStore();
    const cache = cacheResources(store, { active: false });
    await store.create(exportApi());
    await cache.resources.list();
    await cache.resources.find(exportApi().resource);
    assert.equal(store.reads, 2);
    assert.equal(cache.cached, false);
    cache.setActive(true);
    await cache.resources.list();
    await cache.resources.find(exportApi().resource);
    assert.equal(store.reads, 3);
    cache.setActive(false);
    assert.equal(cache.cached, false);
  });

  it('with maxEntries 0 reads every time; a catalogue bigger than maxEntries is not kept', async () => {
    const off = countingStore();
    const offCache = cacheResources(off, { maxEntries: 0 });
    offCache.setActive(true);
    await offCache.resources.list();
    await offCache.resources.list();
    assert.equal(off.reads, 2);
    const big = countingStore();
    await big.create(exportApi());
    await big.create(vendorApi());
    const bigCache = cacheResources(big, { maxEntries: 1 });
    assert.equal((await bigCache.resources.list()).length, 2);
    assert.equal((await bigCache.resources.list()).length, 2);
    assert.equal(big.reads, 2);
    assert.equal(bigCache.cached, false);
  });

  it('drops the catalogue when another connection committed (externalWrites)', async () => {
    const store = countingStore();
    let version = 1;
    const cache = cacheResources(store, { externalWrites: externalWriteCheck(() => version) });
    await store.create(exportApi());
    await cache.resources.list();
    await store.create(vendorApi()); // another process's commit
    version += 1;
    assert.deepEqual(await cache.resources.list(), [exportApi(), vendorApi()]);
    assert.equal(store.reads, 2);
  });

  it('externalWriteCheck: every check over one reader sees each change (the client cache and this one share PRAGMA data_version)', () => {
    let version = 7;
    const read = () => version;
    const [clients, resources] = [externalWriteCheck(read), externalWriteCheck(read)];
    assert.equal(clients(), false);
    version += 1;
    assert.equal(clients(), true);
    assert.equal(resources(), true, 'the first check seeing the change does not hide it from the second');
    assert.equal(clients(), false);
    assert.equal(resources(), false);
  });
});

describe('one listening connection for both caches', () => {
  /** A connection that answers every statement and echoes the notifications of `heard` channels only. */
  function connectionHearing(heard: string[], listens: string[]): ListenerConnection {
    let onNotification: ((message: { channel: string; payload?: string }) => void) | undefined;
    const connection: ListenerConnection = {
      connect: async () => {},
      end: async () => {},
      processID: 1,
      async query(text, values) {
        if (text.startsWith('LISTEN')) listens.push(text);
        if (text.includes('pg_notify')) {
          const [channels, payload] = values as [string[], string];
          for (const channel of channels.filter((name) => heard.includes(name))) queueMicrotask(() => onNotification?.({ channel, payload }));
        }
      },
      on(event: string, listener: unknown) {
        if (event === 'notification') onNotification = listener as typeof onNotification;
        return connection;
      },
    };
    return connection;
  }
  const emptyClients: ClientStore = { find: async () => undefined, create: async () => {}, update: async () => undefined, changeStatus: async () => ({ outcome: 'not_found' }), list: async () => [], listByOwner: async () => [] };

  it('LISTENs on both channels in one statement and turns both caches on once each channel is proven heard', async () => {
    const listens: string[] = [];
    const clientCache = cacheClients(emptyClients, { active: false });
    const store = countingStore();
    const resourceCache = cacheResources(store, { active: false });
    const listener = await listenForChanges([clientChangeChannel(clientCache, 'public'), resourceChangeChannel(resourceCache, 'public')], {
      newConnection: () => connectionHearing([CLIENT_CHANGES_CHANNEL, RESOURCE_CHANGES_CHANNEL], listens), reconnectInitialMillis: 60_000,
    });
    try {
      assert.deepEqual(listens, [`LISTEN ${CLIENT_CHANGES_CHANNEL}; LISTEN ${RESOURCE_CHANGES_CHANNEL}`]);
      await resourceCache.resources.list();
      await resourceCache.resources.list();
      assert.equal(store.reads, 1, 'the resource cache is on');
      assert.equal(resourceCache.cached, true, 'the probe\'s own notification dropped nothing');
    } finally {
      await listener.close();
    }
    assert.equal(resourceCache.cached, false, 'closing turns it off');
  });

  it('keeps both caches off when one channel is not heard', async () => {
    const clientCache = cacheClients(emptyClients, { active: false });
    const store = countingStore();
    const resourceCache = cacheResources(store, { active: false });
    const states: boolean[] = [];
    const listener = await listenForChanges([clientChangeChannel(clientCache, 'public'), resourceChangeChannel(resourceCache, 'public')], {
      newConnection: () => connectionHearing([CLIENT_CHANGES_CHANNEL], []), probeTimeoutMillis: 50, reconnectInitialMillis: 60_000,
      onStateChange: (state) => states.push(state.listening),
    });
    try {
      assert.deepEqual(states, [false]);
      await resourceCache.resources.list();
      await resourceCache.resources.list();
      assert.equal(store.reads, 2);
    } finally {
      await listener.close();
    }
  });
});

/** Records how many times the SQLite connection reads the resources table while `work` runs. */
async function sqliteCatalogueReads(work: () => Promise<unknown>): Promise<number> {
  const statement = StatementSync.prototype as unknown as Record<'get' | 'all', (...args: unknown[]) => unknown>;
  const originals = { get: statement.get, all: statement.all };
  let reads = 0;
  for (const name of ['get', 'all'] as const) {
    statement[name] = function (this: StatementSync, ...args: unknown[]) {
      if (/\bFROM resources\b/.test(this.sourceSQL)) reads += 1;
      return originals[name].apply(this, args);
    };
  }
  try {
    await work();
  } finally {
    Object.assign(statement, originals);
  }
  return reads;
}

const instanceBackends = await storeBackends();
for (const backend of instanceBackends) {
  describe(`resource-catalogue cache on ${backend.name}`, { skip: backend.skip }, () => {
    // A change that polls: PostgreSQL learns another instance's change by a notification (milliseconds);
    // SQLite at once (PRAGMA data_version before each read).
    const seen = (what: string, check: () => Promise<boolean>) => (backend.name === 'sqlite' ? check().then((held) => assert.ok(held, what)) : eventually(what, check, 2_000));

    it('a registration or removal through the same storage is seen by its very next read', backend.withTwo(async ({ a }) => {
      assert.deepEqual(await a.resources.list(), []);
      assert.equal(await a.resources.find(exportApi().resource), undefined);
      assert.equal(await a.resources.create(exportApi()), 'created');
      assert.deepEqual(await a.resources.list(), [exportApi()]);
      assert.deepEqual(await a.resources.find(exportApi().resource), exportApi());
      assert.equal(await a.resources.delete(exportApi().resource), true);
      assert.deepEqual(await a.resources.list(), []);
      assert.equal(await a.resources.find(exportApi().resource), undefined);
    }));

    it('a registration and a removal through another instance are seen (the same file: at once; PostgreSQL: a bounded wait)', backend.withTwo(async ({ a, b }) => {
      assert.deepEqual(await a.resources.list(), []); // A holds the empty catalogue
      assert.equal(await a.resources.find(exportApi().resource), undefined);
      await b.resources.create(exportApi());
      await seen('A sees the resource registered through B', async () => (await a.resources.find(exportApi().resource))?.name === exportApi().name);
      assert.deepEqual(await a.resources.list(), [exportApi()]);
      await b.resources.create(vendorApi());
      await seen('A lists the second resource', async () => (await a.resources.list()).length === 2);
      await b.resources.delete(exportApi().resource);
      await seen('A sees the removal made through B', async () => (await a.resources.find(exportApi().resource)) === undefined);
      assert.deepEqual(await a.resources.list(), [vendorApi()]);
    }));
  });
}

describe('resource-catalogue cache on SQLite', () => {
  const sqlite = instanceBackends.find((backend) => backend.name === 'sqlite')!;
  it('reads the table once while nothing changes it, and again after another connection\'s commit', sqlite.withTwo(async ({ a, b }) => {
    await a.resources.create(exportApi());
    assert.equal(await sqliteCatalogueReads(async () => {
      for (let i = 0; i < 3; i += 1) {
        await a.resources.list();
        await a.resources.find(exportApi().resource);
        await a.resources.find('https://unknown.api.example');
      }
    }), 1);
    await b.resources.create(vendorApi()); // the CLI, or another process on the file
    assert.equal(await sqliteCatalogueReads(async () => assert.equal((await a.resources.list()).length, 2)), 1);
  }));
});

describe('resource-catalogue cache on PostgreSQL', { skip: skipPostgres }, () => {
  it('is used once listening, and a change made in SQL (the trigger, once per statement, TRUNCATE too) is seen', async () => {
    const a = await createTestPostgresStorage();
    try {
      await a.resources.create(exportApi());
      await eventually('A caches the catalogue', () => resourceServedFromCache(a, a.schema, exportApi().resource));
      await queryTestSchema(a.schema, "UPDATE resources SET name = 'Renamed by SQL'");
      await eventually('A sees the change made in SQL', async () => (await a.resources.find(exportApi().resource))?.name === 'Renamed by SQL', 2_000);
      await queryTestSchema(a.schema, 'TRUNCATE resources');
      await eventually('A sees the table emptied', async () => (await a.resources.list()).length === 0, 2_000);
    } finally {
      await a.close();
    }
  });

  it('with its listening connection terminated, an instance reads the catalogue from the database until it listens again and never serves the old one', async () => {
    const states: Array<{ listening: boolean; processId?: number | null }> = [];
    // A long first reconnection delay: the changes below surely land while A is not listening.
    const a = await createTestPostgresStorage({ clientChangeListener: { reconnectInitialMillis: 1_500, onStateChange: (state) => states.push(state) }, onConnectionError: () => {} });
    const b = await createPostgresStorage(TEST_DATABASE_URL, { schema: a.schema, poolSize: 2 });
    try {
      assert.equal(states.at(-1)?.listening, true);
      const listenerPid = states.at(-1)?.processId;
      assert.ok(typeof listenerPid === 'number');
      await b.resources.create(exportApi());
      await eventually('A caches the catalogue', () => resourceServedFromCache(a, a.schema, exportApi().resource));

      // Only A's own listening backend: the pid A reported, and only if it is that listener (application_name).
      const terminated = await queryTestSchema(a.schema, 'SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE application_name = $1 AND pid = $2',
        [LISTENER_APPLICATION_NAME, listenerPid]);
      assert.deepEqual(terminated.rows, [{ terminated: true }]);
      await eventually('A notices its listener is gone', () => states.at(-1)?.listening === false);
      await b.resources.create(vendorApi()); // its notification reaches nobody in A
      assert.deepEqual(await a.resources.list(), [exportApi(), vendorApi()]);
      assert.equal(await resourceServedFromCache(a, a.schema, exportApi().resource), false, 'not listening: every read goes to the database');

      await eventually('A listens again', () => states.at(-1)?.listening === true, 10_000);
      assert.notEqual(states.at(-1)?.processId, listenerPid);
      assert.deepEqual(await a.resources.list(), [exportApi(), vendorApi()]);
      // Notifications work again after the reconnection.
      await b.resources.delete(vendorApi().resource);
      await eventually('A sees the removal made through B', async () => (await a.resources.list()).length === 1, 2_000);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('with the client cache off (GATEHOUSE_CLIENT_CACHE_ENTRIES=0) reads the catalogue every time', async () => {
    const a = await createTestPostgresStorage({ clientCacheEntries: 0 });
    try {
      await a.resources.create(exportApi());
      await a.resources.list();
      assert.equal(await resourceServedFromCache(a, a.schema, exportApi().resource), false);
    } finally {
      await a.close();
    }
  });
});
