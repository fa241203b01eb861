import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDataStore } from './data-store.ts';
import { SEED_DATA } from './seed-data.ts';

describe('data store: employees by company', () => {
  it("lists exactly the company's employees, in seed order, for every company (and none for an unknown one)", () => {
    const store = createDataStore();
    for (const company of SEED_DATA.companies) {
      assert.deepEqual(store.listEmployees(company.id), SEED_DATA.employees.filter((employee) => employee.companyId === company.id));
    }
    assert.deepEqual(store.listEmployees('00000000-0000-4000-8000-000000000000'), []);
  });

  it('gives each caller its own array: changing one list changes neither the next nor another store', () => {
    const store = createDataStore();
    const companyId = SEED_DATA.employees[0]!.companyId;
    const first = store.listEmployees(companyId);
    const count = first.length;
    first.length = 0;
    assert.equal(store.listEmployees(companyId).length, count);
    assert.equal(createDataStore().listEmployees(companyId).length, count);
  });

  it('finds a company given by a slice of a longer string (a subject URN split at run time), as the token gives it', () => {
    const store = createDataStore();
    const companyId = SEED_DATA.employees[0]!.companyId;
    const urn = `urn:example:company:${companyId}`;
    const sliced = urn.split(':').at(-1)!;
    assert.deepEqual(store.listEmployees(sliced), store.listEmployees(companyId));
  });
});
