/**
 * The local-account store (storage.ts `LocalAccountStore`, issue 10 §3) on SQLite: password links,
 * TOTP second factors with their recovery codes, and pending logins. Each compare-and-set is one
 * UPDATE … WHERE statement (atomic across processes sharing the file); multi-statement steps are one
 * `BEGIN IMMEDIATE` transaction.
 */
import type { SQLInputValue } from 'node:sqlite';
import type { LocalAccountStore, PasswordTokenRecord, PendingLoginRecord, SecondFactorRecord } from '../storage.ts';

type Row = Record<string, SQLInputValue>;

/** What the SQLite storage shares with this store. */
export interface SqliteLocalAccountDriver {
  get(text: string, ...params: SQLInputValue[]): Row | undefined;
  run(text: string, ...params: SQLInputValue[]): { changes: number | bigint };
  transaction<T>(work: () => T): T;
}

const LIVE_TOKEN = `SELECT t.* FROM password_tokens t JOIN users u ON u.user_id = t.user_id
  WHERE t.token_digest = ? AND t.used_at IS NULL AND t.expires_at > ? AND u.deleted_at IS NULL`;

export function createSqliteLocalAccounts(db: SqliteLocalAccountDriver): LocalAccountStore {
  const { get, run, transaction } = db;
  return {
    async createPasswordToken(token) {
      transaction(() => {
        run('UPDATE password_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL', token.createdAt, token.userId, token.purpose);
        run('INSERT INTO password_tokens (token_digest, user_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
          token.tokenDigest, token.userId, token.purpose, token.createdAt, token.expiresAt);
      });
    },
    async findPasswordToken(tokenDigest, now) {
      const row = get(LIVE_TOKEN, tokenDigest, now);
      return row && toPasswordToken(row);
    },
    async consumePasswordToken(tokenDigest, now) {
      return transaction(() => {
        const row = get(LIVE_TOKEN, tokenDigest, now);
        if (!row) return undefined;
        run('UPDATE password_tokens SET used_at = ? WHERE token_digest = ? AND used_at IS NULL', now, tokenDigest);
        return toPasswordToken(row);
      });
    },
    async findSecondFactor(userId) {
      const row = get('SELECT * FROM second_factors WHERE user_id = ?', userId);
      return row && toSecondFactor(row);
    },
    async startSecondFactor(userId, secretCiphertext, now) {
      return transaction(() => {
        if (get('SELECT 1 FROM second_factors WHERE user_id = ? AND confirmed_at IS NOT NULL', userId)) return false;
        run('DELETE FROM second_factors WHERE user_id = ?', userId);
        run('INSERT INTO second_factors (user_id, secret_ciphertext, created_at) VALUES (?, ?, ?)', userId, secretCiphertext, now);
        return true;
      });
    },
    async confirmSecondFactor(userId, timeStep, recoveryCodeDigests, now) {
      return transaction(() => {
        const changed = Number(run('UPDATE second_factors SET confirmed_at = ?, last_time_step = ? WHERE user_id = ? AND confirmed_at IS NULL', now, timeStep, userId).changes);
        if (changed === 0) return false;
        run('DELETE FROM recovery_codes WHERE user_id = ?', userId);
        for (const digest of recoveryCodeDigests) run('INSERT INTO recovery_codes (user_id, code_digest) VALUES (?, ?)', userId, digest);
        return true;
      });
    },
    async useTimeStep(userId, timeStep) {
      // RFC 6238 §5.2: a code accepted once is never accepted again (its step, and any earlier one).
      return Number(run(
        'UPDATE second_factors SET last_time_step = ? WHERE user_id = ? AND confirmed_at IS NOT NULL AND (last_time_step IS NULL OR last_time_step < ?)',
        timeStep, userId, timeStep,
      ).changes) === 1;
    },
    async useRecoveryCode(userId, codeDigest, now) {
      return Number(run('UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_digest = ? AND used_at IS NULL', now, userId, codeDigest).changes) === 1;
    },
    async countRecoveryCodes(userId) {
      return Number(get('SELECT count(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL', userId)!.n);
    },
    async removeSecondFactor(userId) {
      return transaction(() => {
        run('DELETE FROM recovery_codes WHERE user_id = ?', userId);
        return Number(run('DELETE FROM second_factors WHERE user_id = ?', userId).changes) === 1;
      });
    },
    async createPendingLogin(pending) {
      run('INSERT INTO pending_logins (pending_digest, user_id, step, return_to, created_at, expires_at, failures) VALUES (?, ?, ?, ?, ?, ?, ?)',
        pending.pendingDigest, pending.userId, pending.step, pending.returnTo, pending.createdAt, pending.expiresAt, pending.failures);
    },
    async findPendingLogin(pendingDigest, now) {
      const row = get('SELECT * FROM pending_logins WHERE pending_digest = ? AND expires_at > ?', pendingDigest, now);
      return row && toPendingLogin(row);
    },
    async recordPendingLoginFailure(pendingDigest) {
      const row = get('UPDATE pending_logins SET failures = failures + 1 WHERE pending_digest = ? RETURNING failures', pendingDigest);
      return row ? Number(row.failures) : Number.MAX_SAFE_INTEGER;
    },
    async deletePendingLogin(pendingDigest) {
      return Number(run('DELETE FROM pending_logins WHERE pending_digest = ?', pendingDigest).changes) === 1;
    },
    async deleteExpired(now, batchSize) {
      const inBatches = async (statement: string): Promise<number> => {
        let total = 0;
        for (;;) {
          const deleted = Number(run(statement, now, batchSize).changes);
          total += deleted;
          if (deleted < batchSize) return total;
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      return {
        passwordTokens: await inBatches(`DELETE FROM password_tokens WHERE rowid IN (SELECT rowid FROM password_tokens
          WHERE expires_at <= ?1 OR used_at IS NOT NULL ORDER BY expires_at LIMIT ?2)`),
        pendingLogins: await inBatches('DELETE FROM pending_logins WHERE rowid IN (SELECT rowid FROM pending_logins WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2)'),
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
