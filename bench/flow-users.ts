/**
 * The users of the "flow with session" phase: one per concurrent flow, each administering one company
 * of its own, so no two flows in flight ever share a (client, subject).
 *
 * Why: a new consent supersedes and revokes the previous grant of the same client and subject (SPEC
 * decision 11), and a code redeems only if nothing newer (such as another redemption) happened to its
 * client and subject since it was issued (SPEC decision 6). Concurrent flows for one subject therefore
 * outdate each other's codes and the server rightly answers `invalid_grant`; the benchmark must not
 * provoke that, since it measures flows, not refusals.
 *
 * Seeded through the storage contract (the same on SQLite and PostgreSQL), as the development seed does;
 * they share one password and so one argon2id hash, computed once.
 */
import { DEVELOPMENT_SEED } from '../packages/authorization-server/src/seed/development-seed.ts';
import type { Storage } from '../packages/authorization-server/src/storage/storage.ts';
import { hashPassword } from '../packages/authorization-server/src/users/password.ts';
import { CONNECTIONS } from './load.ts';

export interface FlowUser {
  id: string;
  email: string;
  password: string;
  name: string;
  /** The one company the user administers: the consent page's only subject. */
  companyId: string;
}

/** More than the flows in flight (one per connection): each flow borrows an idle user (workloads.ts gatehouseFlow). */
export const FLOW_USER_COUNT = CONNECTIONS + 8;
const PASSWORD = 'bench-flow-password';

/** Fixed identifiers (UUIDv4 layout), so a run's rows can be told apart from the development seed's. */
const uuid = (prefix: string, index: number) => `${prefix}-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;

export const FLOW_USERS: readonly FlowUser[] = Array.from({ length: FLOW_USER_COUNT }, (_, index) => ({
  id: uuid('f1000000', index),
  email: `flow-user-${index}@bench.example`,
  password: PASSWORD,
  name: `Flow User ${index}`,
  companyId: uuid('c1000000', index),
}));

/** Creates the flow users, their companies (in the development organization) and their memberships. */
export async function seedFlowUsers(storage: Storage, now: number): Promise<void> {
  const times = { createdAt: now, updatedAt: now };
  const passwordHash = await hashPassword(PASSWORD);
  for (const user of FLOW_USERS) {
    const subject = await storage.directory.createSubject({
      subjectType: 'company', subjectId: user.companyId, name: `${user.name}'s Company`, organizationId: DEVELOPMENT_SEED.organization.id, ...times,
    });
    const created = await storage.directory.createUser({ userId: user.id, email: user.email, name: user.name, locale: null, ...times });
    const membership = await storage.directory.putMembership(user.id, { subjectType: 'company', subjectId: user.companyId });
    if (subject !== 'created' || created !== 'created' || membership !== 'added') {
      throw new Error(`seeding flow user ${user.email}: company ${subject}, user ${created}, membership ${membership}`);
    }
    await storage.users.setPasswordHash(user.id, passwordHash);
  }
}
