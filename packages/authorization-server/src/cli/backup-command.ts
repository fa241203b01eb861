/**
 * `gatehouse backup FILE` and `gatehouse restore FILE [--force]` (issue 14): the SQLite database named by
 * GATEHOUSE_DATABASE (operations/backup.ts). With DATABASE_URL set they refuse and name pg_dump.
 */
import { loadConfiguration } from '../configuration.ts';
import { backupSqliteDatabase, restoreSqliteDatabase } from '../operations/backup.ts';

/** @returns the exit code. @throws RangeError for a usage error; Error when the backup or restore fails. */
export function backupCommand(command: 'backup' | 'restore', rest: string[], flags: { force: boolean | undefined; json: boolean | undefined }): number {
  if (rest.length !== 1) throw new RangeError(`"${command}" needs exactly one FILE`);
  if (flags.force && command !== 'restore') throw new RangeError('--force goes with restore');
  const configuration = loadConfiguration();
  if (configuration.database.kind !== 'sqlite') {
    throw new RangeError(`"${command}" works on SQLite; for PostgreSQL use pg_dump/pg_restore or continuous archiving (PITR), see the README`);
  }
  const file = rest[0]!;
  const summary = command === 'backup'
    ? backupSqliteDatabase(configuration.database.path, file)
    : restoreSqliteDatabase(file, configuration.database.path, { force: flags.force });
  if (flags.json) {
    console.log(JSON.stringify({ [command === 'backup' ? 'backup' : 'restored_from']: file, database: configuration.database.path, bytes: summary.bytes, schema_version: summary.schemaVersion }, null, 2));
  } else if (command === 'backup') {
    console.log(`Backed up ${configuration.database.path} to ${file} (${summary.bytes} bytes, schema version ${summary.schemaVersion}). Keep it as secret as the database: it holds the signing keys.`);
  } else {
    console.log(`Restored ${configuration.database.path} from ${file} (schema version ${summary.schemaVersion}); servers migrate it further on start.`);
  }
  return 0;
}
