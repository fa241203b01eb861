/**
 * A client checked out of a `pg` pool with an `'error'` listener for as long as it is out. pg-pool
 * detaches its own listener on checkout, and a connection that dies while checked out (the backend
 * terminated, the database restarted, the network cut) emits `'error'`: without a listener that ends the
 * process. `release(error?)` hands the client back with the error it met (its own or the one given), so
 * the pool discards a broken connection instead of reusing it (pg-pool README, "releasing clients").
 *
 * The callback form of `pool.connect`: the listener is attached in the checkout's own tick, since the
 * backend's termination notice may already sit in the socket chunk being parsed when the pool hands the
 * client over, one microtask before an `await pool.connect()` would resume.
 */
import type { Pool, PoolClient } from 'pg';

export function checkOutPooled(pool: Pool): Promise<{ client: PoolClient; release(error?: Error | boolean): void }> {
  return new Promise((resolve, reject) => {
    pool.connect((connectError, client, done) => {
      if (connectError || !client) {
        reject(connectError ?? new Error('the pool gave no client'));
        return;
      }
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken ??= error;
      };
      client.on('error', onError);
      resolve({
        client,
        release(error) {
          client.removeListener('error', onError);
          done(error || broken);
        },
      });
    });
  });
}
