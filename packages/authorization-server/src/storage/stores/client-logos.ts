/**
 * Uploaded client logos, one per client (storage.ts `Storage['clientLogos']`), written once for both
 * databases over the SQL driver (issue 12). `bytes` is a BLOB on SQLite (read back as a Uint8Array) and
 * a bytea on PostgreSQL (read back as a Buffer); both come out as a Buffer of their own.
 */
import type { SqlDriver, SqlRow } from '../sql/driver.ts';
import type { ClientLogoRecord, Storage } from '../storage.ts';

export function createClientLogoStore(db: SqlDriver): Storage['clientLogos'] {
  return {
    async put(logo) {
      await db.run(
        `INSERT INTO client_logos (client_id, content_type, bytes, sha256, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (client_id) DO UPDATE SET content_type = excluded.content_type, bytes = excluded.bytes, sha256 = excluded.sha256, updated_at = excluded.updated_at`,
        [logo.clientId, logo.contentType, logo.bytes, logo.sha256, logo.updatedAt],
      );
    },
    async get(clientId) {
      const row = await db.get('SELECT * FROM client_logos WHERE client_id = ?', [clientId]);
      return row && toClientLogo(row);
    },
  };
}

function toClientLogo(row: SqlRow): ClientLogoRecord {
  return {
    clientId: String(row.client_id), contentType: String(row.content_type), bytes: Buffer.from(row.bytes as Uint8Array),
    sha256: String(row.sha256), updatedAt: Number(row.updated_at),
  };
}
