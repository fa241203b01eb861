/**
 * oidc-provider's in-memory adapter without its size limit.
 *
 * The adapter oidc-provider ships (lib/adapters/memory_adapter.js) keeps its entries in an LRU of about
 * 1,000–2,000 entries: under benchmark load most codes and tokens are evicted before they are used and
 * exchanges fail with `invalid_grant` (BENCH-NOTES pitfalls). This is the same logic — keys
 * `<Model>:<id>`, a per-grant member index for `revokeByGrantId`, the session-uid and user-code indexes,
 * expiry on read — over a plain Map, so the peer is measured doing its real work, still in memory.
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';

interface Entry {
  value: unknown;
  expiresAt: number;
}

const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

export interface UnboundedMemoryStore {
  readonly entries: Map<string, Entry>;
  get(key: string): unknown;
  set(key: string, value: unknown, expiresInSeconds?: number): void;
  delete(key: string): void;
  /** Called after every upsert, so the benchmark can copy what a real flow stored. */
  onUpsert?: (model: string, id: string, payload: AdapterPayload) => void;
}

export function createUnboundedMemoryStore(): UnboundedMemoryStore {
  const entries = new Map<string, Entry>();
  return {
    entries,
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expiresAt <= Date.now()) {
        entries.delete(key);
        return undefined;
      }
      return entry.value;
    },
    set(key, value, expiresInSeconds) {
      entries.set(key, { value, expiresAt: typeof expiresInSeconds === 'number' ? Date.now() + expiresInSeconds * 1000 : Infinity });
    },
    delete(key) {
      entries.delete(key);
    },
  };
}

const grantKey = (grantId: string) => `grant:${grantId}`;
const sessionUidKey = (uid: string) => `sessionUid:${uid}`;
const userCodeKey = (userCode: string) => `userCode:${userCode}`;

export function createUnboundedMemoryAdapter(store: UnboundedMemoryStore): (model: string) => Adapter {
  const members = (grantId: string): Set<string> => {
    let set = store.get(grantKey(grantId)) as Set<string> | undefined;
    if (!set) {
      set = new Set();
      store.set(grantKey(grantId), set);
    }
    return set;
  };
  const removeSecondaryIndexes = (id: string, payload: AdapterPayload) => {
    if (payload.uid && store.get(sessionUidKey(payload.uid)) === id) store.delete(sessionUidKey(payload.uid));
    if (payload.userCode && store.get(userCodeKey(payload.userCode)) === id) store.delete(userCodeKey(payload.userCode));
  };

  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    const removeIndexes = (id: string, payload: AdapterPayload) => {
      removeSecondaryIndexes(id, payload);
      if (GRANTABLE.has(model) && payload.grantId) members(payload.grantId).delete(key(id));
    };
    return {
      async upsert(id, payload, expiresIn) {
        const previous = store.get(key(id)) as AdapterPayload | undefined;
        if (previous) removeIndexes(id, previous);
        if (model === 'Session' && payload.uid) store.set(sessionUidKey(payload.uid), id, expiresIn);
        if (GRANTABLE.has(model) && payload.grantId) members(payload.grantId).add(key(id));
        if (payload.userCode) store.set(userCodeKey(payload.userCode), id, expiresIn);
        store.set(key(id), payload, expiresIn);
        store.onUpsert?.(model, id, payload);
      },
      async find(id) {
        return store.get(key(id)) as AdapterPayload | undefined;
      },
      async findByUid(uid) {
        const id = store.get(sessionUidKey(uid)) as string | undefined;
        return id === undefined ? undefined : (store.get(key(id)) as AdapterPayload | undefined);
      },
      async findByUserCode(userCode) {
        const id = store.get(userCodeKey(userCode)) as string | undefined;
        return id === undefined ? undefined : (store.get(key(id)) as AdapterPayload | undefined);
      },
      async consume(id) {
        const payload = store.get(key(id)) as AdapterPayload | undefined;
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        const payload = store.get(key(id)) as AdapterPayload | undefined;
        store.delete(key(id));
        if (payload) removeIndexes(id, payload);
      },
      async revokeByGrantId(grantId) {
        const set = store.get(grantKey(grantId)) as Set<string> | undefined;
        if (!set) return;
        for (const member of set) {
          const payload = store.get(member) as AdapterPayload | undefined;
          store.delete(member);
          if (payload) removeSecondaryIndexes(payload.jti ?? member.slice(member.indexOf(':') + 1), payload);
        }
        store.delete(grantKey(grantId));
      },
    };
  };
}
