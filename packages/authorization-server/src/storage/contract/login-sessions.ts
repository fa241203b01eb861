/**
 * The login-session store (storage.ts `loginSessions`, issue 10 §4): sessions stored by digest, with their device.
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SubjectRecord } from '../storage.ts';
import { type ContractBackend, NOW, companyRecord, digest, userRecord } from './fixtures.ts';

export function loginSessionsContract({ withStorage }: ContractBackend): void {
  describe('loginSessions', () => {
    it('finds a session while now < expiresAt, and not from expiresAt on', withStorage(async (storage) => {
      const user = userRecord();
      await storage.users.create(user);
      const session = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
      await storage.loginSessions.create(session);
      assert.deepEqual(await storage.loginSessions.findActive(session.sessionDigest, NOW), { ...session, authenticatedAt: NOW, lastSeenAt: NOW, user: { ...user, locale: null } });
      assert.deepEqual(await storage.loginSessions.findActive(session.sessionDigest, NOW + 3599), { ...session, authenticatedAt: NOW, lastSeenAt: NOW, user: { ...user, locale: null } });
      assert.equal(await storage.loginSessions.findActive(session.sessionDigest, NOW + 3600), undefined);
      assert.equal(await storage.loginSessions.findActive(session.sessionDigest, NOW + 7200), undefined);
      assert.equal(await storage.loginSessions.findActive(digest(), NOW), undefined);
    }));

    it('keeps the time the person authenticated when it is not the start (a sign-in at the identity provider): 0 for unknown', withStorage(async (storage) => {
      const user = userRecord();
      await storage.users.create(user);
      for (const authenticatedAt of [0, NOW - 600]) {
        const session = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600, authenticatedAt };
        await storage.loginSessions.create(session);
        assert.equal((await storage.loginSessions.findActive(session.sessionDigest, NOW))?.authenticatedAt, authenticatedAt);
        const withDevice = { ...session, sessionDigest: digest(), device: 'Firefox on Linux' };
        await storage.loginSessions.createWithDevice(withDevice);
        assert.equal((await storage.loginSessions.findActive(withDevice.sessionDigest, NOW, 'company'))?.authenticatedAt, authenticatedAt);
      }
    }));

    it('finds a session with its live user and the directory\'s locale, in one read; not once the user is deleted', withStorage(async (storage) => {
      const user = userRecord();
      await storage.users.create(user);
      const session = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
      await storage.loginSessions.create(session);
      assert.notEqual(await storage.directory.updateUser(user.userId, { locale: 'de' }, NOW + 1), 'not_found');
      assert.deepEqual((await storage.loginSessions.findActive(session.sessionDigest, NOW + 2))?.user, { ...user, locale: 'de' });
      // A session left behind by a login racing the deletion signs nobody in.
      await storage.directory.deleteUser(user.userId, NOW + 3);
      const leftBehind = { ...session, sessionDigest: digest() };
      await storage.loginSessions.create(leftBehind);
      assert.equal(await storage.loginSessions.findActive(leftBehind.sessionDigest, NOW + 4), undefined);
    }));

    it('finds a session with the subjects of one type its user administers, in one read, as subjects.listAdministeredBy lists them (issue 12)', withStorage(async (storage) => {
      const [user, other] = [userRecord(), userRecord()];
      await storage.users.create(user);
      await storage.users.create(other);
      // Names in byte order: upper case before lower case, whatever the database's collation.
      const [zeta, alpha, lower] = [companyRecord({ name: 'Zeta GmbH' }), companyRecord({ name: 'Alpha AG' }), companyRecord({ name: 'beta sarl' })];
      const organization: SubjectRecord = { subjectType: 'organization', subjectId: randomUUID(), name: 'Holding', organizationId: null };
      const notMine = companyRecord({ name: 'Another' });
      for (const subject of [zeta, alpha, lower, organization, notMine]) await storage.subjects.create(subject);
      for (const subject of [zeta, alpha, lower, organization]) await storage.subjects.addAdministrator(user.userId, subject.subjectType, subject.subjectId);
      await storage.subjects.addAdministrator(other.userId, notMine.subjectType, notMine.subjectId);
      const session = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
      await storage.loginSessions.create(session);
      const expected = { ...session, authenticatedAt: NOW, lastSeenAt: NOW, user: { ...user, locale: null } };
      const companies = await storage.subjects.listAdministeredBy(user.userId, 'company');
      assert.deepEqual(companies.map((company) => company.name), ['Alpha AG', 'Zeta GmbH', 'beta sarl']);
      assert.deepEqual(await storage.loginSessions.findActive(session.sessionDigest, NOW + 1, 'company'), { ...expected, administeredSubjects: companies });
      assert.deepEqual(await storage.loginSessions.findActive(session.sessionDigest, NOW + 1, 'organization'), { ...expected, administeredSubjects: [organization] });
      // None of the type: the session all the same, with an empty list.
      const loner = { sessionDigest: digest(), userId: other.userId, createdAt: NOW, expiresAt: NOW + 3600 };
      await storage.loginSessions.create(loner);
      assert.deepEqual((await storage.loginSessions.findActive(loner.sessionDigest, NOW + 1, 'organization'))?.administeredSubjects, []);
      // No session, no subjects: expired, unknown.
      assert.equal(await storage.loginSessions.findActive(session.sessionDigest, NOW + 3600, 'company'), undefined);
      assert.equal(await storage.loginSessions.findActive(digest(), NOW, 'company'), undefined);
      // Without the type, no list.
      assert.equal((await storage.loginSessions.findActive(session.sessionDigest, NOW + 1))?.administeredSubjects, undefined);
    }));

    it('deletes a session (logout) and leaves the others', withStorage(async (storage) => {
      const user = userRecord();
      await storage.users.create(user);
      const kept = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
      const deleted = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
      await storage.loginSessions.create(kept);
      await storage.loginSessions.create(deleted);
      await storage.loginSessions.delete(deleted.sessionDigest);
      assert.equal(await storage.loginSessions.findActive(deleted.sessionDigest, NOW), undefined);
      assert.deepEqual(await storage.loginSessions.findActive(kept.sessionDigest, NOW), { ...kept, authenticatedAt: kept.createdAt, lastSeenAt: NOW, user: { ...user, locale: null } });
      await storage.loginSessions.delete(digest()); // unknown: no error
    }));

    it('records the device and last use of a session; touch moves lastSeenAt forward at most once per interval (issue 10 §4)', withStorage(async (storage) => {
      const user = userRecord();
      await storage.users.create(user);
      const session = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
      await storage.loginSessions.createWithDevice({ ...session, device: 'Firefox on Linux' });
      assert.deepEqual(await storage.loginSessions.findActive(session.sessionDigest, NOW), { ...session, authenticatedAt: NOW, lastSeenAt: NOW, user: { ...user, locale: null } });
      assert.deepEqual(await storage.loginSessions.listActiveOfUser(user.userId, NOW), [{ ...session, device: 'Firefox on Linux', lastSeenAt: NOW }]);
      await storage.loginSessions.touch([{ id: session.sessionDigest, usedAt: NOW + 59 }], 60);
      assert.equal((await storage.loginSessions.listActiveOfUser(user.userId, NOW + 59))[0]!.lastSeenAt, NOW, 'not yet a minute');
      assert.equal((await storage.loginSessions.findActive(session.sessionDigest, NOW + 59))?.lastSeenAt, NOW, 'findActive tells the same');
      await storage.loginSessions.touch([{ id: session.sessionDigest, usedAt: NOW + 60 }], 60);
      assert.equal((await storage.loginSessions.findActive(session.sessionDigest, NOW + 60))?.lastSeenAt, NOW + 60);
      assert.equal((await storage.loginSessions.listActiveOfUser(user.userId, NOW + 60))[0]!.lastSeenAt, NOW + 60);
      await storage.loginSessions.touch([{ id: session.sessionDigest, usedAt: NOW + 100 }], 60);
      assert.equal((await storage.loginSessions.listActiveOfUser(user.userId, NOW + 100))[0]!.lastSeenAt, NOW + 60);
      await storage.loginSessions.touch([{ id: digest(), usedAt: NOW + 100 }], 60); // unknown: no error
      await storage.loginSessions.touch([], 60);
    }));

    it('touch records many sessions\' visits in one call, each by its own interval; a session made by create counts from its creation', withStorage(async (storage) => {
      const user = userRecord();
      await storage.users.create(user);
      const withDevice = { sessionDigest: digest(), userId: user.userId, createdAt: NOW, expiresAt: NOW + 3600 };
      const plain = { sessionDigest: digest(), userId: user.userId, createdAt: NOW + 30, expiresAt: NOW + 3600 };
      await storage.loginSessions.createWithDevice({ ...withDevice, device: 'Firefox on Linux' });
      await storage.loginSessions.create(plain);
      await storage.loginSessions.touch([{ id: withDevice.sessionDigest, usedAt: NOW + 70 }, { id: plain.sessionDigest, usedAt: NOW + 70 }], 60);
      assert.equal((await storage.loginSessions.findActive(withDevice.sessionDigest, NOW + 70))?.lastSeenAt, NOW + 70);
      assert.equal((await storage.loginSessions.findActive(plain.sessionDigest, NOW + 70))?.lastSeenAt, NOW + 30, 'created 40 s before: not yet a minute');
      await storage.loginSessions.touch([{ id: plain.sessionDigest, usedAt: NOW + 90 }], 60);
      assert.equal((await storage.loginSessions.findActive(plain.sessionDigest, NOW + 90))?.lastSeenAt, NOW + 90);
    }));

    it('lists only the user\'s unexpired sessions, most recently seen first; a session made by create has no device and was last seen when created', withStorage(async (storage) => {
      const [alice, bob] = [userRecord(), userRecord()];
      await storage.users.create(alice);
      await storage.users.create(bob);
      const old = { sessionDigest: digest(), userId: alice.userId, createdAt: NOW - 100, expiresAt: NOW + 3600 };
      const recent = { sessionDigest: digest(), userId: alice.userId, createdAt: NOW - 50, expiresAt: NOW + 3600 };
      const expired = { sessionDigest: digest(), userId: alice.userId, createdAt: NOW - 7200, expiresAt: NOW };
      await storage.loginSessions.create(old);
      await storage.loginSessions.createWithDevice({ ...recent, device: 'Safari on iOS' });
      await storage.loginSessions.createWithDevice({ ...expired, device: 'Edge on Windows' });
      await storage.loginSessions.createWithDevice({ sessionDigest: digest(), userId: bob.userId, createdAt: NOW, expiresAt: NOW + 3600, device: 'Chrome on Android' });
      assert.deepEqual(await storage.loginSessions.listActiveOfUser(alice.userId, NOW), [
        { ...recent, device: 'Safari on iOS', lastSeenAt: NOW - 50 },
        { ...old, device: '', lastSeenAt: NOW - 100 },
      ]);
      await storage.loginSessions.touch([{ id: old.sessionDigest, usedAt: NOW }], 60);
      assert.deepEqual((await storage.loginSessions.listActiveOfUser(alice.userId, NOW)).map((s) => s.sessionDigest), [old.sessionDigest, recent.sessionDigest]);
      assert.deepEqual(await storage.loginSessions.listActiveOfUser(randomUUID(), NOW), []);
    }));

    it('deleteOthersOfUser ends every other session of that user at once, and no one else\'s', withStorage(async (storage) => {
      const [alice, bob] = [userRecord(), userRecord()];
      await storage.users.create(alice);
      await storage.users.create(bob);
      const session = (userId: string) => ({ sessionDigest: digest(), userId, createdAt: NOW, expiresAt: NOW + 3600, device: '' });
      const [kept, other1, other2, bobs] = [session(alice.userId), session(alice.userId), session(alice.userId), session(bob.userId)];
      for (const s of [kept, other1, other2, bobs]) await storage.loginSessions.createWithDevice(s);
      assert.equal(await storage.loginSessions.deleteOthersOfUser(alice.userId, kept.sessionDigest), 2);
      assert.deepEqual((await storage.loginSessions.listActiveOfUser(alice.userId, NOW)).map((s) => s.sessionDigest), [kept.sessionDigest]);
      assert.equal(await storage.loginSessions.findActive(other1.sessionDigest, NOW), undefined);
      assert.ok(await storage.loginSessions.findActive(bobs.sessionDigest, NOW), 'another user\'s session stays');
      assert.equal(await storage.loginSessions.deleteOthersOfUser(alice.userId, kept.sessionDigest), 0);
    }));
  });
}
