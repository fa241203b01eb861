/**
 * `npm run screenshots`: the README's screenshots of the main pages (issue 13), taken by walking through
 * them as their users would, in Debian's Chromium driven by playwright-core.
 *
 * The authorization server runs in-process on an ephemeral loopback port with in-memory SQLite and the
 * development seed (the browser tests' harness, `testing/harness.ts`), with `requireClientApproval` so a
 * client registered in the portal waits in the administrators' review queue. The walk:
 *
 * 1. Dana, a partner developer, signs in to the developer portal and registers "Fjord Books": its client
 *    page, with the once-shown secret masked before the shot (the script refuses to save the picture if
 *    the secret is still anywhere in the page).
 * 2. Alice opens the demo client's authorization URL (openid-client, PKCE S256): the login page, then the
 *    company choice and consent at 1280 px and 390 px wide; she picks a company and allows, and the partner's side
 *    (openid-client) exchanges the code from the browser's request to its callback (nothing listens there).
 * 3. Alice's home, connected apps, marketplace and account pages; then, as a platform administrator, the
 *    console's review queue with Fjord Books waiting.
 * 4. The error page for a redirect URI the client never registered.
 *
 * The walk finds forms and buttons by their names and actions, not their text, so translating the pages
 * does not break it.
 *
 * Each picture is the viewport only (not the whole scrolling page), 1280 px wide (390 px for the narrow
 * consent page) at device scale 1, saved under a stable name (`SCREENSHOTS`). Usage:
 *   npm run screenshots                      # into docs/screenshots/
 *   node scripts/screenshots.ts OUTPUT_DIR   # anywhere else
 * `test/e2e/screenshots.test.ts` runs the same walk into a temporary directory so it cannot rot.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as oidc from 'openid-client';
import type { Page } from 'playwright-core';
import { registerClient } from '../packages/authorization-server/src/clients/registration.ts';
import { seed, startTestServer } from '../packages/authorization-server/src/testing/harness.ts';
import { launchChromium } from '../test/e2e/chromium.ts';
import { beginAuthorization } from '../test/e2e/openid-client-flow.ts';

/** Where `npm run screenshots` writes, relative to the repository root. */
export const DEFAULT_OUTPUT_DIRECTORY = 'docs/screenshots';

export interface ScreenshotSpec {
  /** File name under the output directory (stable: the README links to it). */
  file: string;
  /** Viewport width in CSS pixels, which is the PNG's width in pixels (device scale 1). */
  widthPixels: number;
  /** Viewport height in CSS pixels, the PNG's height. */
  heightPixels: number;
  /** Alt text for the README. */
  alt: string;
}

const WIDE = { widthPixels: 1280, heightPixels: 800 } as const;
const NARROW = { widthPixels: 390, heightPixels: 844 } as const;

/** Every picture the walk takes, in walk order. */
export const SCREENSHOTS = {
  portalClient: { file: 'portal-client.png', ...WIDE, alt: "The developer portal's page for a newly registered client: client ID and secret (masked here) with copy buttons, status pending approval, and the endpoints" },
  login: { file: 'login.png', ...WIDE, alt: 'The login page, with e-mail and password fields' },
  consent: { file: 'consent.png', ...WIDE, alt: 'The consent page: Ledgerly Sync asks for access, the company to connect is chosen from a list, the requested permissions are listed in words, with Allow and Deny buttons' },
  consentNarrow: { file: 'consent-390.png', ...NARROW, alt: 'The same consent page on a 390 px wide phone screen' },
  home: { file: 'home.png', ...WIDE, alt: 'The home page for a signed-in user, linking to connected apps, the marketplace and the account' },
  connectedApps: { file: 'connected-apps.png', ...WIDE, alt: 'Connected apps: Ledgerly Sync connected to Nordlys Danmark ApS, its permissions in words, and Settings and Disconnect buttons' },
  marketplace: { file: 'marketplace.png', ...WIDE, alt: 'The marketplace: a listed app, its web site, and the permissions it asks for, in words' },
  account: { file: 'account.png', ...WIDE, alt: "The account page: the user's e-mail address and the companies and organization they administer" },
  adminReviewQueue: { file: 'admin-review-queue.png', ...WIDE, alt: "The administrators' console review queue: clients waiting for approval, with Approve, Suspend and Delete buttons" },
  error: { file: 'error.png', ...WIDE, alt: 'An error page for a redirect URI the app never registered: what went wrong, that the browser was not sent back to the app, and a link to the home page' },
} as const satisfies Record<string, ScreenshotSpec>;

export interface TakenScreenshot extends ScreenshotSpec {
  /** Absolute path of the PNG written. */
  path: string;
  sizeBytes: number;
}

/**
 * Starts the server, walks the pages and writes every `SCREENSHOTS` entry into `outputDirectory` (created
 * if missing; files there are overwritten). Returns what it wrote. Throws if Chromium is missing, a page
 * does not appear as expected, or a client secret would be visible in a picture.
 */
export async function takeScreenshots(outputDirectory: string): Promise<TakenScreenshot[]> {
  mkdirSync(outputDirectory, { recursive: true });
  const taken: TakenScreenshot[] = [];
  const server = await startTestServer({ requireClientApproval: true });
  const browser = await launchChromium();
  try {
    const now = server.clock.nowSeconds();
    // What a running platform would have: Alice holds the console role, the demo app is listed in the
    // marketplace (it has an initiation URI), and a second partner's client waits for review.
    await server.storage.consoleAdministrators.grant(seed.users.alice.id, now);
    await server.storage.clients.update(seed.confidentialClient.id, { initiationUri: 'https://ledgerly.example/start', settingsUri: 'https://ledgerly.example/settings' });
    await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now, requireApproval: true },
      { clientName: 'Aurora Payroll', clientType: 'confidential', redirectUris: ['https://aurora-payroll.example/oauth/callback'], scopes: ['users:read'], clientUri: 'https://aurora-payroll.example' },
      {}, { actor: 'user:screenshots', ownerUserId: seed.developer.id });

    const newPage = async (spec: ScreenshotSpec) => {
      const context = await browser.newContext({ viewport: { width: spec.widthPixels, height: spec.heightPixels }, deviceScaleFactor: 1 });
      return context.newPage();
    };
    const shoot = async (page: Page, spec: ScreenshotSpec, forbidden: string[] = []) => {
      await page.setViewportSize({ width: spec.widthPixels, height: spec.heightPixels });
      await page.waitForLoadState('load');
      const content = await page.content();
      for (const value of forbidden) if (content.includes(value)) throw new Error(`${spec.file}: a secret is still in the page; not saving it`);
      const path = join(outputDirectory, spec.file);
      await page.screenshot({ path, type: 'png', fullPage: false, animations: 'disabled', caret: 'hide', scale: 'css' });
      taken.push({ ...spec, path: resolve(path), sizeBytes: statSync(path).size });
    };

    // 1. The partner developer registers a client in the portal; its page shows the secret once.
    const portal = await newPage(SCREENSHOTS.portalClient);
    await visit(portal, `${server.url}/portal`, 200);
    await logIn(portal, seed.developer, 'a[href="/portal/clients/new"]');
    await visit(portal, `${server.url}/portal/clients/new`, 200);
    await portal.fill('[name="client_name"]', 'Fjord Books');
    await portal.fill('[name="client_uri"]', 'https://fjord.example');
    await portal.fill('[name="redirect_uris"]', 'https://fjord.example/oauth/callback');
    await portal.check('input[name="scope"][value="users:read"]');
    await portal.check('input[name="scope"][value="vendors:read"]');
    await portal.click('form[action="/portal/clients"] button[type="submit"]');
    await portal.waitForSelector('#client_secret');
    const secret = (await portal.textContent('#client_secret'))!.trim();
    if (!secret) throw new Error('the portal showed no client secret');
    await portal.locator('#client_secret').evaluate((element, mask) => {
      element.textContent = mask;
    }, '•'.repeat(secret.length));
    await shoot(portal, SCREENSHOTS.portalClient, [secret]);
    await portal.context().close();

    // 2. A user connects the demo client: login, company choice and consent, at both widths.
    const { config, authorizationUrl, codeVerifier, state } = await beginAuthorization(server.issuer, seed.confidentialClient.id, seed.confidentialClient.secret,
      seed.confidentialClient.redirectUri, 'users:read vendors:read accounts:read');
    const user = await newPage(SCREENSHOTS.login);
    await visit(user, authorizationUrl.href, 200);
    await user.waitForSelector('form[action^="/login"]:not([action^="/login/"])');
    await shoot(user, SCREENSHOTS.login);
    await logIn(user, seed.users.alice, 'select[name="subject"]');
    await shoot(user, SCREENSHOTS.consent);
    await shoot(user, SCREENSHOTS.consentNarrow);
    await user.setViewportSize({ width: WIDE.widthPixels, height: WIDE.heightPixels });
    await user.selectOption('select[name="subject"]', `urn:gatehouse:company:${seed.companies[0].id}`);
    // The browser is sent on to the partner's callback (nothing listens there: its request is all we wait
    // for); the partner exchanges the code, which makes the grant the connected apps page lists.
    const [callback] = await Promise.all([
      user.waitForRequest((request) => request.url().startsWith(seed.confidentialClient.redirectUri)), user.click('button[name="decision"][value="allow"]'),
    ]);
    await oidc.authorizationCodeGrant(config, new URL(callback.url()), { pkceCodeVerifier: codeVerifier, expectedState: state });
    const signedIn = await user.context().newPage();
    await user.close();

    // 3. The user's own pages, then the console (Alice is a platform administrator too).
    for (const [path, spec] of [
      ['/', SCREENSHOTS.home], ['/account/connected-apps', SCREENSHOTS.connectedApps], ['/marketplace', SCREENSHOTS.marketplace],
      ['/account', SCREENSHOTS.account], ['/admin', SCREENSHOTS.adminReviewQueue],
    ] as const) {
      await visit(signedIn, `${server.url}${path}`, 200);
      await shoot(signedIn, spec);
    }

    // 4. An error page: a redirect URI the client never registered (RFC 6749 §4.1.2.1: shown, not redirected to).
    const refused = new URL(authorizationUrl);
    refused.searchParams.set('redirect_uri', 'https://ledgerly.example.net/callback');
    await visit(signedIn, refused.href, 400);
    await shoot(signedIn, SCREENSHOTS.error);
    await signedIn.context().close();
  } finally {
    await browser.close();
    await server.close();
  }
  return taken;
}

/** Opens `url` and checks the page answered with `status` (so a refusal is never saved as the page meant). */
async function visit(page: Page, url: string, status: number): Promise<void> {
  const response = await page.goto(url);
  if (response?.status() !== status) throw new Error(`${new URL(url).pathname} answered ${response?.status()}, not ${status}`);
}

/**
 * Logs in through the shared login page's form, found by its fields' names (not their text, which is
 * translated), and waits for `nextPage`, a selector only the page after login has.
 */
async function logIn(page: Page, user: { email: string; password: string }, nextPage: string): Promise<void> {
  await page.fill('form[action^="/login"]:not([action^="/login/"]) [name="email"]', user.email);
  await page.fill('form[action^="/login"]:not([action^="/login/"]) [name="password"]', user.password);
  await page.click('form[action^="/login"]:not([action^="/login/"]) button[type="submit"]');
  await page.waitForSelector(nextPage);
  await page.waitForLoadState('load');
}

if (import.meta.main) {
  const outputDirectory = process.argv[2] ?? DEFAULT_OUTPUT_DIRECTORY;
  for (const shot of await takeScreenshots(outputDirectory)) {
    console.log(`${relative(process.cwd(), shot.path)}  ${shot.widthPixels}×${shot.heightPixels}  ${(shot.sizeBytes / 1024).toFixed(0)} KB`);
  }
}
