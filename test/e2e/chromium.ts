/**
 * Debian's Chromium for the end-to-end tests: its path, the flags this closed-network machine needs,
 * and the skip rule (skipped with a reason where it is missing; required under CI=true, where .ci/run
 * installs it).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

const missing = !existsSync(CHROMIUM);
if (missing && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);

/** For `describe(name, { skip: chromiumSkipReason }, …)`. */
export const chromiumSkipReason: string | false = missing ? `no ${CHROMIUM} (apt-get install chromium)` : false;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}
