/**
 * Registered APIs (storage.ts `ResourceStore`, RFC 8707, issue 15 §4), written once for both databases
 * over the SQL driver (issue 12). Only `create` differs by dialect: its scope claim must be atomic.
 */
import { toResource } from '../rows.ts';
import type { SqlDriver } from '../sql/driver.ts';
import type { ResourceStore } from '../storage.ts';

export function createResourceStore(db: SqlDriver): ResourceStore {
  return {
    // Issue 15 §4: a scope belongs to at most one registered resource. Families are space-separated text
    // (no row per scope to put a unique constraint on), so the read of the other families and the insert
    // are one transaction that no other creation can interleave with: on SQLite every write transaction
    // is serial (BEGIN IMMEDIATE, or a SAVEPOINT of the group commit); on PostgreSQL (READ COMMITTED) the
    // table lock in SHARE ROW EXCLUSIVE mode (which conflicts with itself and with writes, not with reads)
    // makes a concurrent creation wait for this commit, and its read then sees this row.
    create(resource) {
      return db.transaction(function* (tx) {
        if (tx.dialect === 'postgres') yield* tx.run('LOCK TABLE resources IN SHARE ROW EXCLUSIVE MODE');
        const registered = yield* tx.all<{ resource: string; scopes: string }>('SELECT resource, scopes FROM resources');
        if (registered.some((other) => other.resource === resource.resource)) return 'duplicate' as const;
        const claimedByOthers = new Set(registered.flatMap((other) => other.scopes.split(' ')));
        const claimed = resource.scopes.filter((scope) => claimedByOthers.has(scope));
        if (claimed.length > 0) return { outcome: 'scopes_claimed' as const, scopes: claimed };
        yield* tx.run('INSERT INTO resources (resource, name, scopes, created_at) VALUES (?, ?, ?, ?)',
          [resource.resource, resource.name, resource.scopes.join(' '), resource.createdAt]);
        return 'created' as const;
      });
    },
    async find(resource) {
      const row = await db.get('SELECT * FROM resources WHERE resource = ?', [resource]);
      return row && toResource(row);
    },
    async list() {
      return (await db.all('SELECT * FROM resources ORDER BY created_at, resource')).map(toResource);
    },
    async delete(resource) {
      return (await db.run('DELETE FROM resources WHERE resource = ?', [resource])).changes === 1;
    },
  };
}
