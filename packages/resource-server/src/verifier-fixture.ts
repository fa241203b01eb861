import assert from 'node:assert/strict';
import { createManualClock } from './testing/manual-clock.ts';
import type { ManualClock } from './testing/manual-clock.ts';
import { createStubAuthorizationServer } from './testing/stub-authorization-server.ts';
import type { StubAuthorizationServer, StubIssueOptions } from './testing/stub-authorization-server.ts';
import { createTokenVerifier } from './token-verifier.ts';
import type { IntrospectionVerifierOptions, LocalVerifierOptions, TokenVerifier } from './token-verifier.ts';

/**
 * Shared by the verifier tests (not exported from the package): a verifier in either mode wired to
 * the stub authorization server through an injected `fetch`, on a manual clock. No sockets, no sleeps.
 */

export const ISSUER = 'http://localhost:3000';
export const AUDIENCE = 'http://localhost:3001';
export const RESOURCE_SERVER_ID = 'dbb72d5e-29fb-4cf3-80cc-78a687063942';
export const RESOURCE_SERVER_SECRET = '6Q9O2m3XGCT49_h_NYPNlkxF-p9fnXsbem650ws-1sw';
export const CLIENT_ID = '7af385a0-284d-48c5-b225-362862085551';
export const COMPANY_URN = 'urn:gatehouse:company:d4290d20-6495-471e-bcac-5d9e0a4d844e';

export type ValidationMode = 'introspection' | 'local';
export const VALIDATION_MODES: readonly ValidationMode[] = ['introspection', 'local'];

/** Options a test may override, in either mode. */
export type FixtureOverrides = Partial<Omit<IntrospectionVerifierOptions, 'mode'>> & Partial<Omit<LocalVerifierOptions, 'mode'>>;

export interface VerifierFixture {
  readonly mode: ValidationMode;
  readonly clock: ManualClock;
  readonly stub: StubAuthorizationServer;
  readonly verifier: TokenVerifier;
  /** Issues a company token with `users:read vendors:read` unless told otherwise. */
  issue(options?: Partial<StubIssueOptions>): Promise<string>;
  /** Verifies `Bearer <token>` with the scopes. */
  verify(token: string, scopes?: readonly string[]): ReturnType<TokenVerifier['verifyAccessToken']>;
  /** Requests the stub received at a path. */
  requestsTo(path: string): number;
}

/**
 * Creates a verifier in `mode` against a fresh stub issuing JWT access tokens (which the stub also
 * introspects, like the real server with `accessTokenFormat: 'jwt'`). In local mode it waits for the
 * start-up catch-up unless `awaitReady` is false. Close `verifier` at the end (the tests' `after`).
 */
export async function createVerifierFixture(mode: ValidationMode, overrides: FixtureOverrides = {}, fixtureOptions: { awaitReady?: boolean } = {}): Promise<VerifierFixture> {
  const clock = createManualClock();
  const stub = await createStubAuthorizationServer({
    issuer: ISSUER,
    audience: AUDIENCE,
    resourceServerClientId: RESOURCE_SERVER_ID,
    resourceServerClientSecret: RESOURCE_SERVER_SECRET,
    now: clock.now,
  });
  const common = {
    issuer: ISSUER,
    audience: AUDIENCE,
    introspectionClientId: RESOURCE_SERVER_ID,
    introspectionClientSecret: RESOURCE_SERVER_SECRET,
    now: clock.now,
    fetch: stub.fetch,
  };
  const verifier =
    mode === 'local'
      ? createTokenVerifier({ ...common, scheduleTimer: clock.scheduleTimer, ...overrides, mode: 'local' })
      : createTokenVerifier({ ...common, ...overrides, mode: 'introspection' });
  if (fixtureOptions.awaitReady !== false) {
    await verifier.ready();
  }
  return {
    mode,
    clock,
    stub,
    verifier,
    issue: (options = {}) => stub.issue({ scope: 'users:read vendors:read', subjectUrn: COMPANY_URN, ...options }),
    verify: (token, scopes = []) => verifier.verifyAccessToken(`Bearer ${token}`, scopes),
    requestsTo: (path) => stub.requests.filter((request) => request.path === path).length,
  };
}

/** Awaits a rejection of the given type and returns the error. */
export async function rejection<T extends Error>(promise: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${type.name}`);
}
