/**
 * A token store in process memory, for one instance and for tests. It holds ciphertext like the others,
 * so a heap dump shows no tokens either.
 */
import { randomUUID } from 'node:crypto';
import type { RowRevision, StoredConnection, TokenStore } from '../token-store.ts';

export function createMemoryTokenStore(): TokenStore {
  const rows = new Map<string, StoredConnection>();
  const copy = (row: StoredConnection | undefined) => (row ? { ...row } : undefined);
  const isStill = (row: StoredConnection | undefined, expected: RowRevision): row is StoredConnection =>
    row !== undefined && row.generation === expected.generation && row.version === expected.version;
  return {
    async save(connection) {
      const existing = rows.get(connection.connectionId);
      const row: StoredConnection = {
        ...connection,
        createdAt: existing?.createdAt ?? connection.createdAt,
        version: (existing?.version ?? 0) + 1,
        // A new row is another row: what was read of a deleted one never matches it.
        generation: existing ? existing.generation : randomUUID(),
      };
      rows.set(row.connectionId, row);
      return { ...row };
    },
    async get(connectionId) {
      return copy(rows.get(connectionId));
    },
    async list() {
      return [...rows.values()].sort((a, b) => (a.connectionId < b.connectionId ? -1 : a.connectionId > b.connectionId ? 1 : 0)).map((row) => ({ ...row }));
    },
    async replaceTokens(connectionId, expected, update) {
      const row = rows.get(connectionId);
      if (!isStill(row, expected) || row.status !== 'active') return undefined;
      const next: StoredConnection = { ...row, ...update, dpopKeyCiphertext: update.dpopKeyCiphertext ?? row.dpopKeyCiphertext, version: row.version + 1 };
      rows.set(connectionId, next);
      return { ...next };
    },
    async markReauthorizationRequired(connectionId, expected, reason, at) {
      const row = rows.get(connectionId);
      if (!isStill(row, expected)) return undefined;
      const next: StoredConnection = {
        ...row, status: 'reauthorization_required', statusReason: reason,
        accessTokenCiphertext: null, refreshTokenCiphertext: null, accessTokenExpiresAt: null, dpopKeyCiphertext: null, updatedAt: at, version: row.version + 1,
      };
      rows.set(connectionId, next);
      return { ...next };
    },
    async delete(connectionId) {
      return rows.delete(connectionId);
    },
    async close() {},
  };
}
