/**
 * What the benchmark's processes share: the audience and scopes of every token, the user of the seeded
 * codes and grants, and the peer's client (the same identifiers, redirect URI and scopes as Gatehouse's demo client).
 */
import { DEVELOPMENT_SEED } from '../packages/authorization-server/src/seed/development-seed.ts';

export const API_AUDIENCE = 'http://localhost:3001';
export const BENCH_SCOPE = 'users:read vendors:read';
/**
 * The user of the codes and grants seeded directly (exchange, refresh rotation, scale), each for a distinct
 * random company. The flow phase has users of its own (flow-users.ts).
 */
export const SEEDED_GRANTS_USER = DEVELOPMENT_SEED.users.bob;

export const OIDC_CLIENT = {
  id: DEVELOPMENT_SEED.confidentialClient.id,
  secret: DEVELOPMENT_SEED.confidentialClient.secret,
  redirectUri: DEVELOPMENT_SEED.confidentialClient.redirectUri,
};
export const OIDC_ACCOUNT = 'bench-user';
/** oidc-provider issues a refresh token only for `offline_access`; no `openid`, so no ID token is signed. */
export const OIDC_SCOPE = `offline_access ${BENCH_SCOPE}`;
