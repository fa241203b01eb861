import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { LockTimeoutError } from '../errors.ts';
import { postgresSkipReason, POSTGRES_URL } from '../testing/services.ts';
import { advisoryKey, createPostgresLock } from './postgres.ts';

const skip = await postgresSkipReason();

describe('PostgreSQL advisory lock', { skip: skip ?? false }, () => {
  // Two pools stand for two processes: advisory locks exclude across sessions.
  let first: pg.Pool;
  let second: pg.Pool;
  const namespace = `client-test-${process.pid}-${Date.now()}`;
  before(() => {
    first = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    second = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
  });
  after(async () => {
    await first.end();
    await second.end();
  });

  async function waitUntilSomeoneWaits(key: string): Promise<void> {
    const objid = BigInt.asUintN(32, BigInt(advisoryKey(namespace, key)));
    for (;;) {
      const { rows } = await first.query("SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1", [objid.toString()]);
      if (rows[0].waiting > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('lets one session hold a key while another waits, then hands it over', async () => {
    const a = createPostgresLock({ pool: first, namespace });
    const b = createPostgresLock({ pool: second, namespace });
    const release = Promise.withResolvers<void>();
    const order: string[] = [];
    const holder = a.withLock('connection-1', async () => {
      order.push('a in');
      await release.promise;
      order.push('a out');
    });
    while (order.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const waiter = b.withLock('connection-1', async () => {
      order.push('b in');
    });
    await waitUntilSomeoneWaits('connection-1');
    assert.deepEqual(order, ['a in']);
    release.resolve();
    await Promise.all([holder, waiter]);
    assert.deepEqual(order, ['a in', 'a out', 'b in']);
  });

  it('gives up with LockTimeoutError after lockTimeoutMilliseconds, and releases a lock whose work threw', async () => {
    const a = createPostgresLock({ pool: first, namespace });
    const impatient = createPostgresLock({ pool: second, namespace, lockTimeoutMilliseconds: 50 });
    const release = Promise.withResolvers<void>();
    const entered = Promise.withResolvers<void>();
    const holder = a.withLock('connection-2', async () => {
      entered.resolve();
      await release.promise;
      throw new Error('work failed');
    });
    await entered.promise;
    await assert.rejects(impatient.withLock('connection-2', async () => 'never'), LockTimeoutError);
    release.resolve();
    await assert.rejects(holder, /work failed/);
    assert.equal(await impatient.withLock('connection-2', async () => 'free again'), 'free again');
  });
});
