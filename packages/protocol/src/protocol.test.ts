import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  describeScope, formatScope, formatSubjectUrn, isLoopbackHostname, isLoopbackHttpUrl, isScopeName, isUrnNamespace, isUuid,
  parseScope, parseSubjectUrn, SCOPE_CATALOGUE, splitScope, subjectParameterName, subjectUrnMemberName,
} from './index.ts';

const COMPANY = '3f1c9a52-7d4e-4b8a-9c21-5e6f7a8b9c0d';

describe('subject URNs (SPEC §2), namespace first', () => {
  it('formats and parses urn:<ns>:company:<uuid> and urn:<ns>:organization:<uuid>', () => {
    assert.equal(formatSubjectUrn('pleo', 'company', COMPANY), `urn:pleo:company:${COMPANY}`);
    assert.deepEqual(parseSubjectUrn('pleo', `urn:pleo:company:${COMPANY}`), { subjectType: 'company', subjectId: COMPANY });
    assert.deepEqual(parseSubjectUrn('pleo', `urn:pleo:organization:${COMPANY}`), { subjectType: 'organization', subjectId: COMPANY });
  });

  it('refuses another namespace, an unknown type, an uppercase or malformed UUID, and trailing segments', () => {
    for (const urn of [
      `urn:gatehouse:company:${COMPANY}`, `urn:pleo:user:${COMPANY}`, `urn:pleo:company:${COMPANY.toUpperCase()}`,
      'urn:pleo:company:not-a-uuid', `urn:pleo:company:${COMPANY}:x`, 'urn:pleo:company', `urn:pleo::${COMPANY}`, '',
    ]) {
      assert.equal(parseSubjectUrn('pleo', urn), undefined, urn);
    }
  });

  it('names the authorize parameter and the response member of the namespace', () => {
    assert.equal(subjectParameterName('pleo'), 'urn_pleo_params_oauth_subject');
    assert.equal(subjectUrnMemberName('pleo'), 'urn:pleo:params:oauth:subject_urn');
    assert.equal(isUrnNamespace('pleo-eu'), true);
    assert.equal(isUrnNamespace('Pleo'), false);
    assert.equal(isUrnNamespace('-x'), false);
  });
});

describe('UUIDs', () => {
  it('accepts only the lowercase hyphenated form Gatehouse issues', () => {
    assert.equal(isUuid(COMPANY), true);
    assert.equal(isUuid(COMPANY.toUpperCase()), false);
    assert.equal(isUuid(COMPANY.replaceAll('-', '')), false);
    assert.equal(isUuid(`${COMPANY}\n`), false);
  });
});

describe('scope syntax (RFC 6749 §3.3)', () => {
  it('parseScope accepts single-space-delimited scope-tokens and drops duplicates', () => {
    assert.deepEqual(parseScope('users:read vendors:read users:read'), ['users:read', 'vendors:read']);
  });

  it('parseScope refuses empty values, doubled or edge spaces, and characters outside scope-token', () => {
    for (const value of ['', ' users:read', 'users:read ', 'users:read  vendors:read', 'users:"read"', 'users\\read', 'users:réad', 'a\tb']) {
      assert.equal(parseScope(value), undefined, JSON.stringify(value));
    }
  });

  it('splitScope takes a granted value leniently; formatScope joins with single spaces', () => {
    assert.deepEqual(splitScope('users:read  vendors:read users:read'), ['users:read', 'vendors:read']);
    assert.deepEqual(splitScope(undefined), []);
    assert.deepEqual(splitScope(''), []);
    assert.equal(formatScope(['a:b', 'c:d']), 'a:b c:d');
  });

  it('isScopeName accepts resource:permission names only (SPEC §3)', () => {
    assert.equal(isScopeName('export-jobs:write'), true);
    assert.equal(isScopeName('users'), false);
    assert.equal(isScopeName('Users:read'), false);
  });
});

describe('scope catalogue (SPEC §3 "Scopes")', () => {
  it('gives every catalogue scope a resource:permission name and one wording', () => {
    for (const [name, wording] of SCOPE_CATALOGUE) {
      assert.equal(isScopeName(name), true, name);
      assert.equal(describeScope(name), wording);
    }
    assert.equal(describeScope('users:read'), 'See users and employees');
    assert.equal(describeScope('unknown:scope'), 'unknown:scope');
  });
});

describe('loopback hosts (RFC 8252 §7.3, SPEC decision 4)', () => {
  it('tolerates http only on localhost, 127.0.0.1 and [::1]', () => {
    for (const host of ['localhost', '127.0.0.1', '[::1]']) {
      assert.equal(isLoopbackHostname(host), true, host);
      assert.equal(isLoopbackHttpUrl(new URL(`http://${host}:8080/cb`)), true, host);
      assert.equal(isLoopbackHttpUrl(new URL(`https://${host}/cb`)), false, host);
    }
    for (const url of ['http://localhost.example.com/', 'http://127.0.0.2/', 'http://[::2]/', 'http://example.com/']) {
      assert.equal(isLoopbackHttpUrl(new URL(url)), false, url);
    }
  });
});
