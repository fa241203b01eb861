/**
 * The subject store (storage.ts `subjects`): companies and organizations and who administers them (SPEC decision 11).
 */
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SubjectRecord } from '../storage.ts';
import { type ContractBackend, userRecord, companyRecord } from './fixtures.ts';

export function subjectsContract({ withStorage }: ContractBackend): void {
  describe('subjects', () => {
    it('stores companies and organizations and finds them by type and id', withStorage(async (storage) => {
      const organization: SubjectRecord = { subjectType: 'organization', subjectId: randomUUID(), name: 'Nordlys Group', organizationId: null };
      const company = companyRecord({ organizationId: organization.subjectId });
      await storage.subjects.create(organization);
      await storage.subjects.create(company);
      assert.deepEqual(await storage.subjects.find('organization', organization.subjectId), organization);
      assert.deepEqual(await storage.subjects.find('company', company.subjectId), company);
      // A subject is identified by its type and id together (urn:<ns>:<type>:<uuid>).
      assert.equal(await storage.subjects.find('organization', company.subjectId), undefined);
      assert.equal(await storage.subjects.find('company', randomUUID()), undefined);
    }));

    it('addAdministrator is idempotent', withStorage(async (storage) => {
      const user = userRecord();
      const company = companyRecord();
      await storage.users.create(user);
      await storage.subjects.create(company);
      await storage.subjects.addAdministrator(user.userId, 'company', company.subjectId);
      await storage.subjects.addAdministrator(user.userId, 'company', company.subjectId);
      assert.deepEqual(await storage.subjects.listAdministeredBy(user.userId, 'company'), [company]);
    }));

    it('lists the subjects of one type a user administers, sorted by name (SPEC decision 11 subject picker)', withStorage(async (storage) => {
      const alice = userRecord();
      const bob = userRecord();
      await storage.users.create(alice);
      await storage.users.create(bob);
      const organization: SubjectRecord = { subjectType: 'organization', subjectId: randomUUID(), name: 'Nordlys Group', organizationId: null };
      const sverige = companyRecord({ name: 'Nordlys Sverige AB', organizationId: organization.subjectId });
      const danmark = companyRecord({ name: 'Nordlys Danmark ApS', organizationId: organization.subjectId });
      const acme = companyRecord({ name: 'Acme Norge AS' });
      const notAdministered = companyRecord({ name: 'Bob Only ApS' });
      for (const subject of [organization, sverige, danmark, acme, notAdministered]) await storage.subjects.create(subject);
      for (const subject of [sverige, organization, acme, danmark]) {
        await storage.subjects.addAdministrator(alice.userId, subject.subjectType, subject.subjectId);
      }
      await storage.subjects.addAdministrator(bob.userId, 'company', notAdministered.subjectId);

      assert.deepEqual(await storage.subjects.listAdministeredBy(alice.userId, 'company'), [acme, danmark, sverige]);
      assert.deepEqual(await storage.subjects.listAdministeredBy(alice.userId, 'organization'), [organization]);
      assert.deepEqual(await storage.subjects.listAdministeredBy(bob.userId, 'company'), [notAdministered]);
      assert.deepEqual(await storage.subjects.listAdministeredBy(bob.userId, 'organization'), []);
      assert.deepEqual(await storage.subjects.listAdministeredBy(randomUUID(), 'company'), []);
    }));
  });
}
