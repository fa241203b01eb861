/**
 * Scopes: the RFC 6749 §3.3 syntax and the deployment's catalogue (SPEC §3 "Scopes"), one wording per scope.
 */

/** RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`, `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`. */
const SCOPE_SYNTAX = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/** A Gatehouse scope name: `resource:permission` (SPEC §3, e.g. `users:read`), within scope-token characters. */
const SCOPE_NAME = /^[a-z0-9][a-z0-9-]*:[a-z0-9][a-z0-9-]*$/;

/**
 * Parses a `scope` request parameter strictly (RFC 6749 §3.3): single spaces between non-empty
 * scope-tokens. Returns the names without duplicates, in first-seen order, or `undefined` when the value
 * is not the RFC syntax (empty, doubled or edge spaces, a forbidden character).
 */
export function parseScope(value: string): string[] | undefined {
  if (!SCOPE_SYNTAX.test(value)) return undefined;
  return [...new Set(value.split(' '))];
}

/**
 * Splits a granted `scope` value the authorization server sent (RFC 6749 §3.3, RFC 7662 §2.2) into names,
 * without duplicates; tolerant of extra spaces, `undefined` gives `[]`. For values already trusted, not
 * for request parameters (use {@link parseScope}).
 */
export function splitScope(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(' ').filter((name) => name !== ''))];
}

/** Joins scope names with single spaces (RFC 6749 §3.3). */
export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}

/** True when `scope` is a well-formed `resource:permission` name (SPEC §3). */
export function isScopeName(scope: string): boolean {
  return SCOPE_NAME.test(scope);
}

/**
 * The scope catalogue (SPEC §3 "Scopes"): every scope a client may register, with the one wording that the
 * consent page, the account pages, the developer portal and the platform API's OpenAPI document all show.
 */
export const SCOPE_CATALOGUE: ReadonlyMap<string, string> = new Map([
  ['export-jobs:read', 'See export jobs'],
  ['export-jobs:write', 'Create and update export jobs'],
  ['export-items:read', 'See the items of export jobs (expenses, receipts and their accounting data)'],
  ['accounts:read', 'See the chart of accounts'],
  ['accounts:write', 'Create and change accounts in the chart of accounts'],
  ['vendors:read', 'See vendors'],
  ['vendors:write', 'Create and change vendors'],
  ['users:read', 'See users and employees'],
  ['users:write', 'Invite, change and deactivate users and employees'],
  ['test:test', 'Test access with no data (for trying an integration)'],
]);

/** The catalogue wording of `scope`; the name itself for a scope outside the catalogue. */
export function describeScope(scope: string): string {
  return SCOPE_CATALOGUE.get(scope) ?? scope;
}
