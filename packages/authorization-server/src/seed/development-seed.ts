/**
 * Development data (SPEC §2: seeded only in the development environment). Fixed identifiers so the
 * README, the sample platform API and manual trials can name them; see docs/dev-seed.md.
 */
import { registerClient, registerResourceServer, type RegistrationContext } from '../clients/registration.ts';
import { SCOPE_CATALOGUE } from '@gatehouse/protocol';
import type { Storage } from '../storage/storage.ts';
import { hashPassword } from '../users/password.ts';

export const DEVELOPMENT_SEED = {
  organization: { id: 'a78f8460-ea41-4745-905b-660d706ebca4', name: 'Nordlys Group' },
  companies: [
    { id: 'd4290d20-6495-471e-bcac-5d9e0a4d844e', name: 'Nordlys Danmark ApS' },
    { id: '5f2524c1-992b-444a-88d7-caff1c1c01f7', name: 'Nordlys Sverige AB' },
  ],
  users: {
    alice: { id: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313', email: 'alice@example.com', password: 'alice-demo-password', name: 'Alice Admin' },
    bob: { id: '81c9107e-5efd-4208-b90d-dfc783b77b97', email: 'bob@example.com', password: 'bob-demo-password', name: 'Bob Bookkeeper' },
  },
  /** A partner developer: signs in to the developer portal (/portal); administers no company. */
  developer: { id: '3f0c2b1e-8d4a-4f57-9a36-2c5e1b7d9e40', email: 'dev@partner.example', password: 'dev-demo-password', name: 'Dana Developer' },
  confidentialClient: {
    id: '7af385a0-284d-48c5-b225-362862085551', secret: 'pLymF1woY8w6obpIqEVnCB4M6iYockPCbOg9Y5ifLKM',
    name: 'Ledgerly Sync', redirectUri: 'http://localhost:8080/callback',
  },
  publicClient: { id: '9d5c5c88-0bca-4046-bfa2-c90507901389', name: 'Ledgerly Mobile', redirectUri: 'http://localhost:8080/callback' },
  resourceServer: { id: 'dbb72d5e-29fb-4cf3-80cc-78a687063942', secret: '6Q9O2m3XGCT49_h_NYPNlkxF-p9fnXsbem650ws-1sw', name: 'Platform API' },
} as const;

/** Inserts the development data unless it is there already. Returns whether it seeded. */
export async function seedDevelopmentData(storage: Storage, context: { brandName: string; now: number; apiAudience: string }): Promise<boolean> {
  const seed = DEVELOPMENT_SEED;
  if (await storage.users.find(seed.users.alice.id)) return false;
  const { organization, companies, users } = seed;
  // Through the directory, as a platform brings its people in (issue 10 §1), plus demo passwords.
  const times = { createdAt: context.now, updatedAt: context.now };
  await storage.directory.createSubject({ subjectType: 'organization', subjectId: organization.id, name: organization.name, organizationId: null, ...times });
  for (const company of companies) {
    await storage.directory.createSubject({ subjectType: 'company', subjectId: company.id, name: company.name, organizationId: organization.id, ...times });
  }
  for (const user of [users.alice, users.bob, seed.developer]) {
    await storage.directory.createUser({ userId: user.id, email: user.email, name: user.name, locale: null, ...times });
    await storage.users.setPasswordHash(user.id, await hashPassword(user.password));
  }
  await storage.developers.add(seed.developer.id);
  // Alice administers both companies and the organization; Bob only the Danish company.
  for (const company of companies) await storage.directory.putMembership(users.alice.id, { subjectType: 'company', subjectId: company.id });
  await storage.directory.putMembership(users.alice.id, { subjectType: 'organization', subjectId: organization.id });
  await storage.directory.putMembership(users.bob.id, { subjectType: 'company', subjectId: companies[0].id });

  const registration: RegistrationContext = { storage, environment: 'development', brandName: context.brandName, now: context.now };
  const allScopes = [...SCOPE_CATALOGUE.keys()];
  await registerClient(registration, {
    clientName: seed.confidentialClient.name, clientType: 'confidential', redirectUris: [seed.confidentialClient.redirectUri], scopes: allScopes,
    clientUri: 'https://ledgerly.example', tosUri: 'https://ledgerly.example/terms', policyUri: 'https://ledgerly.example/privacy',
  }, { clientId: seed.confidentialClient.id, clientSecret: seed.confidentialClient.secret });
  await registerClient(registration, {
    clientName: seed.publicClient.name, clientType: 'public', redirectUris: [seed.publicClient.redirectUri], scopes: allScopes,
    clientUri: 'https://ledgerly.example',
  }, { clientId: seed.publicClient.id });
  await registerResourceServer(registration, { name: seed.resourceServer.name, audience: context.apiAudience },
    { clientId: seed.resourceServer.id, clientSecret: seed.resourceServer.secret });
  return true;
}

/** The lines `npm start` prints. */
export function describeDevelopmentSeed(issuer: string): string {
  const seed = DEVELOPMENT_SEED;
  return [
    'Development data (seeded; see README):',
    `  users:   ${seed.users.alice.email} / ${seed.users.alice.password}  (administers both companies and the organization)`,
    `           ${seed.users.bob.email} / ${seed.users.bob.password}  (administers ${seed.companies[0].name} only)`,
    `  partner developer: ${seed.developer.email} / ${seed.developer.password}  (developer portal: ${issuer}/portal)`,
    `  companies: ${seed.companies.map((company) => `${company.name} (${company.id})`).join(', ')} in ${seed.organization.name}`,
    `  confidential client "${seed.confidentialClient.name}": client_id ${seed.confidentialClient.id}`,
    `           client_secret ${seed.confidentialClient.secret}`,
    `           redirect_uri ${seed.confidentialClient.redirectUri}`,
    `  public client "${seed.publicClient.name}": client_id ${seed.publicClient.id}, redirect_uri ${seed.publicClient.redirectUri}`,
    `  metadata: ${issuer}/.well-known/oauth-authorization-server`,
  ].join('\n');
}

/** The seeded clients whose secrets this README prints: a database holding one must not serve outside development. */
export const DEVELOPMENT_SEED_CLIENTS = [DEVELOPMENT_SEED.confidentialClient, DEVELOPMENT_SEED.publicClient, DEVELOPMENT_SEED.resourceServer] as const;

/**
 * Issue 14: why a staging or production database holding the development seed (a copied development database)
 * is refused, naming the seeded clients found (`liveIds`: those stored and not deleted); undefined for none.
 */
export function developmentSeedProblem(liveIds: readonly string[], environment: string): string | undefined {
  const seeded = DEVELOPMENT_SEED_CLIENTS.filter((client) => liveIds.includes(client.id)).map((client) => `"${client.name}" (${client.id})`);
  if (seeded.length === 0) return undefined;
  return `the database holds development seed data, refused in ${environment}: ${seeded.join(', ')}; their credentials are public (README). Use a fresh database, or delete these clients with "gatehouse clients delete"`;
}
