import { isScopeName, splitScope } from '@gatehouse/protocol';

/** The protocol vocabulary (SPEC §3, RFC 6749 §3.3), from `@gatehouse/protocol`; re-exported for the toolkit's users. */
export { formatScope, isScopeName, splitScope } from '@gatehouse/protocol';

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
 * Splits a granted `scope` value (RFC 6749 §3.3, RFC 7662 §2.2) into names, without duplicates;
 * `undefined` gives `[]`. The toolkit's earlier name for `splitScope` of `@gatehouse/protocol`, kept so
 * existing callers still compile; note that `parseScope` of `@gatehouse/protocol` is the strict request parser.
 */
export const parseScope: (scope: string | undefined) => string[] = splitScope;

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
