/**
 * axe-core in Chromium for the end-to-end tests (WCAG 2.2 AA, issue 13): the rule set every page is held to,
 * once, instead of a copy per test file.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** The WCAG 2.0–2.2 A and AA rules. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/** The page's axe violations as `id (impact): help at selectors` lines (empty: none). Injects axe-core first. */
export async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (tags) => {
    const axe = (globalThis as unknown as { axe: { run(context: Document, options: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`);
  }, WCAG_TAGS);
}

/**
 * No axe violation at 1280 px and at 390 px, and no sideways scrolling at 390 px. The viewport is left at
 * 390 px unless `restoreWidth` is given.
 */
export async function assertAccessible(page: Page, label: string, options: { restoreWidth?: number } = {}): Promise<void> {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    assert.deepEqual(await axeViolations(page), [], `${label} at ${width} px`);
    if (width === 390) {
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${label} scrolls sideways at 390 px (${overflow} px)`);
    }
  }
  if (options.restoreWidth !== undefined) await page.setViewportSize({ width: options.restoreWidth, height: 900 });
}
