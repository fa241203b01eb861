/**
 * The registered-resource catalogue (RFC 8707, issue 15 §4) cached in memory (issue 12, "One commit,
 * fewest statements"): every code exchange and refresh reads the whole catalogue (`resources.list`, to
 * build the ResourceCatalogue), and it changes only when an administrator registers or removes an API.
 *
 * The same rules as the client-record cache (client-cache.ts), for the catalogue as one value:
 * - this storage's writes (`resources.create`, `resources.delete`: the only writes of the `resources`
 *   table) drop it when they finish, succeeded or failed (an error may come after the commit);
 * - on PostgreSQL a trigger on `resources` (migrations 28 and 31) sends `NOTIFY gatehouse_resource_changes`
 *   naming its schema when a change commits, received on the client cache's one listening connection
 *   (`listenForChanges` with `resourceChangeChannel`), which ignores other schemas' changes; the cache is
 *   used only while that connection is proven listening, and is cleared and bypassed otherwise;
 * - on SQLite another process's commit changes `PRAGMA data_version` (`externalWrites`, checked before
 *   each read), and the catalogue is dropped then.
 * A read that started before an invalidation does not store what it read (a generation counter), so a read
 * racing a write cannot put the old catalogue back. The records are kept frozen and handed out as copies.
 * `find` answers from the whole catalogue (loading it if needed), so an unknown indicator costs no query
 * either: the catalogue is every row of the table, and any insert drops it.
 */
import { type ChangeChannel, DEFAULT_CLIENT_CACHE_ENTRIES, readChangeNotification } from './client-cache.ts';
import type { ResourceRecord, ResourceStore } from './storage.ts';

export interface ResourceCacheOptions {
  /**
   * The catalogue is kept only while it has at most this many resources (it is read whole); default
   * 10,000, as the client cache (`GATEHOUSE_CLIENT_CACHE_ENTRIES`); 0 turns the cache off.
   */
  maxEntries?: number;
  /** Whether reads may use the cache from the start; default true (PostgreSQL starts false, until it listens). */
  active?: boolean;
  /**
   * Called (synchronously) before each read: true when another connection may have changed the table since
   * the previous call, which drops the catalogue (SQLite: `externalWriteCheck` over `PRAGMA data_version`).
   */
  externalWrites?: () => boolean;
}

export interface ResourceCache {
  /** The resource store with `list` and `find` served from the cached catalogue; writes pass through and drop it. */
  readonly resources: ResourceStore;
  /** Drops the catalogue (a change notified by another instance). */
  clear(): void;
  /** false: clear, and bypass the cache until true again (the change notifications are not being received). */
  setActive(active: boolean): void;
  /** Whether a catalogue is held now (tests). */
  readonly cached: boolean;
}

/** Wraps `store` (one storage's resource store) with a cache of the whole catalogue. */
export function cacheResources(store: ResourceStore, options: ResourceCacheOptions = {}): ResourceCache {
  const maxEntries = Math.max(0, options.maxEntries ?? DEFAULT_CLIENT_CACHE_ENTRIES);
  const externalWrites = options.externalWrites;
  let catalogue: ReadonlyArray<Readonly<ResourceRecord>> | undefined;
  let active = (options.active ?? true) && maxEntries > 0;
  // Bumped by every invalidation: a read stores its result only if none happened while it read.
  let generation = 0;

  const clear = () => {
    generation += 1;
    catalogue = undefined;
  };
  /** After a write: whether or not it committed (an error may come after the commit), the catalogue is dropped. */
  const afterWrite = async <T>(write: Promise<T>): Promise<T> => {
    try {
      return await write;
    } finally {
      clear();
    }
  };
  /** The catalogue from memory, else read (and kept when nothing invalidated it meanwhile); undefined while inactive. */
  const current = async (): Promise<ReadonlyArray<Readonly<ResourceRecord>> | undefined> => {
    if (externalWrites?.()) clear();
    if (!active) return undefined;
    if (catalogue) return catalogue;
    const startedAt = generation;
    const records = Object.freeze((await store.list()).map((record) => Object.freeze(copyResource(record))));
    if (active && generation === startedAt && records.length <= maxEntries) catalogue = records;
    return records;
  };

  return {
    resources: {
      async list() {
        const records = await current();
        return records ? records.map(copyResource) : store.list();
      },
      async find(resource) {
        const records = await current();
        if (!records) return store.find(resource);
        const record = records.find((candidate) => candidate.resource === resource);
        return record && copyResource(record);
      },
      create: (resource) => afterWrite(store.create(resource)),
      delete: (resource) => afterWrite(store.delete(resource)),
    },
    clear,
    setActive(value) {
      clear();
      active = value && maxEntries > 0;
    },
    get cached() {
      return catalogue !== undefined;
    },
  };
}

/** A copy whose scope family is a copy too; the other members are primitives. */
function copyResource(record: Readonly<ResourceRecord>): ResourceRecord {
  return { ...record, scopes: [...record.scopes] };
}

/**
 * The PostgreSQL channel migration 31's trigger notifies, once per statement, with `{"schema": …,
 * "operation": "INSERT" | "UPDATE" | "DELETE" | "TRUNCATE"}` (JSON). It also notifies migration 28's
 * `gatehouse_resources` (payload: the operation alone) for instances older than 31 during a rolling upgrade.
 */
export const RESOURCE_CHANGES_CHANNEL = 'gatehouse_resource_changes';

/**
 * The catalogue of the storage on `schema` as `listenForChanges` keeps it fresh: a notification of this
 * schema's change drops it whole, and so does one naming no schema (the safe side); other schemas' are ignored.
 */
export function resourceChangeChannel(cache: ResourceCache, schema: string): ChangeChannel {
  return {
    channel: RESOURCE_CHANGES_CHANNEL,
    changed: (payload) => {
      // Issue 12: channels are database-wide; another schema's change is not this catalogue's.
      if (readChangeNotification(payload, schema) !== 'elsewhere') cache.clear();
    },
    setActive: (active) => cache.setActive(active),
  };
}
