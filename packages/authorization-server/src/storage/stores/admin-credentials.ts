/**
 * Administrator API credentials, stored only as their token's SHA-256 (SPEC decision 9; storage.ts
 * `Storage['adminCredentials']`), written once for both databases over the SQL driver (issue 12).
 */
import type { SqlDriver, SqlRow } from '../sql/driver.ts';
import type { AdminCredentialRecord, Storage } from '../storage.ts';

export function createAdminCredentialStore(db: SqlDriver): Storage['adminCredentials'] {
  return {
    async create(credential) {
      // A taken name fails on the primary key (names identify the actor in audit events).
      await db.run('INSERT INTO admin_credentials (name, token_digest, created_at) VALUES (?, ?, ?)', [credential.name, credential.tokenDigest, credential.createdAt]);
    },
    async findByDigest(tokenDigest) {
      const row = await db.get('SELECT * FROM admin_credentials WHERE token_digest = ?', [tokenDigest]);
      return row && toAdminCredential(row);
    },
    async list() {
      return (await db.all('SELECT * FROM admin_credentials ORDER BY name')).map(toAdminCredential);
    },
    async delete(name) {
      return (await db.run('DELETE FROM admin_credentials WHERE name = ?', [name])).changes > 0;
    },
  };
}

function toAdminCredential(row: SqlRow): AdminCredentialRecord {
  return { name: String(row.name), tokenDigest: String(row.token_digest), createdAt: Number(row.created_at) };
}
