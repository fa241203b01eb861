/**
 * Named server secrets (the development token key, the JWT signing key, key rings; storage.ts
 * `Storage['settings']`), written once for both databases over the SQL driver (issue 12). Values are
 * secrets: never log them.
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';

export function createSettingStore(db: SqlDriver): Storage['settings'] {
  return {
    async getOrCreate(name, create) {
      const existing = await db.get('SELECT value FROM settings WHERE name = ?', [name]);
      if (existing) return String(existing.value);
      // Two creators at once (requests, instances, processes): one INSERT wins, the other reads the winner's value.
      const inserted = await db.get('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING RETURNING value', [name, create()]);
      if (inserted) return String(inserted.value);
      return String((await db.get('SELECT value FROM settings WHERE name = ?', [name]))!.value);
    },
    async list(prefix) {
      // A prefix compared as text, not a LIKE pattern: `_` and `%` in a name match only themselves.
      const rows = await db.all('SELECT name, value FROM settings WHERE substr(name, 1, length(?)) = ? ORDER BY name', [prefix, prefix]);
      return rows.map((row) => ({ name: String(row.name), value: String(row.value) }));
    },
  };
}
