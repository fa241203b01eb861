/**
 * Backups of the embedded SQLite database (issue 14, "Keep the data"): `gatehouse backup FILE` and
 * `gatehouse restore FILE`. PostgreSQL deployments use `pg_dump` or continuous archiving (PITR) instead;
 * see the README's "Operating" section.
 *
 * A backup is `VACUUM INTO` on its own connection: one read transaction, so the copy is consistent
 * (every committed rotation before it, none after) while the server keeps serving (WAL mode lets writers
 * go on), and compact. It holds every digest, grant and audit event, and the settings: the JWT signing
 * keys and the rotated token HMAC keys (not `GATEHOUSE_TOKEN_KEY`, which lives in the environment). Keep
 * backups as secret as the database itself.
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';

export interface BackupSummary {
  /** Size of the backup file in bytes. */
  bytes: number;
  /** The highest schema migration the copy carries. */
  schemaVersion: number;
}

/** Opens `path` read-only and checks it is an intact Gatehouse database. @throws Error saying what is wrong. */
function inspect(path: string): BackupSummary {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const integrity = db.prepare('PRAGMA integrity_check').get() as { integrity_check?: string } | undefined;
    if (integrity?.integrity_check !== 'ok') throw new Error(`${path} failed the SQLite integrity check`);
    const hasMigrations = db.prepare("SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!hasMigrations) throw new Error(`${path} is not a Gatehouse database (no schema_migrations table)`);
    const version = db.prepare('SELECT max(version) AS version FROM schema_migrations').get() as { version: number | null };
    return { bytes: statSync(path).size, schemaVersion: Number(version.version ?? 0) };
  } finally {
    db.close();
  }
}

/**
 * Copies the SQLite database at `databasePath` into `backupPath` (which must not exist), online.
 * @throws Error when the database is missing, the target exists, or the copy fails its integrity check.
 */
export function backupSqliteDatabase(databasePath: string, backupPath: string): BackupSummary {
  if (!existsSync(databasePath)) throw new Error(`no database at ${databasePath}`);
  if (existsSync(backupPath)) throw new Error(`${backupPath} exists already; a backup never overwrites a file`);
  const db = new DatabaseSync(databasePath);
  try {
    db.exec('PRAGMA busy_timeout = 5000');
    db.prepare('VACUUM INTO ?').run(backupPath);
  } finally {
    db.close();
  }
  return inspect(backupPath);
}

/**
 * Replaces the SQLite database at `databasePath` with the backup at `backupPath`. Every server using the
 * database must be stopped first (a running one keeps the old file open and would go on writing to it).
 * The backup is checked before anything is touched; the old database's `-wal` and `-shm` files are removed
 * (left, SQLite would replay the old log onto the restored file).
 * @param options.force replace an existing database; without it an existing database is an error.
 * @throws Error when the backup is not an intact Gatehouse database, or the database exists without `force`.
 */
export function restoreSqliteDatabase(backupPath: string, databasePath: string, options: { force?: boolean } = {}): BackupSummary {
  const summary = inspect(backupPath);
  if (existsSync(databasePath) && !options.force) throw new Error(`${databasePath} exists; stop every server using it, then restore with --force`);
  // Copy next to the target, then rename: the database is the old one or the restored one, never half of each.
  const staging = `${databasePath}.restoring`;
  rmSync(staging, { force: true });
  const source = new DatabaseSync(backupPath, { readOnly: true });
  try {
    source.prepare('VACUUM INTO ?').run(staging);
  } finally {
    source.close();
  }
  for (const suffix of ['-wal', '-shm']) rmSync(`${databasePath}${suffix}`, { force: true });
  renameSync(staging, databasePath);
  return summary;
}
