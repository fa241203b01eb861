/**
 * Issue 11 items 3 and 21 at the authorization endpoint and the consent decision (SPEC decision 5,
 * RFC 6749 §4.1.2.1, RFC 9207): a failure after the redirect URI is established goes back to the client as a
 * redirect with `error=server_error` (or `temporarily_unavailable` when the storage is unreachable), `state`
 * and `iss`, never a 500 JSON body; before that it is an HTML page (503 with Retry-After, or 500), never a
 * redirect. Faults are injected into a real storage, on both backends.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StorageUnavailableError } from '../storage/storage-unavailable.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { authorize, authorizeUrl, Browser, hiddenInputs, pkcePair, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

/** Which storage call fails next, and with what; `undefined` = none. */
interface Faults {
  clientsFind?: Error;
  /** The consent page's read of the session with the user's subjects. */
  sessionWithSubjects?: Error;
  /** The code's write: `authorizationCodes.create`, or `interactions.consumeWithCode` at the consent decision. */
  codesCreate?: Error;
}

/** The storage with the calls above made to fail on demand (everything else untouched). */
function faultyStorage(storage: Storage, faults: Faults): Storage {
  return {
    ...storage,
    clients: { ...storage.clients, find: async (clientId) => {
      if (faults.clientsFind) throw faults.clientsFind;
      return storage.clients.find(clientId);
    } },
    loginSessions: { ...storage.loginSessions, findActive: async (sessionDigest, now, subjectType) => {
      if (faults.sessionWithSubjects && subjectType !== undefined) throw faults.sessionWithSubjects;
      return storage.loginSessions.findActive(sessionDigest, now, subjectType);
    } },
    authorizationCodes: { ...storage.authorizationCodes, create: async (code, auditEvent, options) => {
      if (faults.codesCreate) throw faults.codesCreate;
      return storage.authorizationCodes.create(code, auditEvent, options);
    } },
    // The consent decision stores its code with the interaction's consume (issue 12): the same write.
    interactions: { ...storage.interactions, consumeWithCode: async (interactionDigest, sessionDigest, now, code, auditEvent) => {
      if (faults.codesCreate) throw faults.codesCreate;
      return storage.interactions.consumeWithCode(interactionDigest, sessionDigest, now, code, auditEvent);
    } },
  };
}

const unreachable = () => new StorageUnavailableError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }));
const fault = () => new Error('a bug in a storage call');

const backends: { name: string; open: () => Promise<Storage>; skip: string | false }[] = [
  { name: 'SQLite', open: async () => createSqliteStorage(':memory:'), skip: false },
  { name: 'PostgreSQL', open: () => createTestPostgresStorage(), skip: await postgresSkipReason() },
];

for (const backend of backends) {
  describe(`authorization endpoint errors on ${backend.name} (issue 11 items 3 and 21)`, { skip: backend.skip }, () => {
    const faults: Faults = {};
    let server: TestServer;
    let signedIn: Browser;
    before(async () => {
      server = await startTestServer({ storage: faultyStorage(await backend.open(), faults) });
      ({ browser: signedIn } = await authorize(server)); // logged in as alice, one consent given
    });
    after(() => server?.close());

    const parameters = (extra: Record<string, string> = {}) => ({
      response_type: 'code', client_id: seed.confidentialClient.id, redirect_uri: seed.confidentialClient.redirectUri,
      scope: 'users:read', state: 'state-xyz', code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256', ...extra,
    });
    const consentEvents = async () => (await server.storage.audit.list({ limit: 1_000 })).filter((event) => event.type.startsWith('consent.')).length;
    /** A 303 to the registered redirect URI carrying `error`, the request's `state` and `iss`, and no `code`. */
    const assertErrorRedirect = (response: { status: number; location: string | undefined; headers: Headers }, error: string) => {
      assert.equal(response.status, 303);
      const location = new URL(response.location!);
      assert.equal(`${location.origin}${location.pathname}`, seed.confidentialClient.redirectUri);
      assert.equal(location.searchParams.get('error'), error);
      assert.equal(location.searchParams.get('state'), 'state-xyz');
      assert.equal(location.searchParams.get('iss'), server.issuer);
      assert.equal(location.searchParams.get('code'), null, 'no code');
      assert.equal(response.headers.get('cache-control'), 'no-store');
    };

    it('redirects a server error after the redirect URI is validated with error=server_error, state and iss, not a 500 JSON body (RFC 6749 §4.1.2.1)', async () => {
      faults.sessionWithSubjects = fault();
      try {
        assertErrorRedirect(await signedIn.get(authorizeUrl(server, parameters())), 'server_error');
      } finally {
        faults.sessionWithSubjects = undefined;
      }
    });

    it('redirects an unreachable storage after the redirect URI is validated with error=temporarily_unavailable, state and iss (SPEC decision 18)', async () => {
      faults.sessionWithSubjects = unreachable();
      try {
        assertErrorRedirect(await signedIn.get(authorizeUrl(server, parameters())), 'temporarily_unavailable');
      } finally {
        faults.sessionWithSubjects = undefined;
      }
    });

    it('redirects a server error at the consent decision with error=server_error, state and iss; no code is issued and no consent recorded', async () => {
      const page = await signedIn.get(authorizeUrl(server, parameters({ prompt: 'consent' })));
      assert.equal(page.status, 200);
      const subject = /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
      const before = await consentEvents();
      faults.codesCreate = fault();
      try {
        const decision = await signedIn.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: 'allow' });
        assertErrorRedirect(decision, 'server_error');
      } finally {
        faults.codesCreate = undefined;
      }
      assert.equal(await consentEvents(), before, 'no consent recorded');
    });

    it('redirects an unreachable storage at the consent decision with error=temporarily_unavailable, state and iss; no code is issued', async () => {
      const page = await signedIn.get(authorizeUrl(server, parameters({ prompt: 'consent' })));
      const subject = /<option value="([^"]+)"/.exec(page.text)?.[1] ?? '';
      faults.codesCreate = unreachable();
      try {
        assertErrorRedirect(await signedIn.post(`${server.url}/oauth/authorize/decision`, { ...hiddenInputs(page.text), subject, decision: 'allow' }), 'temporarily_unavailable');
      } finally {
        faults.codesCreate = undefined;
      }
    });

    it('answers an unreachable storage before the redirect URI is validated with a 503 HTML page and Retry-After, never a redirect (SPEC decision 5)', async () => {
      faults.clientsFind = unreachable();
      try {
        const response = await new Browser().get(authorizeUrl(server, parameters()));
        assert.equal(response.status, 503);
        assert.equal(response.location, undefined, 'no redirect');
        assert.match(response.headers.get('retry-after') ?? '', /^\d+$/);
        assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
        assert.equal(response.headers.get('cache-control'), 'no-store');
        assert.match(response.text, /Temporarily unavailable/);
      } finally {
        faults.clientsFind = undefined;
      }
    });

    it('answers a server error before the redirect URI is validated with a 500 HTML page, never a redirect or a JSON body (SPEC decision 5)', async () => {
      faults.clientsFind = fault();
      try {
        const response = await new Browser().get(authorizeUrl(server, parameters()));
        assert.equal(response.status, 500);
        assert.equal(response.location, undefined, 'no redirect');
        assert.match(response.headers.get('content-type') ?? '', /^text\/html/);
        assert.doesNotMatch(response.text, /a bug in a storage call/, 'the error is not shown');
      } finally {
        faults.clientsFind = undefined;
      }
    });

    it('serves the flow again once the storage answers (no restart)', async () => {
      const { redirect } = await authorize(server, { browser: signedIn, state: 'state-after', extra: { prompt: 'consent' } });
      assert.ok(redirect.searchParams.get('code'));
      assert.equal(redirect.searchParams.get('state'), 'state-after');
    });
  });
}
