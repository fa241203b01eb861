/**
 * The interaction store (storage.ts `interactions`, SPEC decision 11).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActiveLoginSession, InteractionRecord, Storage } from '../storage.ts';
import { type ContractBackend, type Fixture, NOW, codeRecord, companyRecord, digest, fixture } from './fixtures.ts';

export function interactionsContract({ withStorage }: ContractBackend): void {
  describe('interactions (SPEC decision 11: the consent request kept server-side, bound to a session, single use)', () => {
    /** A login session of the fixture's user, active until NOW + 3600. */
    const sessionOf = async (storage: Storage, f: Fixture): Promise<ActiveLoginSession> => {
      const session = { sessionDigest: digest(), userId: f.user.userId, createdAt: NOW - 10, expiresAt: NOW + 3600 };
      await storage.loginSessions.create(session);
      return { ...session, authenticatedAt: session.createdAt, lastSeenAt: session.createdAt, user: { ...f.user, locale: null } };
    };
    const interactionRecord = (f: Fixture, session: ActiveLoginSession, overrides: Partial<InteractionRecord> = {}): InteractionRecord => ({
      interactionDigest: digest(), sessionDigest: session.sessionDigest, clientId: f.client.clientId,
      requestParameters: { response_type: 'code', client_id: f.client.clientId, redirect_uri: f.client.redirectUris[0]!, scope: 'users:read', state: 'a b&c=d"é' },
      createdAt: NOW, expiresAt: NOW + 600, ...overrides,
    });

    it('consume returns the stored request with its session once, for its own session, then nothing', withStorage(async (storage) => {
      const f = await fixture(storage);
      const session = await sessionOf(storage, f);
      const interaction = interactionRecord(f, session);
      await storage.interactions.create(interaction);
      assert.deepEqual(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 1), { interaction, session });
      assert.equal(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 2), undefined);
    }));

    it("consume by another session gets nothing and leaves it for its own session", withStorage(async (storage) => {
      const f = await fixture(storage);
      const session = await sessionOf(storage, f);
      const other = await sessionOf(storage, f);
      const interaction = interactionRecord(f, session);
      await storage.interactions.create(interaction);
      assert.equal(await storage.interactions.consume(interaction.interactionDigest, other.sessionDigest, NOW + 1), undefined);
      assert.equal(await storage.interactions.consume(interaction.interactionDigest, digest(), NOW + 1), undefined);
      assert.deepEqual(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 1), { interaction, session });
    }));

    it('consume gets nothing and leaves it unused while its session is not active: expired, deleted (logout), its user deleted', withStorage(async (storage) => {
      const f = await fixture(storage);
      const session = await sessionOf(storage, f);
      const interaction = interactionRecord(f, session, { expiresAt: NOW + 7200 });
      await storage.interactions.create(interaction);
      // The session ends at NOW + 3600, the interaction later.
      assert.equal(await storage.interactions.consume(interaction.interactionDigest, session.sessionDigest, NOW + 3600), undefined);
      assert.deepEqual((await storage.interactions.consume(interaction.interactionDigest, session.sessionDigest, NOW + 3599))?.interaction, interaction, 'the refusal used nothing up');

      const loggedOut = interactionRecord(f, await sessionOf(storage, f));
      await storage.interactions.create(loggedOut);
      await storage.loginSessions.delete(loggedOut.sessionDigest);
      assert.equal(await storage.interactions.consume(loggedOut.interactionDigest, loggedOut.sessionDigest, NOW + 1), undefined);

      const deletedUser = interactionRecord(f, await sessionOf(storage, f));
      await storage.interactions.create(deletedUser);
      await storage.directory.deleteUser(f.user.userId, NOW + 1);
      // deleteUser ends the user's sessions; a session left behind by a login racing it is no session either.
      await storage.loginSessions.create({ sessionDigest: deletedUser.sessionDigest, userId: f.user.userId, createdAt: NOW, expiresAt: NOW + 3600 });
      assert.equal(await storage.interactions.consume(deletedUser.interactionDigest, deletedUser.sessionDigest, NOW + 2), undefined);
    }));

    it('createInSession stores the interaction with the session read when its user administers a subject of the type, and returns the session with those subjects (issue 12)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const second = companyRecord({ name: 'Aalborg Revision A/S' }); // before the fixture's company by name
      await storage.subjects.create(second);
      await storage.subjects.addAdministrator(f.user.userId, second.subjectType, second.subjectId);
      const session = await sessionOf(storage, f);
      const interaction = interactionRecord(f, session);
      const found = await storage.interactions.createInSession(interaction, NOW, 'company');
      assert.deepEqual(found, { ...session, administeredSubjects: await storage.subjects.listAdministeredBy(f.user.userId, 'company'), interactionStored: true });
      assert.deepEqual(found?.administeredSubjects?.map((subject) => subject.subjectId), [second.subjectId, f.company.subjectId]);
      assert.deepEqual(await storage.interactions.consume(interaction.interactionDigest, session.sessionDigest, NOW + 1), { interaction, session });
    }));

    it('createInSession stores nothing when the user administers no subject of the type, or without an active session', withStorage(async (storage) => {
      const f = await fixture(storage);
      const session = await sessionOf(storage, f);
      const noOrganization = interactionRecord(f, session);
      assert.deepEqual(await storage.interactions.createInSession(noOrganization, NOW, 'organization'), { ...session, administeredSubjects: [], interactionStored: false });
      assert.equal(await storage.interactions.consume(noOrganization.interactionDigest, session.sessionDigest, NOW + 1), undefined, 'not stored');

      // The session ends at NOW + 3600: asked then, no session and nothing stored (not even for a consume while it was active).
      const late = interactionRecord(f, session);
      assert.equal(await storage.interactions.createInSession(late, NOW + 3600, 'company'), undefined);
      assert.equal(await storage.interactions.consume(late.interactionDigest, session.sessionDigest, NOW + 1), undefined, 'not stored');
      const unknown = interactionRecord(f, { ...session, sessionDigest: digest() });
      assert.equal(await storage.interactions.createInSession(unknown, NOW, 'company'), undefined);
    }));

    it('consume at or after expiresAt gets nothing; an unknown digest gets nothing', withStorage(async (storage) => {
      const f = await fixture(storage);
      const session = await sessionOf(storage, f);
      const interaction = interactionRecord(f, session);
      await storage.interactions.create(interaction);
      assert.equal(await storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 600), undefined);
      assert.equal(await storage.interactions.consume(digest(), interaction.sessionDigest, NOW), undefined);
    }));

    it('of 20 concurrent consumes of one interaction exactly one wins (atomic)', withStorage(async (storage) => {
      const f = await fixture(storage);
      const interaction = interactionRecord(f, await sessionOf(storage, f));
      await storage.interactions.create(interaction);
      const results = await Promise.all(Array.from({ length: 20 }, () => storage.interactions.consume(interaction.interactionDigest, interaction.sessionDigest, NOW + 1)));
      assert.equal(results.filter((result) => result !== undefined).length, 1);
    }));

    it('cleanup deletes expired interactions, used or not, and keeps live ones', withStorage(async (storage) => {
      const f = await fixture(storage);
      const session = await sessionOf(storage, f);
      const expired = interactionRecord(f, session, { expiresAt: NOW - 1 });
      const atBoundary = interactionRecord(f, session, { expiresAt: NOW });
      const usedExpired = interactionRecord(f, session, { createdAt: NOW - 700, expiresAt: NOW - 100 });
      const live = interactionRecord(f, session, { expiresAt: NOW + 1 });
      for (const interaction of [expired, atBoundary, usedExpired, live]) await storage.interactions.create(interaction);
      assert.ok(await storage.interactions.consume(usedExpired.interactionDigest, usedExpired.sessionDigest, NOW - 200));
      const result = await storage.cleanup.deleteExpired(NOW, 2);
      assert.equal(result.interactions, 3);
      assert.deepEqual((await storage.interactions.consume(live.interactionDigest, live.sessionDigest, NOW))?.interaction, live);
    }));

    describe('the consent decision in one operation (issue 12: peek, consumeWithCode)', () => {
      const consentEvent = (f: Fixture) => ({ type: 'consent.granted', at: NOW + 1, actor: `user:${f.user.userId}`, clientId: f.client.clientId, details: { scope: 'users:read' } });
      const codeFound = async (storage: Storage, f: Fixture, codeDigest: string) => (await storage.authorizationCodes.find(codeDigest, f.client.clientId))?.code;
      const consentEvents = async (storage: Storage) => (await storage.audit.list({ limit: 1000 })).filter((event) => event.type === 'consent.granted').length;

      it('consumeWithCode takes the interaction with its session once and stores the code with its audit event; a second call gets nothing and stores nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const session = await sessionOf(storage, f);
        const interaction = interactionRecord(f, session);
        await storage.interactions.create(interaction);
        const code = codeRecord(f, { issuedAt: NOW + 1, expiresAt: NOW + 61 });
        assert.deepEqual(await storage.interactions.consumeWithCode(interaction.interactionDigest, session.sessionDigest, NOW + 1, code, consentEvent(f)), { interaction, session, codeCreated: true });
        assert.deepEqual(await codeFound(storage, f, code.codeDigest), code);
        assert.equal(await consentEvents(storage), 1);
        const again = codeRecord(f, { issuedAt: NOW + 2 });
        assert.equal(await storage.interactions.consumeWithCode(interaction.interactionDigest, session.sessionDigest, NOW + 2, again, consentEvent(f)), undefined);
        assert.equal(await codeFound(storage, f, again.codeDigest), undefined);
        assert.equal(await consentEvents(storage), 1);
      }));

      it('consumeWithCode uses the interaction but stores no code and no event when the user does not administer the subject, or the code names another user', withStorage(async (storage) => {
        const f = await fixture(storage);
        const session = await sessionOf(storage, f);
        const notAdministered = companyRecord({ name: 'Fremmed ApS' });
        await storage.subjects.create(notAdministered);
        const cases = [codeRecord(f, { subjectId: notAdministered.subjectId }), codeRecord(f, { userId: (await fixture(storage)).user.userId })];
        for (const code of cases) {
          const interaction = interactionRecord(f, session);
          await storage.interactions.create(interaction);
          assert.deepEqual(await storage.interactions.consumeWithCode(interaction.interactionDigest, session.sessionDigest, NOW + 1, code, consentEvent(f)), { interaction, session, codeCreated: false });
          assert.equal(await codeFound(storage, f, code.codeDigest), undefined);
          assert.equal(await storage.interactions.consume(interaction.interactionDigest, session.sessionDigest, NOW + 1), undefined, 'used all the same');
        }
        assert.equal(await consentEvents(storage), 0);
      }));

      it('consumeWithCode changes nothing where consume gets nothing: another session, an ended session, an expired interaction', withStorage(async (storage) => {
        const f = await fixture(storage);
        const session = await sessionOf(storage, f);
        const other = await sessionOf(storage, f);
        const interaction = interactionRecord(f, session, { expiresAt: NOW + 7200 });
        await storage.interactions.create(interaction);
        const code = codeRecord(f);
        for (const [sessionDigest, at] of [[other.sessionDigest, NOW + 1], [session.sessionDigest, NOW + 3600], [digest(), NOW + 1]] as const) {
          assert.equal(await storage.interactions.consumeWithCode(interaction.interactionDigest, sessionDigest, at, code, consentEvent(f)), undefined);
        }
        const expired = interactionRecord(f, session);
        await storage.interactions.create(expired);
        assert.equal(await storage.interactions.consumeWithCode(expired.interactionDigest, session.sessionDigest, NOW + 600, code, consentEvent(f)), undefined);
        assert.equal(await codeFound(storage, f, code.codeDigest), undefined);
        assert.equal(await consentEvents(storage), 0);
        assert.deepEqual(await storage.interactions.consume(interaction.interactionDigest, session.sessionDigest, NOW + 1), { interaction, session }, 'left unused');
      }));

      it('of 12 concurrent consumeWithCode calls for one interaction exactly one stores its code', withStorage(async (storage) => {
        const f = await fixture(storage);
        const session = await sessionOf(storage, f);
        const interaction = interactionRecord(f, session);
        await storage.interactions.create(interaction);
        const codes = Array.from({ length: 12 }, () => codeRecord(f));
        const results = await Promise.all(codes.map((code) => storage.interactions.consumeWithCode(interaction.interactionDigest, session.sessionDigest, NOW + 1, code, consentEvent(f))));
        assert.equal(results.filter((result) => result?.codeCreated).length, 1);
        assert.equal(results.filter((result) => result === undefined).length, 11);
        assert.equal((await Promise.all(codes.map((code) => codeFound(storage, f, code.codeDigest)))).filter(Boolean).length, 1);
        assert.equal(await consentEvents(storage), 1);
      }));

      it('peek reads the interaction and its session\'s user for its own session while unused and unexpired, and changes nothing', withStorage(async (storage) => {
        const f = await fixture(storage);
        const session = await sessionOf(storage, f);
        const other = await sessionOf(storage, f);
        // Both ways an interaction is stored (createInSession is what PostgreSQL remembers).
        const plain = interactionRecord(f, session);
        await storage.interactions.create(plain);
        const inSession = interactionRecord(f, session);
        assert.equal((await storage.interactions.createInSession(inSession, NOW, 'company'))?.interactionStored, true);
        for (const interaction of [plain, inSession]) {
          assert.deepEqual(await storage.interactions.peek(interaction.interactionDigest, session.sessionDigest, NOW + 1), { interaction, userId: f.user.userId });
          assert.equal(await storage.interactions.peek(interaction.interactionDigest, other.sessionDigest, NOW + 1), undefined);
          assert.equal(await storage.interactions.peek(interaction.interactionDigest, session.sessionDigest, NOW + 600), undefined);
          assert.deepEqual(await storage.interactions.consume(interaction.interactionDigest, session.sessionDigest, NOW + 1), { interaction, session }, 'peek took nothing');
          assert.equal(await storage.interactions.peek(interaction.interactionDigest, session.sessionDigest, NOW + 1), undefined, 'used');
        }
        assert.equal(await storage.interactions.peek(digest(), session.sessionDigest, NOW + 1), undefined);
      }));
    });
  });
}
