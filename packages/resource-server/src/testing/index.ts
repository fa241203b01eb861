/**
 * Test support for APIs protected with `@gatehouse/resource-server`: a manual clock that also runs
 * the verifier's background timers, and a stub authorization server (introspection, JWKS, revocation
 * feed) as a web-standard handler. Not for production code.
 */
export { createManualClock } from './manual-clock.ts';
export type { ManualClock } from './manual-clock.ts';
export { createStubAuthorizationServer } from './stub-authorization-server.ts';
export type {
  ForgedSigning,
  StubAuthorizationServer,
  StubAuthorizationServerOptions,
  StubFailures,
  StubIssueOptions,
  StubRequest,
} from './stub-authorization-server.ts';
