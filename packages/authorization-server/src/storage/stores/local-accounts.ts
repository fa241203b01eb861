/**
 * The local-account store (storage.ts `LocalAccountStore`, issue 10 §3): password links, TOTP second
 * factors with their recovery codes, and pending logins; written once for both databases over the SQL
 * driver (issue 12).
 *
 * Each compare-and-set is one `UPDATE … WHERE` (or upsert) statement: atomic on SQLite (statement-level,
 * across processes sharing the file) and on PostgreSQL (the row lock makes a concurrent writer re-check the
 * WHERE against the committed row). Multi-statement steps are one `db.transaction`.
 */
import { nullableNumber, storedBoolean } from '../rows.ts';
import type { SqlDriver, SqlRow } from '../sql/driver.ts';
import type { LocalAccountStore, PasswordTokenRecord, PendingLoginRecord, SecondFactorRecord } from '../storage.ts';

const LIVE_TOKEN = `SELECT t.* FROM password_tokens t JOIN users u ON u.user_id = t.user_id
  WHERE t.token_digest = ? AND t.used_at IS NULL AND t.expires_at > ? AND u.deleted_at IS NULL`;

export function createLocalAccountStore(db: SqlDriver): LocalAccountStore {
  /** Runs one batch-deleting statement (`now`, `batchSize`) until a batch comes back short; @returns rows deleted. */
  const inBatches = async (statement: string, now: number, batchSize: number): Promise<number> => {
    let total = 0;
    for (;;) {
      const { changes } = await db.run(statement, [now, batchSize]);
      total += changes;
      if (changes < batchSize) return total;
      // node:sqlite is synchronous: let requests run between batches.
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  // Batches by physical row id, which the dialects name differently; PostgreSQL skips rows another
  // instance's cleanup holds (SKIP LOCKED) instead of waiting for them.
  const batchDelete = (table: string, where: string) => db.dialect === 'postgres'
    ? `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${table} WHERE ${where} LIMIT ? FOR UPDATE SKIP LOCKED))`
    : `DELETE FROM ${table} WHERE rowid IN (SELECT rowid FROM ${table} WHERE ${where} ORDER BY expires_at LIMIT ?)`;
  const expiredTokens = batchDelete('password_tokens', '(expires_at <= ? OR used_at IS NOT NULL)');
  const expiredPendingLogins = batchDelete('pending_logins', 'expires_at <= ?');

  return {
    async createPasswordToken(token) {
      await db.transaction(function* (tx) {
        yield* tx.run('UPDATE password_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL', [token.createdAt, token.userId, token.purpose]);
        yield* tx.run('INSERT INTO password_tokens (token_digest, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
          [token.tokenDigest, token.userId, token.purpose, token.createdAt, token.expiresAt]);
      });
    },
    async findPasswordToken(tokenDigest, now) {
      const row = await db.get(LIVE_TOKEN, [tokenDigest, now]);
      return row && toPasswordToken(row);
    },
    async consumePasswordToken(tokenDigest, now) {
      return db.transaction(function* (tx) {
        // One statement: of two concurrent consumptions the second finds used_at set and changes nothing.
        const row = yield* tx.get(`UPDATE password_tokens SET used_at = ?
          WHERE token_digest = ? AND used_at IS NULL AND expires_at > ?
            AND EXISTS (SELECT 1 FROM users u WHERE u.user_id = password_tokens.user_id AND u.deleted_at IS NULL)
          RETURNING *`, [now, tokenDigest, now]);
        if (!row) return undefined;
        // The password this link sets is the account's: the user's other unused links (an invitation beside a
        // reset, of another purpose, so not voided when issued) would set it again, so they end with this one.
        yield* tx.run('UPDATE password_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL', [now, row.user_id]);
        // A sign-in waiting at its second step proved the old password: it ends as the user's sessions do
        // (password-setup.ts), or whoever knew that password would finish it (a mandatory enrolment needs no code).
        yield* tx.run('DELETE FROM pending_logins WHERE user_id = ?', [row.user_id]);
        return toPasswordToken(row);
      });
    },
    async findSecondFactor(userId) {
      const row = await db.get('SELECT * FROM second_factors WHERE user_id = ?', [userId]);
      return row && toSecondFactor(row);
    },
    async startSecondFactor(userId, secretCiphertext, now) {
      // One statement: replaces an unconfirmed enrolment, leaves a confirmed factor alone (0 rows changed).
      const result = await db.run(`INSERT INTO second_factors (user_id, secret_ciphertext, created_at) VALUES (?, ?, ?)
        ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = excluded.secret_ciphertext, created_at = excluded.created_at, last_time_step = NULL
        WHERE second_factors.confirmed_at IS NULL`, [userId, secretCiphertext, now]);
      return result.changes > 0;
    },
    async confirmSecondFactor(userId, timeStep, recoveryCodeDigests, now) {
      return db.transaction(function* (tx) {
        const confirmed = yield* tx.run('UPDATE second_factors SET confirmed_at = ?, last_time_step = ? WHERE user_id = ? AND confirmed_at IS NULL', [now, timeStep, userId]);
        if (confirmed.changes === 0) return false;
        yield* tx.run('DELETE FROM recovery_codes WHERE user_id = ?', [userId]);
        if (recoveryCodeDigests.length > 0) {
          yield* tx.run(`INSERT INTO recovery_codes (user_id, code_digest) VALUES ${recoveryCodeDigests.map(() => '(?, ?)').join(', ')}`,
            recoveryCodeDigests.flatMap((digest) => [userId, digest]));
        }
        return true;
      });
    },
    async useTimeStep(userId, timeStep) {
      // RFC 6238 §5.2: a code accepted once is never accepted again (its step, and any earlier one).
      const result = await db.run(
        'UPDATE second_factors SET last_time_step = ? WHERE user_id = ? AND confirmed_at IS NOT NULL AND (last_time_step IS NULL OR last_time_step < ?)',
        [timeStep, userId, timeStep],
      );
      return result.changes === 1;
    },
    async useRecoveryCode(userId, codeDigest, now) {
      const result = await db.run('UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_digest = ? AND used_at IS NULL', [now, userId, codeDigest]);
      return result.changes === 1;
    },
    async countRecoveryCodes(userId) {
      const row = await db.get('SELECT count(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL', [userId]);
      return Number(row!.n);
    },
    async removeSecondFactor(userId) {
      return db.transaction(function* (tx) {
        yield* tx.run('DELETE FROM recovery_codes WHERE user_id = ?', [userId]);
        return (yield* tx.run('DELETE FROM second_factors WHERE user_id = ?', [userId])).changes === 1;
      });
    },
    async createPendingLogin(pending) {
      await db.run('INSERT INTO pending_logins (pending_digest, user_id, step, return_to, created_at, expires_at, failures, first_step_stale) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [pending.pendingDigest, pending.userId, pending.step, pending.returnTo, pending.createdAt, pending.expiresAt, pending.failures, pending.firstStepStale === true]);
    },
    async findPendingLogin(pendingDigest, now) {
      const row = await db.get('SELECT * FROM pending_logins WHERE pending_digest = ? AND expires_at > ?', [pendingDigest, now]);
      return row && toPendingLogin(row);
    },
    async recordPendingLoginFailure(pendingDigest) {
      const row = await db.get('UPDATE pending_logins SET failures = failures + 1 WHERE pending_digest = ? RETURNING failures', [pendingDigest]);
      return row ? Number(row.failures) : Number.MAX_SAFE_INTEGER;
    },
    async deletePendingLogin(pendingDigest) {
      return (await db.run('DELETE FROM pending_logins WHERE pending_digest = ?', [pendingDigest])).changes === 1;
    },
    async deleteExpired(now, batchSize) {
      return {
        passwordTokens: await inBatches(expiredTokens, now, batchSize),
        pendingLogins: await inBatches(expiredPendingLogins, now, batchSize),
      };
    },
  };
}

function toPasswordToken(row: SqlRow): PasswordTokenRecord {
  return {
    tokenDigest: String(row.token_digest), userId: String(row.user_id), purpose: row.purpose as PasswordTokenRecord['purpose'],
    createdAt: Number(row.created_at), expiresAt: Number(row.expires_at),
  };
}

function toSecondFactor(row: SqlRow): SecondFactorRecord {
  return {
    userId: String(row.user_id), secretCiphertext: String(row.secret_ciphertext), createdAt: Number(row.created_at),
    confirmedAt: nullableNumber(row.confirmed_at), lastTimeStep: nullableNumber(row.last_time_step),
  };
}

function toPendingLogin(row: SqlRow): PendingLoginRecord {
  return {
    pendingDigest: String(row.pending_digest), userId: String(row.user_id), step: row.step as PendingLoginRecord['step'], returnTo: String(row.return_to),
    createdAt: Number(row.created_at), expiresAt: Number(row.expires_at), failures: Number(row.failures),
    ...(storedBoolean(row.first_step_stale) ? { firstStepStale: true as const } : {}),
  };
}
