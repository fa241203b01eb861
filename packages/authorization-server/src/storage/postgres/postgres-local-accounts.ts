/**
 * The local-account store (storage.ts `LocalAccountStore`, issue 10 §3) on PostgreSQL: password links,
 * TOTP second factors with their recovery codes, and pending logins. Each compare-and-set is one
 * UPDATE … WHERE … RETURNING statement (row locks make it atomic across instances); multi-statement
 * steps are short transactions.
 */
import type { PoolClient, QueryResultRow } from 'pg';
import type { LocalAccountStore, PasswordTokenRecord, PendingLoginRecord, SecondFactorRecord } from '../storage.ts';

type Row = QueryResultRow;

/** What the PostgreSQL storage shares with this store. */
export interface PostgresLocalAccountDriver {
  query(text: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
}

export function createPostgresLocalAccounts(db: PostgresLocalAccountDriver): LocalAccountStore {
  const { query, transaction } = db;
  const changed = (result: { rowCount: number | null }) => (result.rowCount ?? 0) > 0;
  return {
    async createPasswordToken(token) {
      await transaction(async (client) => {
        await client.query('UPDATE password_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL', [token.createdAt, token.userId, token.purpose]);
        await client.query('INSERT INTO password_tokens (token_digest, user_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
          [token.tokenDigest, token.userId, token.purpose, token.createdAt, token.expiresAt]);
      });
    },
    async findPasswordToken(tokenDigest, now) {
      const { rows } = await query(`SELECT t.* FROM password_tokens t JOIN users u ON u.user_id = t.user_id
        WHERE t.token_digest = $1 AND t.used_at IS NULL AND t.expires_at > $2 AND u.deleted_at IS NULL`, [tokenDigest, now]);
      return rows[0] && toPasswordToken(rows[0]);
    },
    async consumePasswordToken(tokenDigest, now) {
      const { rows } = await query(`UPDATE password_tokens t SET used_at = $2 FROM users u
        WHERE t.token_digest = $1 AND t.used_at IS NULL AND t.expires_at > $2 AND u.user_id = t.user_id AND u.deleted_at IS NULL
        RETURNING t.*`, [tokenDigest, now]);
      return rows[0] && toPasswordToken(rows[0]);
    },
    async findSecondFactor(userId) {
      const { rows } = await query('SELECT * FROM second_factors WHERE user_id = $1', [userId]);
      return rows[0] && toSecondFactor(rows[0]);
    },
    async startSecondFactor(userId, secretCiphertext, now) {
      const result = await query(`INSERT INTO second_factors (user_id, secret_ciphertext, created_at) VALUES ($1, $2, $3)
        ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = EXCLUDED.secret_ciphertext, created_at = EXCLUDED.created_at, last_time_step = NULL
        WHERE second_factors.confirmed_at IS NULL`, [userId, secretCiphertext, now]);
      return changed(result);
    },
    async confirmSecondFactor(userId, timeStep, recoveryCodeDigests, now) {
      return transaction(async (client) => {
        const result = await client.query('UPDATE second_factors SET confirmed_at = $1, last_time_step = $2 WHERE user_id = $3 AND confirmed_at IS NULL', [now, timeStep, userId]);
        if (!changed(result)) return false;
        await client.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
        await client.query('INSERT INTO recovery_codes (user_id, code_digest) SELECT $1, unnest($2::text[])', [userId, recoveryCodeDigests]);
        return true;
      });
    },
    async useTimeStep(userId, timeStep) {
      // RFC 6238 §5.2: a code accepted once is never accepted again (its step, and any earlier one).
      return changed(await query(
        'UPDATE second_factors SET last_time_step = $2 WHERE user_id = $1 AND confirmed_at IS NOT NULL AND (last_time_step IS NULL OR last_time_step < $2)',
        [userId, timeStep],
      ));
    },
    async useRecoveryCode(userId, codeDigest, now) {
      return changed(await query('UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_digest = $2 AND used_at IS NULL', [userId, codeDigest, now]));
    },
    async countRecoveryCodes(userId) {
      return Number((await query('SELECT count(*)::int AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL', [userId])).rows[0]!.n);
    },
    async removeSecondFactor(userId) {
      return transaction(async (client) => {
        await client.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
        return changed(await client.query('DELETE FROM second_factors WHERE user_id = $1', [userId]));
      });
    },
    async createPendingLogin(pending) {
      await query('INSERT INTO pending_logins (pending_digest, user_id, step, return_to, created_at, expires_at, failures) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [pending.pendingDigest, pending.userId, pending.step, pending.returnTo, pending.createdAt, pending.expiresAt, pending.failures]);
    },
    async findPendingLogin(pendingDigest, now) {
      const { rows } = await query('SELECT * FROM pending_logins WHERE pending_digest = $1 AND expires_at > $2', [pendingDigest, now]);
      return rows[0] && toPendingLogin(rows[0]);
    },
    async recordPendingLoginFailure(pendingDigest) {
      const { rows } = await query('UPDATE pending_logins SET failures = failures + 1 WHERE pending_digest = $1 RETURNING failures', [pendingDigest]);
      return rows[0] ? Number(rows[0].failures) : Number.MAX_SAFE_INTEGER;
    },
    async deletePendingLogin(pendingDigest) {
      return changed(await query('DELETE FROM pending_logins WHERE pending_digest = $1', [pendingDigest]));
    },
    async deleteExpired(now, batchSize) {
      /** Deletes in batches; rows another run holds are skipped (SKIP LOCKED), never waited for. */
      const inBatches = async (table: string, where: string): Promise<number> => {
        let total = 0;
        for (;;) {
          const result = await query(`DELETE FROM ${table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE ${where} LIMIT $2 FOR UPDATE SKIP LOCKED))`, [now, batchSize]);
          total += result.rowCount ?? 0;
          if ((result.rowCount ?? 0) < batchSize) return total;
        }
      };
      return {
        passwordTokens: await inBatches('password_tokens', 'expires_at <= $1 OR used_at IS NOT NULL'),
        pendingLogins: await inBatches('pending_logins', 'expires_at <= $1'),
      };
    },
  };
}

function toPasswordToken(row: Row): PasswordTokenRecord {
  return {
    tokenDigest: String(row.token_digest), userId: String(row.user_id), purpose: row.purpose as PasswordTokenRecord['purpose'],
    createdAt: Number(row.created_at), expiresAt: Number(row.expires_at),
  };
}

function toSecondFactor(row: Row): SecondFactorRecord {
  return {
    userId: String(row.user_id), secretCiphertext: String(row.secret_ciphertext), createdAt: Number(row.created_at),
    confirmedAt: row.confirmed_at === null ? null : Number(row.confirmed_at), lastTimeStep: row.last_time_step === null ? null : Number(row.last_time_step),
  };
}

function toPendingLogin(row: Row): PendingLoginRecord {
  return {
    pendingDigest: String(row.pending_digest), userId: String(row.user_id), step: row.step as PendingLoginRecord['step'], returnTo: String(row.return_to),
    createdAt: Number(row.created_at), expiresAt: Number(row.expires_at), failures: Number(row.failures),
  };
}
