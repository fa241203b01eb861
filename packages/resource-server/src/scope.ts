/**
 * A Gatehouse scope name: `resource:permission` (SPEC §3, e.g. `users:read`,
 * `export-jobs:write`). Within RFC 6749 §3.3 scope-token characters.
 */
const SCOPE_NAME = /^[a-z0-9][a-z0-9-]*:[a-z0-9][a-z0-9-]*$/;

/** True when `scope` is a well-formed `resource:permission` name. */
export function isScopeName(scope: string): boolean {
  return SCOPE_NAME.test(scope);
}

/** Required scope names already found well-formed; routes name a handful, the bound keeps a misuse small. */
const checkedScopeNames = new Set<string>();
const MAX_CHECKED_SCOPE_NAMES = 1000;

/**
 * Validates the scopes a route requires; called when routes are declared so a typo fails
 * at start-up rather than refusing every request.
 *
 * @throws {TypeError} when a name is not `resource:permission`.
 */
export function assertScopeNames(scopes: readonly string[]): void {
  for (const scope of scopes) {
    // Runs on every protected request (the verifier checks its arguments): names seen valid skip the pattern.
    if (checkedScopeNames.has(scope)) {
      continue;
    }
    if (!isScopeName(scope)) {
      throw new TypeError(`Required scope ${JSON.stringify(scope)} is not a resource:permission name`);
    }
    if (checkedScopeNames.size < MAX_CHECKED_SCOPE_NAMES) {
      checkedScopeNames.add(scope);
    }
  }
}

/**
 * Splits a space-delimited `scope` value (RFC 6749 §3.3, RFC 7662 §2.2) into names,
 * without duplicates. Granted scopes are taken as the authorization server sent them.
 */
export function parseScope(scope: string | undefined): string[] {
  if (scope === undefined) {
    return [];
  }
  return [...new Set(scope.split(' ').filter((name) => name !== ''))];
}

/** Joins scope names with single spaces (RFC 6749 §3.3). */
export function formatScope(scopes: readonly string[]): string {
  return scopes.join(' ');
}

/**
 * The required scopes not present in `granted`. All required scopes must be granted;
 * there is no implication between names (`users:write` does not grant `users:read`).
 */
export function findMissingScopes(granted: readonly string[], required: readonly string[]): string[] {
  // Runs on every protected request: no Set and no array unless something is missing (both lists are short).
  let missing: string[] | undefined;
  for (const scope of required) {
    if (!granted.includes(scope)) {
      (missing ??= []).push(scope);
    }
  }
  return missing ?? [];
}
