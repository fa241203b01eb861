/**
 * Client records cached in memory (issue 12, "One commit, fewest statements"): every token,
 * introspection and revocation request authenticates its client and the authorize endpoint reads it, so
 * `clients.find` is the most frequent read there is, and client rows change rarely.
 *
 * A cached record must never outlive a change of its row, wherever the change was made:
 * - by this storage: `clients.create`, `clients.update` and `clients.changeStatus` (the only writes of the
 *   `clients` table in either backend) invalidate the client when they finish, succeeded or failed;
 * - by another instance on PostgreSQL: a trigger on `clients` (migrations 26 and 31) sends
 *   `NOTIFY gatehouse_client_changes, '{"schema": …, "client_id": …}'` when the change commits, and one
 *   dedicated listening connection per storage (`listenForChanges`, shared with the resource catalogue's
 *   cache, resource-cache.ts) invalidates it, ignoring other schemas' changes (channels are database-wide:
 *   `readChangeNotification`). While that connection is not listening (starting, lost, reconnecting) a
 *   notification could be missed, so the cache is cleared and bypassed until it listens again.
 *   "Listening" is proven, not assumed: the connection notifies itself and must receive it, before the
 *   cache is used and then periodically (a pooler in transaction mode, or a silently dead connection,
 *   would otherwise lose notifications unnoticed);
 * - by another process on SQLite (the `gatehouse` CLI suspends a client while the server runs):
 *   `PRAGMA data_version` changes when another connection commits, checked before each lookup
 *   (`externalWrites`, made by `externalWriteCheck`), and the cache is cleared then.
 *
 * A lookup that started before an invalidation does not store what it read (a generation counter), so a
 * read racing a write cannot put the old row back. Records are kept frozen, arrays included, and handed out
 * as they are (copying ~27 members per lookup was ~2% of an introspection): a caller cannot change what the
 * next caller gets, and one that tries throws a TypeError (modules are strict) instead of doing it silently. Unknown clients are not cached (no growth from
 * made-up client ids). Bounded: least recently used records are dropped beyond `maxEntries`.
 */
import { randomUUID } from 'node:crypto';
import type { ClientRecord, Storage } from './storage.ts';

export type ClientStore = Storage['clients'];

export interface ClientCacheOptions {
  /** Records kept at most (least recently used dropped first); default 10,000; 0 turns the cache off. */
  maxEntries?: number;
  /** Whether lookups may use the cache from the start; default true (PostgreSQL starts false, until it listens). */
  active?: boolean;
  /**
   * Called (synchronously) before each lookup: true when another connection may have changed clients
   * since the previous call, which clears the cache (SQLite: `PRAGMA data_version` changed).
   */
  externalWrites?: () => boolean;
}

export interface ClientCache {
  /** The client store with `find` served from the cache; the other operations pass through. */
  readonly clients: ClientStore;
  /** Drops one client's record (a change notified by another instance). */
  invalidate(clientId: string): void;
  /** Drops every record. */
  clear(): void;
  /** false: clear, and bypass the cache until true again (the change notifications are not being received). */
  setActive(active: boolean): void;
  /** Records held now (tests). */
  readonly size: number;
}

export const DEFAULT_CLIENT_CACHE_ENTRIES = 10_000;

/** Wraps `clients` (one storage's client store) with a cache of its records. */
export function cacheClients(clients: ClientStore, options: ClientCacheOptions = {}): ClientCache {
  const maxEntries = Math.max(0, options.maxEntries ?? DEFAULT_CLIENT_CACHE_ENTRIES);
  const externalWrites = options.externalWrites;
  // Map iteration order is insertion order: the first key is the least recently used.
  const entries = new Map<string, Readonly<ClientRecord>>();
  let active = (options.active ?? true) && maxEntries > 0;
  // Bumped by every invalidation: a lookup stores its result only if none happened while it read.
  let generation = 0;

  const clear = () => {
    generation += 1;
    entries.clear();
  };
  const invalidate = (clientId: string) => {
    generation += 1;
    entries.delete(clientId);
  };
  /** After a write: whether or not it committed (an error may come after the commit), the record is dropped. */
  const afterWrite = async <T>(clientId: string, write: Promise<T>): Promise<T> => {
    try {
      return await write;
    } finally {
      invalidate(clientId);
    }
  };

  return {
    clients: {
      async find(clientId) {
        if (externalWrites?.()) clear();
        if (!active) return clients.find(clientId);
        const cached = entries.get(clientId);
        if (cached) {
          entries.delete(clientId);
          entries.set(clientId, cached);
          return cached as ClientRecord;
        }
        const startedAt = generation;
        const record = await clients.find(clientId);
        if (record && active && generation === startedAt) {
          entries.set(clientId, frozenCopy(record));
          if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
        }
        return record;
      },
      create: (client) => afterWrite(client.clientId, clients.create(client)),
      update: (clientId, patch, narrowing) => afterWrite(clientId, clients.update(clientId, patch, narrowing)),
      changeStatus: (clientId, change) => afterWrite(clientId, clients.changeStatus(clientId, change)),
      list: () => clients.list(),
      listByOwner: (userId) => clients.listByOwner(userId),
    },
    invalidate,
    clear,
    setActive(value) {
      clear();
      active = value && maxEntries > 0;
    },
    get size() {
      return entries.size;
    },
  };
}

/** A frozen copy whose arrays (redirect URIs, scopes, contacts) are frozen copies too; the other members are primitives. */
function frozenCopy(record: Readonly<ClientRecord>): Readonly<ClientRecord> {
  const copy = { ...record } as Record<string, unknown>;
  for (const [key, value] of Object.entries(copy)) if (Array.isArray(value)) copy[key] = Object.freeze([...value]);
  return Object.freeze(copy) as unknown as Readonly<ClientRecord>;
}

/**
 * For a cache over one SQLite connection: a check, called before each read, that is true when another
 * connection committed since the previous call (`readVersion` is `PRAGMA data_version`, which changes only
 * for other connections' commits). One reader, one check per cache: each cache must see every change
 * itself, so they cannot share one "changed since the last call" state.
 */
export function externalWriteCheck(readVersion: () => number): () => boolean {
  let seen = readVersion();
  return () => seen !== (seen = readVersion());
}

/**
 * The PostgreSQL channel migration 31's trigger notifies with `{"schema": …, "client_id": …}` (JSON). The
 * trigger also notifies migration 26's `gatehouse_clients` with the bare client_id, for instances older
 * than 31 during a rolling upgrade; this code does not listen there (every schema's changes, unnamed).
 */
export const CLIENT_CHANGES_CHANNEL = 'gatehouse_client_changes';

/**
 * What a change notification's payload says about `schema` (the storage's, as in its search_path), the
 * payload being migration 31's JSON object naming the schema whose table changed:
 * - `'elsewhere'`: a change in another schema of the database (NOTIFY channels are database-wide: another
 *   deployment, another test schema; issue 12), nothing to drop here;
 * - the payload's members: a change in `schema`;
 * - `undefined`: a payload naming no schema (the format before migration 31, or unreadable): the caller
 *   drops what it may name, the safe side (an extra read, never a stale entry).
 */
export function readChangeNotification(payload: string, schema: string): 'elsewhere' | Readonly<Record<string, unknown>> | undefined {
  let members: unknown;
  try {
    members = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof members !== 'object' || members === null || typeof (members as { schema?: unknown }).schema !== 'string') return undefined;
  return (members as { schema: string }).schema === schema ? (members as Record<string, unknown>) : 'elsewhere';
}

/**
 * A cache the listening connection keeps fresh: the channel its table's trigger notifies, what to do with
 * a notification, and how to turn it off while notifications may be missed.
 */
export interface ChangeChannel {
  /** The PostgreSQL channel (a constant identifier: it is spelled into `LISTEN`). */
  readonly channel: string;
  /** A change committed somewhere in the database; `payload` as the trigger sent it (never a probe's). */
  changed(payload: string): void;
  /** false: clear, and bypass the cache until true again. */
  setActive(active: boolean): void;
}

/**
 * The client-record cache of the storage on `schema` as `listenForChanges` keeps it fresh: each
 * notification names one client_id, and those of other schemas are ignored.
 */
export function clientChangeChannel(cache: ClientCache, schema: string): ChangeChannel {
  return {
    channel: CLIENT_CHANGES_CHANNEL,
    changed: (payload) => {
      const change = readChangeNotification(payload, schema);
      if (change === 'elsewhere') return;
      // Issue 12: no schema named (migration 26's format: the payload is the client_id): dropped, the safe side.
      if (change === undefined) {
        if (payload) cache.invalidate(payload);
      } else if (typeof change.client_id === 'string') cache.invalidate(change.client_id);
      else cache.clear();
    },
    setActive: (active) => cache.setActive(active),
  };
}

/** How a probe's payload starts: not JSON, so never what a trigger sends (migration 31). */
const PROBE_PREFIX = 'probe ';

/** The little of a `pg.Client` the listener uses (a dedicated connection, never a pooled one). */
export interface ListenerConnection {
  connect(): Promise<unknown>;
  query(text: string, values?: unknown[]): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  /** The backend process id once connected (`pg.Client` sets it; absent from its types). */
  readonly processID?: number | null;
}

export interface ClientChangeListenerOptions {
  /** A new, unconnected connection (called again for each reconnection). */
  newConnection(): ListenerConnection;
  /** Delay before the first reconnection attempt, doubled after each failure; default 100 ms. */
  reconnectInitialMillis?: number;
  /** Longest delay between reconnection attempts; default 5,000 ms. */
  reconnectMaxMillis?: number;
  /**
   * A probe this often: the listening connection notifies itself and must receive it, so a connection
   * that died silently (a cut network: no FIN, no error) or does not receive notifications (a pooler in
   * transaction mode between it and PostgreSQL) is noticed within about this time; default 15,000 ms.
   */
  heartbeatMillis?: number;
  /** How long a probe's notification may take to come back; default 5,000 ms. */
  probeTimeoutMillis?: number;
  /** Each change of state: listening (with the backend's process id), or not (the error, if any). */
  onStateChange?(state: { listening: true; processId: number | null } | { listening: false; error?: Error }): void;
}

/**
 * Keeps one connection LISTENing on the channel of each cache in `caches` (client records, the resource
 * catalogue: one connection for all, not one each) and passes each notification to its cache. The caches
 * are active only while the connection is proven to receive every channel; a lost connection (error,
 * end, failed heartbeat) deactivates them all and reconnects with exponential backoff. Never throws and
 * never lets an error of its connection escape (an 'error' without a listener would end the process).
 * @returns once the first attempt finished (listening or not); `close()` stops it and ends the connection.
 */
export async function listenForChanges(caches: readonly ChangeChannel[], options: ClientChangeListenerOptions): Promise<{ close(): Promise<void> }> {
  const initialMillis = options.reconnectInitialMillis ?? 100;
  const maxMillis = options.reconnectMaxMillis ?? 5_000;
  let closed = false;
  let current: ListenerConnection | undefined;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  const byChannel = new Map(caches.map((cache) => [cache.channel, cache]));
  const channels = [...byChannel.keys()];
  const setActive = (active: boolean) => {
    for (const cache of caches) cache.setActive(active);
  };

  const lose = (connection: ListenerConnection, error?: Error) => {
    if (connection !== current) return; // already handled (an 'error' and its 'end')
    current = undefined;
    setActive(false);
    clearInterval(heartbeatTimer);
    connection.end().catch(() => {});
    options.onStateChange?.({ listening: false, error });
    if (closed) return;
    const delay = Math.min(maxMillis, initialMillis * 2 ** failures);
    failures += 1;
    reconnectTimer = setTimeout(() => void connect(), delay);
    reconnectTimer.unref();
  };

  const connect = async () => {
    if (closed) return;
    const connection = options.newConnection();
    current = connection;
    // Attached before connecting and never removed: a late error of a discarded connection is harmless.
    connection.on('error', (error) => lose(connection, error));
    connection.on('end', () => lose(connection));
    /** Each probe under way (by payload): called with each channel its notification comes back on. */
    const probes = new Map<string, (channel: string) => void>();
    connection.on('notification', (message) => {
      const payload = message.payload ?? '';
      const probed = probes.get(payload);
      if (probed) probed(message.channel);
      // Another instance's probe (every listener on the channel hears it, whatever its schema): no change.
      else if (!payload.startsWith(PROBE_PREFIX)) byChannel.get(message.channel)?.changed(payload);
    });
    /**
     * Notifies every channel from this connection and waits for each to come back (a session receives its
     * own notifications): proof that every cache's channel is heard, not just one.
     */
    const probe = async () => {
      const payload = `${PROBE_PREFIX}${randomUUID()}`;
      let timer: NodeJS.Timeout | undefined;
      const delivered = new Promise<void>((resolve, reject) => {
        const waiting = new Set(channels);
        probes.set(payload, (channel) => {
          waiting.delete(channel);
          if (waiting.size === 0) resolve();
        });
        timer = setTimeout(() => reject(new Error('the listening connection does not receive notifications (a pooler in transaction mode?)')), options.probeTimeoutMillis ?? 5_000);
      });
      delivered.catch(() => {}); // awaited below; a rejection before that must not count as unhandled
      try {
        await connection.query('SELECT pg_notify(channel, $2) FROM unnest($1::text[]) AS channel', [channels, payload]);
        await delivered;
      } finally {
        clearTimeout(timer);
        probes.delete(payload);
      }
    };
    try {
      await connection.connect();
      // Every channel in one round trip (a simple query may hold several statements); the probe proves each.
      await connection.query(channels.map((channel) => `LISTEN ${channel}`).join('; '));
      await probe();
    } catch (error) {
      lose(connection, error as Error);
      return;
    }
    if (connection !== current) return;
    if (closed) {
      current = undefined;
      await connection.end().catch(() => {});
      return;
    }
    failures = 0;
    // From here on every committed change is notified to us; anything read before is dropped (setActive clears).
    setActive(true);
    heartbeatTimer = setInterval(() => {
      if (probes.size === 0) probe().catch((error: Error) => lose(connection, error));
    }, options.heartbeatMillis ?? 15_000);
    heartbeatTimer.unref();
    options.onStateChange?.({ listening: true, processId: connection.processID ?? null });
  };

  await connect();
  return {
    async close() {
      closed = true;
      clearTimeout(reconnectTimer);
      clearInterval(heartbeatTimer);
      const connection = current;
      current = undefined;
      setActive(false);
      await connection?.end().catch(() => {});
    },
  };
}
