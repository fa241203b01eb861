/**
 * The user store (storage.ts `users`): the people who sign in.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ContractBackend, userRecord } from './fixtures.ts';

export function usersContract({ withStorage }: ContractBackend): void {
  describe('users', () => {
    it('stores a user and finds it by id', withStorage(async (storage) => {
      const user = userRecord();
      await storage.users.create(user);
      assert.deepEqual(await storage.users.find(user.userId), user);
      assert.equal(await storage.users.find(randomUUID()), undefined);
    }));

    it('finds a user by e-mail case-insensitively', withStorage(async (storage) => {
      const user = userRecord({ email: 'Alice.Admin@Example.COM' });
      await storage.users.create(user);
      assert.deepEqual(await storage.users.findByEmail('alice.admin@example.com'), user);
      assert.deepEqual(await storage.users.findByEmail('ALICE.ADMIN@EXAMPLE.COM'), user);
      assert.deepEqual(await storage.users.findByEmail('Alice.Admin@Example.COM'), user);
      assert.equal(await storage.users.findByEmail('bob@example.com'), undefined);
    }));

    it('refuses a second user whose e-mail differs only in case (so findByEmail is unambiguous)', withStorage(async (storage) => {
      await storage.users.create(userRecord({ email: 'alice@example.com' }));
      await assert.rejects(storage.users.create(userRecord({ email: 'ALICE@example.com' })));
    }));

    it('folds non-ASCII letters too, alike on both databases (migration 43): "Øystein@" is found as "øystein@", and "Émile@" and "émile@" are one', withStorage(async (storage) => {
      const oystein = userRecord({ email: 'Øystein@example.no' });
      await storage.users.create(oystein);
      assert.deepEqual(await storage.users.findByEmail('øystein@example.no'), oystein);
      assert.deepEqual(await storage.users.findByEmail('ØYSTEIN@EXAMPLE.NO'), oystein);
      // Greek: a capital sigma at a word's end is found as typed in capitals and with the final ς a person types.
      const odos = userRecord({ email: 'ΟΔΟΣ@example.gr' });
      await storage.users.create(odos);
      for (const typed of ['ΟΔΟΣ@example.gr', 'οδος@example.gr', 'Οδος@EXAMPLE.GR']) assert.deepEqual(await storage.users.findByEmail(typed), odos, typed);
      // The login throttle's key (users.foldEmail): one for every spelling that finds a user, none that depends on
      // whether a user exists (PostgreSQL's lower() and JavaScript differ for İ, and for a final ς).
      const found = ['ΟΔΟΣ@example.gr', 'οδος@example.gr', 'Οδος@EXAMPLE.GR'];
      assert.equal(new Set(await Promise.all(found.map((typed) => storage.users.foldEmail(typed)))).size, 1);
      const alice = userRecord({ email: 'alice.i@example.com' });
      await storage.users.create(alice);
      for (const typed of ['ALICE.I@example.com', 'alİce.i@example.com']) {
        if (await storage.users.findByEmail(typed)) assert.equal(await storage.users.foldEmail(typed), await storage.users.foldEmail(alice.email), typed);
      }
      assert.equal(await storage.users.foldEmail('nobody.İ@example.com'), await storage.users.foldEmail('nobody.İ@example.com'));
      // A NUL (which PostgreSQL text cannot hold) finds no one and folds without an error.
      assert.equal(await storage.users.findByEmail('alice.i@example.com\u0000'), undefined);
      assert.equal(typeof await storage.users.foldEmail('a\u0000b@example.com'), 'string');
      await storage.users.create(userRecord({ email: 'Émile@example.com' }));
      await assert.rejects(storage.users.create(userRecord({ email: 'émile@example.com' })));
    }));
  });
}
