/**
 * The DPoP proofs the token endpoint accepted (storage.ts `dpopProofs`, RFC 9449 §11.1), written once for
 * both databases over the SQL driver (issue 12): the same statements run on SQLite and PostgreSQL.
 */
import type { SqlDriver } from '../sql/driver.ts';
import type { Storage } from '../storage.ts';

export function createDpopProofStore(db: SqlDriver): Storage['dpopProofs'] {
  return {
    async recordOnce(proofDigest, expiresAt, now) {
      // One statement: a new digest is inserted, an expired one replaced; a live one is left alone (no row
      // returned). SQLite runs one writer at a time; on PostgreSQL a concurrent insert of the same digest
      // waits on the unique index and then sees it, so of two calls exactly one gets a row.
      // Named: it runs on every DPoP-bound token request.
      const row = await db.get(
        `INSERT INTO dpop_proofs (proof_digest, expires_at) VALUES (?, ?)
         ON CONFLICT (proof_digest) DO UPDATE SET expires_at = excluded.expires_at WHERE dpop_proofs.expires_at <= ?
         RETURNING 1 AS recorded`,
        [proofDigest, expiresAt, now],
        { name: 'gatehouse_dpop_record_once' },
      );
      return row !== undefined;
    },
    async deleteExpired(now, limit) {
      // By the primary key on both databases (not SQLite's rowid or PostgreSQL's ctid): the subquery's
      // ORDER BY expires_at reads the expiry index, so an idle run costs a few index probes.
      const result = await db.run(
        'DELETE FROM dpop_proofs WHERE proof_digest IN (SELECT proof_digest FROM dpop_proofs WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)',
        [now, limit],
      );
      return result.changes;
    },
  };
}
