/**
 * Debian's Chromium for the end-to-end tests: its path, the flags this closed-network machine needs,
 * and the skip rule (skipped with a reason where it is missing; required under CI=true, where .ci/run
 * installs it).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);

/** For `describe(name, { skip: chromiumSkipReason }, …)`. */
export const chromiumSkipReason: string | false = missing ? `no ${CHROMIUM} (apt-get install chromium)` : false;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** Signs in on the login page the browser is on (labelled fields, the "Log in" button), then waits for the next page. */
export async function logIn(page: Page, user: { email: string; password: string }): Promise<void> {
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForLoadState();
}
