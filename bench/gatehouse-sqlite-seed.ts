/**
 * Seeding a Gatehouse SQLite database directly, with prepared statements in one transaction, for the
 * benchmark: authorization codes for the code-exchange phase, and grants (each with its access and
 * refresh token, as `issueForCode` stores them) for the 10,000 / 1,000,000-grant scale phases.
 *
 * Runs in a short-lived child process (bench/servers.ts `seed-sqlite`), never in the server being
 * measured, so seeding neither shows in the server's CPU nor in its peak RSS.
 *
 * The rows follow packages/authorization-server/src/storage/sqlite/migrations.ts. Codes and the tokens
 * the benchmark will present are minted with the server's real codec (HMAC-SHA-256 tags); the other
 * seeded tokens only need realistic digests the B-tree sees as it would see the codec's: the minting
 * second (tokens/opaque-token.ts, base 32) followed by a uniformly random tag.
 */
import { createHash, randomBytes, randomUUID, randomUUIDv7 } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { createSqliteStorage } from '../packages/authorization-server/src/storage/sqlite/sqlite-storage.ts';
import { seedDevelopmentData, DEVELOPMENT_SEED } from '../packages/authorization-server/src/seed/development-seed.ts';
import { createOpaqueTokenCodec, timeSegment } from '../packages/authorization-server/src/tokens/opaque-token.ts';
import { API_AUDIENCE, BENCH_SCOPE, SEEDED_GRANTS_USER } from './config.ts';
import { seedFlowUsers } from './flow-users.ts';


export interface CodeForExchange {
  code: string;
  verifier: string;
}

/** Creates, migrates and seeds the development data (users, clients), as `npm start` does, and the flow phase's users. */
export async function prepareDatabase(path: string): Promise<void> {
  const storage = createSqliteStorage(path);
  const now = Math.floor(Date.now() / 1000);
  await seedDevelopmentData(storage, { brandName: 'Gatehouse', now, apiAudience: API_AUDIENCE });
  await seedFlowUsers(storage, now);
  await storage.close();
}

function openForSeeding(path: string): DatabaseSync {
  // Not defensive (node:sqlite's default in the Node 24 we run): SQLITE_DBCONFIG_DEFENSIVE refuses
  // `journal_mode = OFF`, which seedGrants' bulk load uses. The server's connections stay defensive.
  const db = new DatabaseSync(path, { defensive: false });
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA cache_size = -262144'); // 256 MiB for the bulk load; the server opens with its own defaults.
  return db;
}

/** Sets the journal mode and checks it took: SQLite answers with the mode in force, and keeps the old one when it cannot switch. */
function switchJournalMode(db: DatabaseSync, mode: 'off' | 'wal'): void {
  const { journal_mode: inForce } = db.prepare(`PRAGMA journal_mode = ${mode}`).get() as { journal_mode: string };
  if (inForce !== mode) throw new Error(`the seed file stayed in journal mode ${inForce}, not ${mode}: is a server holding it open?`);
}

function inTransaction(db: DatabaseSync, work: () => void): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    work();
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

/**
 * `count` authorization codes of the confidential demo client, each for a distinct company (so each
 * exchange creates a grant that supersedes nothing), PKCE S256, valid for 600 s (the configurable maximum).
 */
export function seedCodes(path: string, tokenKey: Buffer, count: number): CodeForExchange[] {
  const codec = createOpaqueTokenCodec(tokenKey);
  const db = openForSeeding(path);
  const now = Math.floor(Date.now() / 1000);
  const client = DEVELOPMENT_SEED.confidentialClient;
  const insert = db.prepare(
    `INSERT INTO authorization_codes (code_digest, client_id, user_id, redirect_uri, scope, subject_type, subject_id, code_challenge, issued_at, expires_at)
     VALUES (?, ?, ?, ?, ?, 'company', ?, ?, ?, ?)`,
  );
  const codes: CodeForExchange[] = [];
  inTransaction(db, () => {
    for (let i = 0; i < count; i++) {
      const code = codec.mint('gac');
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      insert.run(code.digest, client.id, SEEDED_GRANTS_USER.id, client.redirectUri, BENCH_SCOPE, randomUUID(), challenge, now, now + 600);
      codes.push({ code: code.value, verifier });
    }
  });
  db.close();
  return codes;
}

/**
 * `total` active grants, each with one access token and one current refresh token, for distinct
 * companies. Returns the refresh token values of `poolSize` of them, spread evenly over the insertion
 * order (digests start with the seeding second, then are random, so they are spread over its part of the index).
 */
export function seedGrants(path: string, tokenKey: Buffer, total: number, poolSize: number): { refreshTokens: string[]; seconds: number } {
  const started = performance.now();
  const codec = createOpaqueTokenCodec(tokenKey);
  const db = openForSeeding(path);
  // A bulk load into a file no server has open: no journal, no fsync, everything in cache until the end,
  // then back to WAL (the mode the server expects; it sets its own synchronous level when it opens). WAL
  // persists in the file, and a bulk load left in it writes every page twice (the WAL, as large as the
  // batch, then the checkpoint's copy into the database), so the switch is checked: SQLite keeps WAL
  // while another connection has the file open, and a defensive connection refuses OFF. Without a journal
  // a failed batch cannot roll back; the seed is then thrown away anyway (the error reaches the caller).
  switchJournalMode(db, 'off');
  db.exec('PRAGMA synchronous = OFF');
  db.exec('PRAGMA cache_size = -3000000');
  const now = Math.floor(Date.now() / 1000);
  const client = DEVELOPMENT_SEED.confidentialClient;
  const insertGrant = db.prepare(
    `INSERT INTO grants (grant_id, client_id, user_id, subject_type, subject_id, scope, created_at, revoked_at, revocation_reason)
     VALUES (?, ?, ?, 'company', ?, ?, ?, NULL, NULL)`,
  );
  const insertToken = db.prepare(
    `INSERT INTO tokens (token_digest, token_id, kind, grant_id, client_id, scope, issued_at, expires_at, rotated_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)`,
  );
  const stride = Math.max(1, Math.floor(total / poolSize));
  const refreshTokens: string[] = [];
  // 32 random bytes a digest, cut from 64 KiB drawn at once: one randomBytes call per digest took a
  // fifth of a 100,000-grant seed's CPU (bench/profile-summary.ts on a --cpu-prof run).
  let random = Buffer.alloc(0);
  let offset = 0;
  const mintedSecond = timeSegment(now * 1000); // as the codec's digests start
  const randomDigest = () => {
    if (offset === random.length) [random, offset] = [randomBytes(65_536), 0];
    offset += 32;
    return mintedSecond + random.toString('base64url', offset - 32, offset);
  };
  const batch = 250_000;
  for (let start = 0; start < total; start += batch) {
    inTransaction(db, () => {
      for (let i = start; i < Math.min(total, start + batch); i++) {
        const grantId = randomUUIDv7(); // as grants/authorization-code.ts mints them
        insertGrant.run(grantId, client.id, SEEDED_GRANTS_USER.id, randomUUID(), BENCH_SCOPE, now);
        insertToken.run(randomDigest(), randomUUIDv7(), 'access', grantId, client.id, BENCH_SCOPE, now, now + 900);
        let refreshDigest: string;
        if (i % stride === 0 && refreshTokens.length < poolSize) {
          const minted = codec.mint('grt');
          refreshTokens.push(minted.value);
          refreshDigest = minted.digest;
        } else {
          refreshDigest = randomDigest();
        }
        insertToken.run(refreshDigest, randomUUID(), 'refresh', grantId, client.id, BENCH_SCOPE, now, now + 60 * 24 * 60 * 60);
      }
    });
  }
  switchJournalMode(db, 'wal');
  db.close();
  return { refreshTokens, seconds: (performance.now() - started) / 1000 };
}
