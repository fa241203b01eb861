/**
 * DPoP end to end (issue 15 §3, RFC 9449) with oauth4webapi as a third-party client: discovery offers
 * `dpop_signing_alg_values_supported`; `oauth.DPoP(client, keyPair)` signs the proofs; the server asks
 * for a nonce (§8) and oauth4webapi retries with it; the tokens come back as `DPoP`; the sample platform
 * API accepts them only with a proof (`Authorization: DPoP`), in both validation modes; a refresh with a
 * proof of the same key (the public client's refresh token is bound) gives new DPoP tokens.
 *
 * The servers run on the system clock: oauth4webapi stamps its proofs with the real time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { systemClock } from '../../packages/authorization-server/src/clock.ts';
import { API_AUDIENCE, authorize, freePort, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { startPlatformApi, type RunningPlatformApi } from '../../examples/platform-api/src/platform-api.ts';

const options = { [oauth.allowInsecureRequests]: true } as const; // the test issuer is http://127.0.0.1

/** Sends a token request, retrying once with the nonce the server asked for (RFC 9449 §8), as oauth4webapi documents. */
async function withNonceRetry<T>(send: () => Promise<Response>, process: (response: Response) => Promise<T>): Promise<{ result: T; nonceAsked: boolean }> {
  try {
    return { result: await process(await send()), nonceAsked: false };
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return { result: await process(await send()), nonceAsked: true };
  }
}

for (const mode of ['introspection', 'local'] as const) {
  describe(`DPoP end to end with oauth4webapi and the platform API (${mode} mode)`, () => {
    let server: TestServer;
    let api: RunningPlatformApi;
    before(async () => {
      server = await startTestServer({ clock: systemClock, dpopNonceRequired: true, ...(mode === 'local' ? { accessTokenFormat: 'jwt' } : {}) });
      const port = await freePort();
      api = await startPlatformApi({
        validationMode: mode, issuer: server.issuer, audience: API_AUDIENCE, publicOrigin: `http://127.0.0.1:${port}`,
        introspectionClientId: seed.resourceServer.id, introspectionClientSecret: seed.resourceServer.secret, port, host: '127.0.0.1',
      });
    });
    after(async () => {
      await api?.close();
      await server?.close();
    });

    it('obtains DPoP-bound tokens (nonce retry included), calls the API with proofs, and refreshes with the same key', async () => {
      const issuer = new URL(server.issuer);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...options, algorithm: 'oauth2' }));
      assert.ok(as.dpop_signing_alg_values_supported?.includes('ES256'));
      const client: oauth.Client = { client_id: seed.publicClient.id };
      const clientAuth = oauth.None();
      const keyPair = await oauth.generateKeyPair('ES256');
      const DPoP = oauth.DPoP(client, keyPair);

      // Login and consent through the harness's browserless driver (public client, PKCE S256).
      const { redirect, codeVerifier } = await authorize(server, { clientId: seed.publicClient.id, redirectUri: seed.publicClient.redirectUri });
      const callback = oauth.validateAuthResponse(as, client, redirect, 'state-123');
      const exchange = await withNonceRetry(
        () => oauth.authorizationCodeGrantRequest(as, client, clientAuth, callback, seed.publicClient.redirectUri, codeVerifier, { ...options, DPoP }),
        (response) => oauth.processAuthorizationCodeResponse(as, client, response),
      );
      assert.equal(exchange.nonceAsked, true, 'the server required a nonce first');
      const tokens = exchange.result;
      assert.equal(tokens.token_type, 'dpop');
      assert.ok(tokens.refresh_token);

      // The platform API accepts the token with a proof for each request (RFC 9449 §7)…
      const introspected = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${api.url}/v1/introspect`), new Headers(), null, { ...options, DPoP });
      assert.equal(introspected.status, 200, await introspected.clone().text());
      assert.equal(((await introspected.json()) as { data: { clientId: string } }).data.clientId, seed.publicClient.id);
      const users = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${api.url}/v1/users`), new Headers(), null, { ...options, DPoP });
      assert.equal(users.status, 200);
      // …and refuses it as a Bearer token, with a DPoP challenge (§7.1).
      const asBearer = await fetch(`${api.url}/v1/introspect`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(asBearer.status, 401);
      assert.match(asBearer.headers.get('www-authenticate') ?? '', /^DPoP algs="ES256 EdDSA RS256 PS256", error="invalid_token"/);

      // The public client's refresh token is bound: a refresh without a proof is refused, with one it works.
      const unproven = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, options);
      assert.equal(unproven.status, 400);
      assert.equal(((await unproven.json()) as { error: string }).error, 'invalid_grant');
      const refreshed = (await withNonceRetry(
        () => oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token!, { ...options, DPoP }),
        (response) => oauth.processRefreshTokenResponse(as, client, response),
      )).result;
      assert.equal(refreshed.token_type, 'dpop');
      const again = await oauth.protectedResourceRequest(refreshed.access_token, 'GET', new URL(`${api.url}/v1/introspect`), new Headers(), null, { ...options, DPoP });
      assert.equal(again.status, 200);
    });
  });
}
