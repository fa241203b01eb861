/**
 * Which driver errors count as "storage unavailable" (503) and which stay faults (500): precisely the
 * connection and resource failures (issue 11 item 3), nothing a statement did wrong.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { isPostgresUnavailable, postgresStorageError } from './postgres/postgres-unavailable.ts';
import { isSqliteUnavailable, sqliteStorageError } from './sqlite/sqlite-unavailable.ts';
import { isStorageUnavailable, StorageUnavailableError } from './storage-unavailable.ts';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
const sqliteError = (errcode: number, errstr: string) => Object.assign(new Error(errstr), { code: 'ERR_SQLITE_ERROR', errcode, errstr });

describe('PostgreSQL errors that mean unavailable', () => {
  const unavailable: [string, Error][] = [
    ['connection refused', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['connection reset', withCode('read ECONNRESET', 'ECONNRESET')],
    ['a host that does not resolve', withCode('getaddrinfo ENOTFOUND db', 'ENOTFOUND')],
    ['every address refused', new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], 'connect failed')],
    ['pg_terminate_backend (57P01)', withCode('terminating connection due to administrator command', '57P01')],
    ['crash shutdown (57P02)', withCode('terminating connection because of crash of another server process', '57P02')],
    ['starting up (57P03)', withCode('the database system is starting up', '57P03')],
    ['too many connections (53300)', withCode('sorry, too many clients already', '53300')],
    ['disk full (53100)', withCode('could not extend file', '53100')],
    ['connection failure (08006)', withCode('connection failure', '08006')],
    ['the socket ended', new Error('Connection terminated unexpectedly')],
    ['the pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['a connect timeout of a new connection', new Error('Connection terminated due to connection timeout')],
    ['a broken client used again', new Error('Client has encountered a connection error and is not queryable')],
    ['a statement cancelled by statement_timeout (57014): the database or a lock is stuck', withCode('canceling statement due to statement timeout', '57014')],
    ['connections refused by ALLOW_CONNECTIONS false (55000)', withCode('database "gatehouse" is not currently accepting connections', '55000')],
    ['the database dropped or renamed (3D000)', withCode('database "gatehouse" does not exist', '3D000')],
    ['the database dropped under a connection (57P04)', withCode('terminating connection due to database being dropped', '57P04')],
    ['the role refused (28000)', withCode('role "gatehouse" does not exist', '28000')],
    ['the password refused (28P01)', withCode('password authentication failed for user "gatehouse"', '28P01')],
    ['a standby after a failover (25006)', withCode('cannot execute INSERT in a read-only transaction', '25006')],
  ];
  for (const [name, error] of unavailable) {
    it(`treats ${name} as unavailable`, () => {
      assert.equal(isPostgresUnavailable(error), true);
      assert.ok(isStorageUnavailable(postgresStorageError(error)));
    });
  }
  const faults: [string, unknown][] = [
    ['a unique violation (23505)', withCode('duplicate key value violates unique constraint', '23505')],
    ['a syntax error (42601)', withCode('syntax error at or near', '42601')],
    ['a deadlock after retries (40P01)', withCode('deadlock detected', '40P01')],
    ['another object not in prerequisite state (55000)', withCode('cannot ALTER TABLE because it is being used by active queries', '55000')],
    ['a plain Error', new Error('something else')],
    ['a string', 'ECONNREFUSED'],
  ];
  for (const [name, error] of faults) {
    it(`leaves ${name} as it is (a 500)`, () => {
      assert.equal(isPostgresUnavailable(error), false);
      assert.equal(postgresStorageError(error), error);
    });
  }
  it('keeps a StorageUnavailableError as it is, with the driver error as its cause', () => {
    const cause = withCode('read ECONNRESET', 'ECONNRESET');
    const error = postgresStorageError(cause) as StorageUnavailableError;
    assert.equal(error.cause, cause);
    assert.equal(postgresStorageError(error), error);
  });
});

describe('SQLite errors that mean unavailable', () => {
  for (const [name, errcode] of [['SQLITE_BUSY', 5], ['SQLITE_BUSY_SNAPSHOT', 517], ['SQLITE_LOCKED', 6], ['SQLITE_NOMEM', 7], ['SQLITE_READONLY', 8],
    ['SQLITE_IOERR', 10], ['SQLITE_IOERR_WRITE', 778], ['SQLITE_FULL', 13], ['SQLITE_CANTOPEN', 14], ['SQLITE_PROTOCOL', 15]] as const) {
    it(`treats ${name} as unavailable`, () => {
      assert.equal(isSqliteUnavailable(sqliteError(errcode, name)), true);
      assert.ok(isStorageUnavailable(sqliteStorageError(sqliteError(errcode, name))));
    });
  }
  for (const [name, errcode] of [['SQLITE_ERROR', 1], ['SQLITE_CORRUPT', 11], ['SQLITE_CONSTRAINT', 19], ['SQLITE_CONSTRAINT_UNIQUE', 2067], ['SQLITE_MISMATCH', 20]] as const) {
    it(`leaves ${name} as it is (a 500)`, () => {
      assert.equal(isSqliteUnavailable(sqliteError(errcode, name)), false);
    });
  }
  it('reads a real node:sqlite SQLITE_BUSY as unavailable and a real constraint violation as a fault', () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-busy-'));
    const path = join(directory, 'busy.sqlite');
    const holder = new DatabaseSync(path);
    const other = new DatabaseSync(path);
    try {
      holder.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (id INTEGER PRIMARY KEY)');
      other.exec('PRAGMA busy_timeout = 0');
      holder.exec('BEGIN IMMEDIATE');
      assert.throws(() => other.exec('BEGIN IMMEDIATE'), (error) => isSqliteUnavailable(error));
      holder.exec('ROLLBACK');
      holder.exec('INSERT INTO t (id) VALUES (1)');
      assert.throws(() => holder.exec('INSERT INTO t (id) VALUES (1)'), (error) => !isSqliteUnavailable(error));
    } finally {
      other.close();
      holder.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
