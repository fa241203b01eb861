/**
 * Storage calls of a flow with a login session (issue 12, bench "flow with session"): the consent page
 * reads the user's subjects once, the decision not at all unless it is refused (it reads its request, then
 * consumes it and stores the code in one operation), and a session's visit is recorded once per interval at most: within it the
 * stored `lastSeenAt` (read with the session) says a write would change nothing, so none is even noted
 * (sessions/login-session.ts). The visit still moves forward once the interval has passed, written by the
 * last-use recorder within a second, never on the page's path (issue 12).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { SESSION_LAST_SEEN_INTERVAL_SECONDS } from '../sessions/login-session.ts';
import { authorize, authorizeUrl, hiddenInputs, pkcePair, seed, startTestServer, type Browser, type TestServer } from '../testing/harness.ts';

interface Counts {
  listAdministeredBy: number; touch: number; findActive: number; findActiveWithSubjects: number; createInSession: number; create: number; consume: number;
  peek: number; consumeWithCode: number; createCode: number;
}

/** The storage with the session, subject and interaction reads counted, and the visits `loginSessions.touch` writes. */
function countedStorage(storage: Storage, counts: Counts): Storage {
  return {
    ...storage,
    subjects: { ...storage.subjects, listAdministeredBy: async (userId, subjectType) => {
      counts.listAdministeredBy++;
      return storage.subjects.listAdministeredBy(userId, subjectType);
    } },
    loginSessions: { ...storage.loginSessions, touch: async (visits, interval) => {
      counts.touch += visits.length;
      return storage.loginSessions.touch(visits, interval);
    }, findActive: async (sessionDigest, now, subjectType) => {
      if (subjectType === undefined) counts.findActive++;
      else counts.findActiveWithSubjects++;
      return storage.loginSessions.findActive(sessionDigest, now, subjectType);
    } },
    interactions: { ...storage.interactions, createInSession: async (interaction, now, subjectType) => {
      counts.createInSession++;
      return storage.interactions.createInSession(interaction, now, subjectType);
    }, create: async (interaction) => {
      counts.create++;
      return storage.interactions.create(interaction);
    }, consume: async (interactionDigest, sessionDigest, now) => {
      counts.consume++;
      return storage.interactions.consume(interactionDigest, sessionDigest, now);
    }, peek: async (interactionDigest, sessionDigest, now) => {
      counts.peek++;
      return storage.interactions.peek(interactionDigest, sessionDigest, now);
    }, consumeWithCode: async (interactionDigest, sessionDigest, now, code, auditEvent) => {
      counts.consumeWithCode++;
      return storage.interactions.consumeWithCode(interactionDigest, sessionDigest, now, code, auditEvent);
    } },
    authorizationCodes: { ...storage.authorizationCodes, create: async (code, auditEvent, options) => {
      counts.createCode++;
      return storage.authorizationCodes.create(code, auditEvent, options);
    } },
  };
}

describe('authorization endpoint: storage round trips with a login session (issue 12)', () => {
  const zero = (): Counts => ({
    listAdministeredBy: 0, touch: 0, findActive: 0, findActiveWithSubjects: 0, createInSession: 0, create: 0, consume: 0, peek: 0, consumeWithCode: 0, createCode: 0,
  });
  const counts = zero();
  const reset = () => Object.assign(counts, zero());
  let server: TestServer;
  let browser: Browser;
  before(async () => {
    // The visits are written by the tests' own flushes: the periodic one (every second by default) could land
    // between a page and the count on a loaded machine (seen in CI), so it waits its longest here.
    server = await startTestServer({ storage: countedStorage(createSqliteStorage(':memory:'), counts), lastUseFlushIntervalMs: 60_000 });
    ({ browser } = await authorize(server)); // logged in as alice
  });
  after(() => server?.close());

  const consentUrl = () => authorizeUrl(server, {
    response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri,
    scope: 'users:read', state: 'state-rt', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', prompt: 'consent',
  });
  const lastSeen = async () => (await server.storage.loginSessions.listActiveOfUser(seed.users.alice.id, server.clock.nowSeconds()))[0]!.lastSeenAt;

  it('reads the session with the user\'s subjects and stores the interaction in one operation for the consent page (prompt=consent), and the session with the interaction for the decision (the code\'s insert checks the subject chosen)', async () => {
    server.clock.advanceSeconds(SESSION_LAST_SEEN_INTERVAL_SECONDS);
    reset();
    const page = await browser.get(consentUrl());
    assert.equal(page.status, 200);
    assert.deepEqual(counts, { ...zero(), createInSession: 1 }, 'consent page: the visit is noted, not written on its path');
    await server.app.flushLastUses();
    assert.equal(counts.touch, 1, 'the visit, written by the last-use recorder');
    reset();
    const subject = /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const decision = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: 'allow' });
    assert.equal(decision.status, 303);
    assert.ok(new URL(decision.location!).searchParams.get('code'));
    // The request read (PostgreSQL: from memory, this instance stored it), then consumed with the code stored.
    assert.deepEqual(counts, { ...zero(), peek: 1, consumeWithCode: 1 }, 'decision');

    // A refused decision reads them, to say why (here: a company the user does not administer, that does not exist).
    const refusedPage = await browser.get(consentUrl());
    reset();
    const refused = await browser.post(`${server.url}/oauth/authorize/decision`, {
      ...hiddenInputs(refusedPage.text), subject: `urn:gatehouse:company:${randomUUID()}`, decision: 'allow',
    });
    assert.equal(new URL(refused.location!).searchParams.get('error'), 'access_denied');
    assert.deepEqual(counts, { ...zero(), peek: 1, consumeWithCode: 1, listAdministeredBy: 1 }, 'refused decision: the code is not tried twice');
    // A denial consumes the interaction alone.
    const deniedPage = await browser.get(consentUrl());
    reset();
    const denied = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(deniedPage.text), decision: 'deny' });
    assert.equal(new URL(denied.location!).searchParams.get('error'), 'access_denied');
    assert.deepEqual(counts, { ...zero(), consume: 1 }, 'denied');
  });

  it('writes a session\'s visit once per interval: no write at all within it, one once it has passed', async () => {
    server.clock.advanceSeconds(SESSION_LAST_SEEN_INTERVAL_SECONDS);
    counts.touch = 0;
    const page = await browser.get(consentUrl());
    assert.equal(page.status, 200);
    assert.equal(counts.touch, 0, 'noted, not written on the page\'s path');
    await server.app.flushLastUses();
    assert.equal(counts.touch, 1);
    assert.equal(await lastSeen(), server.clock.nowSeconds(), 'the visit is recorded');
    const subject = /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
    const decision = await browser.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: 'allow' });
    assert.equal(decision.status, 303);
    await server.app.flushLastUses();
    assert.equal(counts.touch, 1, 'the same second: no second write');

    server.clock.advanceSeconds(SESSION_LAST_SEEN_INTERVAL_SECONDS - 1);
    assert.equal((await browser.get(consentUrl())).status, 200);
    await server.app.flushLastUses();
    assert.equal(counts.touch, 1, 'a later second within the interval: no write sent');
    assert.equal(await lastSeen(), server.clock.nowSeconds() - SESSION_LAST_SEEN_INTERVAL_SECONDS + 1, 'within the interval: unchanged');

    server.clock.advanceSeconds(1);
    assert.equal((await browser.get(consentUrl())).status, 200);
    await server.app.flushLastUses();
    assert.equal(counts.touch, 2, 'the interval has passed: one write');
    assert.equal(await lastSeen(), server.clock.nowSeconds(), 'after the interval: moved forward');
  });
});
