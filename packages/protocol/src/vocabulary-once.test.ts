/**
 * Issue 12, "One protocol vocabulary": the protocol facts every party shares live once, in this package.
 * Three endpoints and the webhook check had grown their own copies of the UUID pattern and the loopback
 * hosts since they were gathered here; this test finds such copies in any party's source (tests aside).
 */
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const sources = globSync(['packages/*/src/**/*.ts', 'examples/*/src/**/*.ts'], { cwd: root })
  .filter((path) => !path.endsWith('.test.ts') && !path.startsWith('packages/protocol/') && !path.includes('/testing/'));

/** What only @gatehouse/protocol may spell out, and what to import instead. */
const OWNED_BY_PROTOCOL: Array<[RegExp, string]> = [
  [/\[0-9a-f\]\{8\}-\[0-9a-f\]\{4\}/i, 'a UUID pattern: import isUuid (or UUID_PATTERN) from @gatehouse/protocol'],
  [/'127\.0\.0\.1',\s*'\[::1\]'|'\[::1\]',\s*'127\.0\.0\.1'/, 'a set of loopback hosts: import isLoopbackHostname / isLoopbackHttpUrl from @gatehouse/protocol'],
];

/**
 * What only @gatehouse/protocol may spell out in Gatehouse's own packages (SPEC decision 9 written once; the
 * example partner app depends on the public SDK only and keeps its own CSRF comparison).
 */
const OWNED_BY_PROTOCOL_IN_PACKAGES: Array<[RegExp, string]> = [
  [/\btimingSafeEqual\b/, 'a constant-time comparison: import constantTimeEqual / secretsEqual from @gatehouse/protocol'],
];

describe('protocol vocabulary, once', () => {
  it('reads the sources of every party', () => {
    assert.ok(sources.length > 100, `only ${sources.length} source files found under ${root}`);
  });

  it('no party spells out a UUID pattern, the loopback hosts or a constant-time comparison itself', () => {
    const copies: string[] = [];
    for (const path of sources) {
      const text = readFileSync(`${root}${path}`, 'utf8');
      const owned = path.startsWith('packages/') ? [...OWNED_BY_PROTOCOL, ...OWNED_BY_PROTOCOL_IN_PACKAGES] : OWNED_BY_PROTOCOL;
      for (const [pattern, instead] of owned) if (pattern.test(text)) copies.push(`${path}: ${instead}`);
    }
    assert.deepEqual(copies, []);
  });
});
