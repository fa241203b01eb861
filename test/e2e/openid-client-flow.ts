/**
 * The steps every end-to-end test takes as the partner (openid-client, a third-party client) and as the
 * user (Chromium): discovery, an authorization URL with PKCE S256 and state, and logging in up to the
 * consent page.
 */
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';

export interface AuthorizationStart {
  config: oidc.Configuration;
  authorizationUrl: URL;
  codeVerifier: string;
  state: string;
}

/** Discovery through RFC 8414 metadata; HTTP is allowed only because the test server is on loopback. */
export async function beginAuthorization(issuer: string, clientId: string, clientSecret: string, redirectUri: string, scope: string): Promise<AuthorizationStart> {
  const config = await oidc.discovery(new URL(issuer), clientId, undefined, oidc.ClientSecretBasic(clientSecret), {
    algorithm: 'oauth2', execute: [oidc.allowInsecureRequests],
  });
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authorizationUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope, state,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
  });
  return { config, authorizationUrl, codeVerifier, state };
}

/** Opens the authorization URL, logs in through the labelled form, and waits for the consent page. */
export async function logInToConsent(page: Page, authorizationUrl: URL, user: { email: string; password: string }): Promise<string> {
  await page.goto(authorizationUrl.href);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForSelector('select[name="subject"]');
  return (await page.textContent('body')) ?? '';
}
