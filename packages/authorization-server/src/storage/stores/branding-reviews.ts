/**
 * Issue 13: the reviewed branding of clients whose branding changed since review (storage.ts
 * `brandingReviews`), written once for both databases over the SQL driver (issue 12).
 */
import type { Row } from '../rows.ts';
import type { SqlDriver } from '../sql/driver.ts';
import type { BrandingReviewRecord, Storage } from '../storage.ts';

export function createBrandingReviewStore(db: SqlDriver): Storage['brandingReviews'] {
  return {
    async keep(record) {
      // `reviewed` is JSON text on SQLite and jsonb on PostgreSQL (the text is its input form).
      const inserted = await db.run(
        `INSERT INTO client_branding_reviews (client_id, reviewed, logo_content_type, logo_bytes, logo_sha256, kept_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (client_id) DO NOTHING`,
        [record.clientId, JSON.stringify(record.reviewed), record.logo?.contentType ?? null, record.logo?.bytes ?? null, record.logo?.sha256 ?? null, record.keptAt],
      );
      return inserted.changes > 0;
    },
    async find(clientId) {
      const row = await db.get('SELECT * FROM client_branding_reviews WHERE client_id = ?', [clientId]);
      return row && toBrandingReview(row);
    },
    async remove(clientId) {
      return (await db.run('DELETE FROM client_branding_reviews WHERE client_id = ?', [clientId])).changes > 0;
    },
  };
}

/** A client_branding_reviews row: `reviewed` as JSON text (SQLite) or parsed jsonb (PostgreSQL); the logo BLOB/bytea copied into a Buffer. */
function toBrandingReview(row: Row): BrandingReviewRecord {
  return {
    clientId: String(row.client_id),
    reviewed: (typeof row.reviewed === 'string' ? JSON.parse(row.reviewed) : row.reviewed) as BrandingReviewRecord['reviewed'],
    keptAt: Number(row.kept_at),
    logo: row.logo_bytes === null || row.logo_bytes === undefined ? null
      : { contentType: String(row.logo_content_type), bytes: Buffer.from(row.logo_bytes as Uint8Array), sha256: String(row.logo_sha256) },
  };
}
