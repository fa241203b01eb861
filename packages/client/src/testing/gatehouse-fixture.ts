/**
 * Test support: a running Gatehouse (the authorization server's test harness: in-memory SQLite, dev
 * seed, injectable clock) with one newly registered confidential client on a loopback redirect URI,
 * and the sample platform API in front of it. Counts the token requests that reach the server.
 */
import { registerClient } from '@gatehouse/authorization-server';
import { startPlatformApi, type RunningPlatformApi } from '@gatehouse/platform-api';
import { API_AUDIENCE, createRealTimeTestClock, freePort, seed, startTestServer, type TestServer } from '../../../authorization-server/src/testing/harness.ts';

export interface GatehouseFixture {
  server: TestServer;
  api: RunningPlatformApi;
  clientId: string;
  clientSecret: string;
  /** `http://127.0.0.1:<free port>/callback`, registered exactly. */
  redirectUri: string;
  /** How many `POST /oauth/token` requests reached the server so far. */
  tokenRequests(): number;
  close(): Promise<void>;
}

export interface GatehouseFixtureOptions {
  clientName: string;
  /** Default `users:read vendors:read`. */
  scopes?: string[];
  /** The platform API's staleness bound; 0 makes it ask Gatehouse on every call. Default its own (5 s). */
  introspectionCacheTtlSeconds?: number;
  /** Gatehouse's refresh-token reuse grace window (SPEC decision 8); default its own (30 s). */
  refreshTokenReuseGraceSeconds?: number;
  /**
   * Run Gatehouse and the API on the machine's clock instead of the fixed test clock: for tests whose client
   * runs in other processes on that clock (`gatehouse-connect`), since DPoP proofs carry the client's time
   * and the servers accept it only within 60 s of theirs (RFC 9449 §4.3 `iat`).
   */
  realClock?: boolean;
}

export async function startGatehouse(options: GatehouseFixtureOptions): Promise<GatehouseFixture> {
  const server = await startTestServer(
    options.refreshTokenReuseGraceSeconds === undefined ? {} : { refreshTokenReuseGraceSeconds: options.refreshTokenReuseGraceSeconds },
    ...(options.realClock ? [createRealTimeTestClock()] : []),
  );
  let tokenRequests = 0;
  server.app.server.on('request', (request) => {
    if (request.method === 'POST' && request.url === '/oauth/token') tokenRequests++;
  });
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const { client, clientSecret } = await registerClient(
    { storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
    { clientName: options.clientName, clientType: 'confidential', redirectUris: [redirectUri], scopes: options.scopes ?? ['users:read', 'vendors:read'], clientUri: 'https://partner.example' },
  );
  // RFC 9449: DPoP proofs name the API's URL (htu) and carry the SDK's clock, which is the server's here.
  const apiPort = await freePort();
  const api = await startPlatformApi({
    issuer: server.issuer, audience: API_AUDIENCE, port: apiPort, host: '127.0.0.1', publicOrigin: `http://127.0.0.1:${apiPort}`,
    now: () => server.clock.nowSeconds() * 1000,
    introspectionClientId: seed.resourceServer.id, introspectionClientSecret: seed.resourceServer.secret,
    ...(options.introspectionCacheTtlSeconds === undefined ? {} : { introspectionCacheTtlSeconds: options.introspectionCacheTtlSeconds }),
  });
  return {
    server, api, clientId: client.clientId, clientSecret: clientSecret!, redirectUri,
    tokenRequests: () => tokenRequests,
    async close() {
      await api.close();
      await server.close();
    },
  };
}
