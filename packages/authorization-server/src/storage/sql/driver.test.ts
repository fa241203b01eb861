import assert from 'node:assert/strict';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import { describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresDriver } from '../postgres/postgres-driver.ts';
import { createSqliteDriver } from '../sqlite/sqlite-driver.ts';
import { dropTestSchema, newTestSchema, postgresSkipReason, TEST_DATABASE_URL } from '../../testing/postgres.ts';
import { numberPlaceholders, type SqlDriver } from './driver.ts';

/** What every driver must do, on a table `items (name TEXT PRIMARY KEY, quantity INTEGER NOT NULL)`. */
function driverContract(name: string, open: () => Promise<{ driver: SqlDriver; close(): Promise<void> }>, skip: string | false = false) {
  describe(`SQL driver: ${name}`, { skip }, () => {
    it('runs plain statements with ? placeholders and reports the rows changed', async () => {
      const { driver, close } = await open();
      try {
        assert.equal((await driver.run('INSERT INTO items (name, quantity) VALUES (?, ?), (?, ?)', ['pen', 2, 'cup', 5])).changes, 2);
        assert.equal((await driver.run('INSERT INTO items (name, quantity) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', ['pen', 9])).changes, 0);
        assert.equal(Number((await driver.get('SELECT quantity FROM items WHERE name = ?', ['pen']))?.quantity), 2);
        assert.equal(await driver.get('SELECT quantity FROM items WHERE name = ?', ['ink']), undefined);
        assert.deepEqual((await driver.all('SELECT name FROM items ORDER BY name')).map((row) => row.name), ['cup', 'pen']);
      } finally {
        await close();
      }
    });

    it('commits a transaction body as a whole and hands each statement its answer', async () => {
      const { driver, close } = await open();
      try {
        const outcome = await driver.transaction(function* (tx) {
          yield* tx.run('INSERT INTO items (name, quantity) VALUES (?, ?)', ['pen', 1]);
          const row = yield* tx.get('SELECT quantity FROM items WHERE name = ?', ['pen']);
          const moved = yield* tx.run('UPDATE items SET quantity = ? WHERE name = ?', [Number(row?.quantity) + 1, 'pen']);
          return { dialect: tx.dialect, moved: moved.changes };
        });
        assert.deepEqual(outcome, { dialect: driver.dialect, moved: 1 });
        assert.equal(Number((await driver.get('SELECT quantity FROM items WHERE name = ?', ['pen']))?.quantity), 2);
      } finally {
        await close();
      }
    });

    it('rolls every statement of a failing body back and rethrows its error', async () => {
      const { driver, close } = await open();
      try {
        await assert.rejects(driver.transaction(function* (tx) {
          yield* tx.run('INSERT INTO items (name, quantity) VALUES (?, ?)', ['pen', 1]);
          throw new Error('changed my mind');
        }), /changed my mind/);
        await assert.rejects(driver.transaction(function* (tx) {
          yield* tx.run('INSERT INTO items (name, quantity) VALUES (?, ?)', ['cup', 1]);
          yield* tx.run('INSERT INTO items (name, quantity) VALUES (?, ?)', ['cup', 2]); // duplicate key
        }));
        assert.deepEqual(await driver.all('SELECT name FROM items'), [], 'nothing of either body stayed');
      } finally {
        await close();
      }
    });

    it('lets a body catch a failed statement where it yielded it', async () => {
      const { driver, close } = await open();
      try {
        const outcome = await driver.transaction(function* (tx) {
          yield* tx.run('INSERT INTO items (name, quantity) VALUES (?, ?)', ['pen', 1]);
          try {
            yield* tx.get('SELECT * FROM no_such_table');
            return 'not reached';
          } catch {
            return 'caught';
          }
        });
        assert.equal(outcome, 'caught');
      } finally {
        await close();
      }
    });
  });
}

driverContract('sqlite', async () => {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE items (name TEXT PRIMARY KEY, quantity INTEGER NOT NULL)');
  const driver = createSqliteDriver({
    get: (text, ...params: SQLInputValue[]) => db.prepare(text).get(...params) as Record<string, SQLInputValue> | undefined,
    all: (text, ...params: SQLInputValue[]) => db.prepare(text).all(...params) as Record<string, SQLInputValue>[],
    run: (text, ...params: SQLInputValue[]) => db.prepare(text).run(...params),
    transaction(work) {
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = work();
        db.exec('COMMIT');
        return result;
      } catch (error) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw error;
      }
    },
  });
  return { driver, close: async () => db.close() };
});

driverContract('postgres', async () => {
  const schema = newTestSchema();
  const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2, options: `-c search_path=${schema}` });
  await pool.query(`CREATE SCHEMA ${schema}`);
  await pool.query('CREATE TABLE items (name TEXT PRIMARY KEY, quantity INTEGER NOT NULL)');
  const driver = createPostgresDriver({
    query: (text, params) => pool.query(text, params),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      } finally {
        client.release();
      }
    },
  });
  return { driver, close: async () => { await pool.end(); await dropTestSchema(schema); } };
}, await postgresSkipReason());

describe('numberPlaceholders', () => {
  it('numbers ? placeholders in order for PostgreSQL', () => {
    assert.equal(numberPlaceholders('SELECT * FROM t WHERE a = ? AND b IN (?, ?)'), 'SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)');
    assert.equal(numberPlaceholders('SELECT 1'), 'SELECT 1');
  });
});
