/**
 * What the benchmark's processes share: the audience and scopes of every token, the user of the flow
 * phase, and the peer's client (the same identifiers, redirect URI and scopes as Gatehouse's demo client).
 */
import { DEVELOPMENT_SEED } from '../packages/authorization-server/src/seed/development-seed.ts';

export const API_AUDIENCE = 'http://localhost:3001';
export const BENCH_SCOPE = 'users:read vendors:read';
/** Bob administers one company: the consent page of the flow phase has one subject, selected by default. */
export const FLOW_USER = DEVELOPMENT_SEED.users.bob;

export const OIDC_CLIENT = {
  id: DEVELOPMENT_SEED.confidentialClient.id,
  secret: DEVELOPMENT_SEED.confidentialClient.secret,
  redirectUri: DEVELOPMENT_SEED.confidentialClient.redirectUri,
};
export const OIDC_ACCOUNT = 'bench-user';
/** oidc-provider issues a refresh token only for `offline_access`; no `openid`, so no ID token is signed. */
export const OIDC_SCOPE = `offline_access ${BENCH_SCOPE}`;
