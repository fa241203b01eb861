import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatSubjectUrn, parseSubjectUrn, requireOrganizationSubject, resolveCompanyId, SubjectAccessError, subjectUrnMemberName } from './subject.ts';

const ORGANIZATION = 'a78f8460-ea41-4745-905b-660d706ebca4';
const DANMARK = 'd4290d20-6495-471e-bcac-5d9e0a4d844e';
const SVERIGE = '5f2524c1-992b-444a-88d7-caff1c1c01f7';
const ELSEWHERE = '0b8e7c1e-1111-4a4a-9b9b-123456789abc';
const inGroup = (companyId: string, organizationId: string): boolean =>
  organizationId === ORGANIZATION && (companyId === DANMARK || companyId === SVERIGE);

async function rejection(promise: Promise<unknown>): Promise<SubjectAccessError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SubjectAccessError);
    return error;
  }
  assert.fail('expected a SubjectAccessError');
}

describe('subject URNs (SPEC §2)', () => {
  test('format and parse round-trip, namespace first (urnNamespace, urn), with the namespace configurable', () => {
    const urn = formatSubjectUrn('pleo', 'company', DANMARK);
    assert.equal(urn, `urn:pleo:company:${DANMARK}`);
    assert.deepEqual(parseSubjectUrn('pleo', urn), { subjectType: 'company', subjectId: DANMARK });
    assert.equal(subjectUrnMemberName('pleo'), 'urn:pleo:params:oauth:subject_urn');
  });

  test('rejects other namespaces, types and malformed ids', () => {
    for (const urn of [
      `urn:other:company:${DANMARK}`,
      `urn:gatehouse:user:${DANMARK}`,
      'urn:gatehouse:company:not-a-uuid',
      `urn:gatehouse:company:${DANMARK.toUpperCase()}`,
      `urn:gatehouse:company:${DANMARK}:extra`,
      `urn:gatehouse:organization`,
    ]) {
      assert.equal(parseSubjectUrn('gatehouse', urn), undefined, urn);
    }
  });
});

describe('resolveCompanyId (company isolation)', () => {
  const company = { subjectType: 'company', subjectId: DANMARK } as const;
  const organization = { subjectType: 'organization', subjectId: ORGANIZATION } as const;

  test('a company token acts for its own company, named or not', async () => {
    assert.equal(await resolveCompanyId(company, undefined, inGroup), DANMARK);
    assert.equal(await resolveCompanyId(company, DANMARK, inGroup), DANMARK);
  });

  test('a company token cannot act for a sibling company', async () => {
    const error = await rejection(resolveCompanyId(company, SVERIGE, inGroup));
    assert.equal(error.status, 403);
    assert.equal(error.error, 'company_access_denied');
    assert.deepEqual(Object.keys(error.headers), []);
  });

  test('an organization token needs an explicit company of its organization', async () => {
    assert.equal(await resolveCompanyId(organization, SVERIGE, inGroup), SVERIGE);
    const missing = await rejection(resolveCompanyId(organization, undefined, inGroup));
    assert.equal(missing.status, 400);
    assert.equal(missing.error, 'company_id_required');
    const outside = await rejection(resolveCompanyId(organization, ELSEWHERE, inGroup));
    assert.equal(outside.status, 403);
    assert.equal(outside.error, 'company_access_denied');
  });

  test('the membership lookup may be async', async () => {
    assert.equal(await resolveCompanyId(organization, DANMARK, async (...args) => inGroup(...args)), DANMARK);
  });

  test('a malformed company_id is 400 before any lookup', async () => {
    const error = await rejection(resolveCompanyId(organization, "1' OR '1'='1", () => assert.fail('no lookup')));
    assert.equal(error.status, 400);
    assert.equal(error.error, 'invalid_company_id');
  });

  test('requireOrganizationSubject admits only organization tokens', () => {
    assert.equal(requireOrganizationSubject(organization), ORGANIZATION);
    assert.throws(() => requireOrganizationSubject(company), (error) => error instanceof SubjectAccessError && error.status === 403);
  });
});
