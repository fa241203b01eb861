/**
 * The deployment's scope catalogue (SPEC §3): `resource:permission` names with the words the consent
 * page shows for each.
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

/** RFC 6749 §3.3: `scope = scope-token *( SP scope-token )`, scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
export function parseScope(value: string): string[] | undefined {
  if (!/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/.test(value)) return undefined;
  return [...new Set(value.split(' '))];
}

export function describeScope(scope: string): string {
  return SCOPE_CATALOGUE.get(scope) ?? scope;
}
