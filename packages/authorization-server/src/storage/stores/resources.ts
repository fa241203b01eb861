/**
 * Registered APIs (storage.ts `ResourceStore`, RFC 8707, issue 15 §4), written once for both databases
 * over the SQL driver (issue 12). The model for a store without dialect-specific atomicity.
 */
import { toResource } from '../rows.ts';
import type { SqlDriver } from '../sql/driver.ts';
import type { ResourceStore } from '../storage.ts';

export function createResourceStore(db: SqlDriver): ResourceStore {
  return {
    async create(resource) {
      const inserted = await db.run('INSERT INTO resources (resource, name, scopes, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (resource) DO NOTHING',
        [resource.resource, resource.name, resource.scopes.join(' '), resource.createdAt]);
      return inserted.changes === 1 ? 'created' : 'duplicate';
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
